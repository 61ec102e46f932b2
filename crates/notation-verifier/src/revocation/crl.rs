//! CRLs (RFC 5280 §5) about one certificate, with the scope rules of §6.3.3.
//!
//! notation-core-go fetches the CRL of every distribution point URL the
//! certificate names (http:// only), needs every one of them to be valid and
//! fresh, and lets any "revoked" answer win. Stapled CRLs carry no trusted
//! URL, so here each CRL's own scope says which URLs it answers for:
//! - it must be issued and signed by the certificate's issuer (indirect
//!   CRLs, and distribution points that name a cRLIssuer, are not supported);
//! - its IssuingDistributionPoint (IDP), when it names a distribution point,
//!   answers for those URLs only; a CRL without IDP is a complete CRL of the
//!   issuer and answers for every URL;
//! - onlyContainsUserCerts / onlyContainsCACerts / onlyContainsAttributeCerts
//!   restrict it to that kind of certificate;
//! - onlySomeReasons (and the distribution point's own reasons) restrict the
//!   revocation reasons it answers for.
//!
//! Then:
//! - a revocation listed by any fresh covering CRL decides, whatever the
//!   others say;
//! - otherwise the certificate is good only when, for every distribution
//!   point URL, fresh complete covering CRLs together answer for every
//!   reason of that point;
//! - otherwise the status is unknown, and the detail says which URL was not
//!   answered for and which CRLs were out of scope and why.

use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

use super::{find_ext, invalid_after_signing, oid, to_chrono, CertStatus, RevocationMaterial};
use crate::cert::Certificate;

/// Every revocation reason (RFC 5280 ReasonFlags bits 1 to 8; bit 0 is
/// "unused").
const ALL_REASONS: u16 = 0x01FE;

/// One distribution point URL of the certificate.
struct Point {
    url: String,
    /// The reasons its distribution point answers for (all when it names none).
    reasons: u16,
    /// The distribution point names a cRLIssuer (an indirect CRL).
    indirect: bool,
}

/// Every fullName URL of the certificate's distribution points, as Go's
/// `x509.Certificate.CRLDistributionPoints` lists them.
fn distribution_points(cert: &Certificate) -> Result<Vec<Point>, String> {
    let Some(points) = cert.crl_distribution_points().map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in &points.0 {
        let Some(DistributionPointName::FullName(names)) = &p.distribution_point else {
            continue;
        };
        for url in uris(names) {
            out.push(Point {
                url,
                reasons: p.reasons.map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS),
                indirect: p.crl_issuer.is_some(),
            });
        }
    }
    Ok(out)
}

fn uris(names: &[GeneralName]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        })
        .collect()
}

struct ParsedCrl {
    list: CertificateList,
    number: Option<Vec<u8>>,
    delta_base: Option<Vec<u8>>,
    /// The IssuingDistributionPoint, decoded and as DER (a delta CRL must
    /// have exactly the scope of its base).
    idp: Option<(IssuingDistributionPoint, Vec<u8>)>,
    names_freshest: bool,
}

impl ParsedCrl {
    fn describe(&self) -> String {
        match &self.number {
            Some(n) => format!("CRL number {}", hex(n)),
            None => "a CRL without number".into(),
        }
    }

    /// The reasons this CRL answers for about `cert` at `point`, or why it
    /// does not cover it.
    fn covers(&self, cert: &Certificate, point: &Point) -> Result<u16, String> {
        let Some((idp, _)) = &self.idp else {
            // A complete CRL of the issuer answers for every point.
            return Ok(point.reasons);
        };
        if idp.indirect_crl {
            return Err(format!(
                "{} is an indirect CRL, which is not supported",
                self.describe()
            ));
        }
        if idp.only_contains_attribute_certs {
            return Err(format!(
                "{} covers only attribute certificates",
                self.describe()
            ));
        }
        if idp.only_contains_ca_certs && !cert.is_ca() {
            return Err(format!("{} covers only CA certificates", self.describe()));
        }
        if idp.only_contains_user_certs && cert.is_ca() {
            return Err(format!(
                "{} covers only end-entity certificates",
                self.describe()
            ));
        }
        match &idp.distribution_point {
            None => {}
            Some(DistributionPointName::FullName(names)) => {
                let urls = uris(names);
                if !urls.contains(&point.url) {
                    return Err(format!(
                        "{} is the CRL of distribution point {}, not of {}",
                        self.describe(),
                        if urls.is_empty() {
                            "(no URL)".into()
                        } else {
                            urls.join(", ")
                        },
                        point.url
                    ));
                }
            }
            Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                return Err(format!(
                "{} names its distribution point relative to its issuer, which is not supported",
                self.describe()
            ))
            }
        }
        let reasons = idp
            .only_some_reasons
            .map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS);
        match point.reasons & reasons {
            0 => Err(format!(
                "{} answers for none of the revocation reasons of {}",
                self.describe(),
                point.url
            )),
            common => Ok(common),
        }
    }

    fn idp_der(&self) -> Option<&[u8]> {
        self.idp.as_ref().map(|(_, der)| der.as_slice())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn uint_of(ext: &x509_cert::ext::Extension) -> Option<Vec<u8>> {
    der::asn1::Uint::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|u| u.as_bytes().to_vec())
}

/// Big-endian unsigned comparison of CRL numbers.
fn cmp_number(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |x: &[u8]| {
        x.iter()
            .skip_while(|&&b| b == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

/// Parses a CRL issued by `issuer` and checks its signature, freshness and
/// critical extensions; `Ok(None)` when the CRL belongs to another issuer.
fn parse_crl(
    der: &[u8],
    issuer: &Certificate,
    time: DateTime<Utc>,
) -> Result<Option<ParsedCrl>, String> {
    let list = CertificateList::from_der(der).map_err(|e| format!("malformed CRL: {e}"))?;
    let tbs = &list.tbs_cert_list;
    if tbs.issuer.to_der().map_err(|e| e.to_string())? != issuer.raw_subject() {
        return Ok(None);
    }
    let tbs_der = tbs.to_der().map_err(|e| e.to_string())?;
    let signature = list
        .signature
        .as_bytes()
        .ok_or("CRL signature is not octet aligned")?;
    issuer
        .key()
        .map_err(|e| e.to_string())?
        .verify_x509_signature(&list.signature_algorithm, &tbs_der, signature)
        .map_err(|e| format!("the CRL of \"{}\" does not verify: {e}", issuer.subject()))?;
    if let Ok(Some(ku)) = issuer.key_usage() {
        if !ku.value.crl_sign {
            return Err(format!(
                "\"{}\" may not sign CRLs (no cRLSign key usage)",
                issuer.subject()
            ));
        }
    }
    let next = tbs
        .next_update
        .as_ref()
        .ok_or("the CRL has no nextUpdate")?;
    let next = to_chrono(next.to_unix_duration());
    if time > next {
        return Err(format!("the CRL expired at {next} (stale)"));
    }
    for ext in tbs.crl_extensions.as_deref().unwrap_or(&[]) {
        let tolerated = [
            oid::CRL_NUMBER,
            oid::DELTA_CRL_INDICATOR,
            oid::ISSUING_DISTRIBUTION_POINT,
            oid::FRESHEST_CRL,
            oid::AUTHORITY_KEY_ID,
        ];
        if ext.critical && !tolerated.contains(&ext.extn_id) {
            return Err(format!(
                "the CRL has an unsupported critical extension {}",
                ext.extn_id
            ));
        }
    }
    // x509-cert 0.2 gives IssuingDistributionPoint the wrong associated
    // OID, so the extension is found by its own (2.5.29.28).
    let idp = match find_ext(&tbs.crl_extensions, oid::ISSUING_DISTRIBUTION_POINT) {
        Some(ext) => {
            let bytes = ext.extn_value.as_bytes();
            let idp = IssuingDistributionPoint::from_der(bytes)
                .map_err(|e| format!("the CRL's IssuingDistributionPoint is malformed: {e}"))?;
            Some((idp, bytes.to_vec()))
        }
        None => None,
    };
    let number = find_ext(&tbs.crl_extensions, oid::CRL_NUMBER).and_then(uint_of);
    let delta_base = find_ext(&tbs.crl_extensions, oid::DELTA_CRL_INDICATOR).and_then(uint_of);
    let names_freshest = find_ext(&tbs.crl_extensions, oid::FRESHEST_CRL).is_some();
    Ok(Some(ParsedCrl {
        list,
        number,
        delta_base,
        idp,
        names_freshest,
    }))
}

pub(super) fn status(
    cert: &Certificate,
    issuer: &Certificate,
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let points = match distribution_points(cert) {
        Ok(points) => points,
        Err(e) => return CertStatus::Unknown(e),
    };
    if let Some(p) = points.iter().find(|p| p.indirect) {
        return CertStatus::Unknown(format!(
            "its CRL distribution point {} names a separate CRL issuer, which is not supported",
            p.url
        ));
    }
    if let Some(p) = points.iter().find(|p| !p.url.starts_with("http://")) {
        return CertStatus::Unknown(format!(
            "its CRL distribution point {} is not an http:// URL (notation-core-go fetches only those)",
            p.url
        ));
    }
    let mut problems = Vec::new();
    // Each CRL with the reasons it answers for at each point (0: not there).
    let (mut bases, mut deltas) = (Vec::new(), Vec::new());
    for der in &material.crls {
        match parse_crl(der, issuer, time) {
            Ok(Some(crl)) => {
                let mut scope = Vec::with_capacity(points.len());
                let mut why_not = None;
                for p in &points {
                    match crl.covers(cert, p) {
                        Ok(reasons) => scope.push(reasons),
                        Err(why) => {
                            why_not.get_or_insert(why);
                            scope.push(0);
                        }
                    }
                }
                if scope.iter().all(|&r| r == 0) {
                    problems.extend(why_not);
                } else if crl.delta_base.is_some() {
                    deltas.push((crl, scope));
                } else {
                    bases.push((crl, scope));
                }
            }
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }

    // Any covering CRL that lists the certificate decides; a base CRL is
    // read together with its delta, so that a delta's removeFromCRL can
    // lift a certificateHold of the base.
    let cert_names_freshest = cert
        .inner()
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|e| e.extn_id == oid::FRESHEST_CRL);
    let mut answered = vec![0u16; points.len()];
    for (base, scope) in &bases {
        let delta = fitting_delta(base, &deltas);
        let mut lists = vec![base];
        lists.extend(delta);
        match entries_status(cert, &lists, authentic_signing_time) {
            CertStatus::Revoked => return CertStatus::Revoked,
            CertStatus::Unknown(d) => problems.push(d),
            CertStatus::Good if (base.names_freshest || cert_names_freshest) && delta.is_none() => {
                problems.push(format!(
                    "{} needs a delta CRL of the same scope, and none that fits was supplied",
                    base.describe()
                ));
            }
            CertStatus::Good => {
                for (a, r) in answered.iter_mut().zip(scope) {
                    *a |= r;
                }
            }
        }
    }
    for (delta, _) in &deltas {
        if entries_status(cert, &[delta], authentic_signing_time) == CertStatus::Revoked {
            return CertStatus::Revoked;
        }
    }
    let unanswered = points
        .iter()
        .zip(&answered)
        .find(|(p, a)| **a & p.reasons != p.reasons);
    let Some((point, answered)) = unanswered else {
        return CertStatus::Good;
    };
    let mut detail = if *answered == 0 {
        format!("no fresh CRL that covers {} was supplied", point.url)
    } else {
        format!(
            "the fresh CRLs that cover {} do not answer for every revocation reason",
            point.url
        )
    };
    if !problems.is_empty() {
        detail.push_str(&format!(" ({})", problems.join("; ")));
    }
    CertStatus::Unknown(detail)
}

/// A delta CRL of exactly the base's scope, newer than the base and built
/// on it or an older base (RFC 5280 §5.2.4).
fn fitting_delta<'a>(
    base: &ParsedCrl,
    deltas: &'a [(ParsedCrl, Vec<u16>)],
) -> Option<&'a ParsedCrl> {
    let base_number = base.number.clone().unwrap_or_default();
    deltas.iter().map(|(d, _)| d).find(|d| {
        d.idp_der() == base.idp_der()
            && d.number
                .as_deref()
                .is_some_and(|n| cmp_number(n, &base_number).is_gt())
            && d.delta_base
                .as_deref()
                .is_some_and(|b| cmp_number(b, &base_number).is_le())
    })
}

/// What the entries of `lists` (a base and its delta, or one CRL) say about
/// `cert`: certificateHold and removeFromCRL are decided by the most recent
/// such entry; any other listed reason revokes.
fn entries_status(
    cert: &Certificate,
    lists: &[&ParsedCrl],
    authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let mut hold: Option<(DateTime<Utc>, bool)> = None;
    for list in lists {
        for entry in list
            .list
            .tbs_cert_list
            .revoked_certificates
            .as_deref()
            .unwrap_or(&[])
        {
            if entry.serial_number.as_bytes() != cert.serial_number() {
                continue;
            }
            for ext in entry.crl_entry_extensions.as_deref().unwrap_or(&[]) {
                if ext.critical
                    && ext.extn_id != oid::REASON_CODE
                    && ext.extn_id != oid::INVALIDITY_DATE
                {
                    return CertStatus::Unknown(format!(
                        "a CRL entry has an unsupported critical extension {}",
                        ext.extn_id
                    ));
                }
            }
            if invalid_after_signing(&entry.crl_entry_extensions, authentic_signing_time) {
                continue;
            }
            let reason = find_ext(&entry.crl_entry_extensions, oid::REASON_CODE)
                .and_then(|e| der::asn1::Any::from_der(e.extn_value.as_bytes()).ok())
                .and_then(|a| a.value().first().copied());
            let when = to_chrono(entry.revocation_date.to_unix_duration());
            match reason {
                // certificateHold (6) revokes, removeFromCRL (8) lifts it.
                Some(6) | Some(8) => {
                    if hold.is_none_or(|(t, _)| when >= t) {
                        hold = Some((when, reason == Some(6)));
                    }
                }
                _ => return CertStatus::Revoked,
            }
        }
    }
    match hold {
        Some((_, true)) => CertStatus::Revoked,
        _ => CertStatus::Good,
    }
}
