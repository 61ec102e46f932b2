//! CRLs (RFC 5280 §5) about one certificate, with the scope rules of §6.3.3.
//!
//! A CRL answers for a certificate only when its scope covers it:
//! - issued and signed by the certificate's issuer (indirect CRLs, and
//!   distribution points that name a cRLIssuer, are not supported);
//! - its IssuingDistributionPoint (IDP), when it names a distribution point,
//!   names one of the URLs of the certificate's distribution point; a CRL
//!   without IDP is a complete CRL of the issuer and covers every point;
//! - onlyContainsUserCerts / onlyContainsCACerts / onlyContainsAttributeCerts
//!   restrict it to that kind of certificate;
//! - onlySomeReasons (and the distribution point's own reasons) restrict the
//!   revocation reasons it answers for.
//!
//! Then, for a stapled set of CRLs:
//! - a revocation listed by any fresh covering CRL decides, whatever the
//!   others say (notation-core-go fetches every distribution point of the
//!   certificate and lets any "revoked" answer win);
//! - otherwise the certificate is good only when fresh, complete covering
//!   CRLs together answer for every reason (one full CRL is enough, as
//!   notation-core-go succeeds when one distribution point answers);
//! - otherwise the status is unknown, and the detail says which CRLs were
//!   out of scope and why.

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

/// One distribution point of the certificate that this verifier can match.
struct Point {
    urls: Vec<String>,
    /// The reasons this point answers for (all when it names none).
    reasons: u16,
}

/// The certificate's distribution points without a cRLIssuer (an indirect
/// CRL issuer is not supported: such a point can never be covered).
fn distribution_points(cert: &Certificate) -> Result<Vec<Point>, String> {
    let Some(points) = cert.crl_distribution_points().map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    Ok(points
        .0
        .iter()
        .filter(|p| p.crl_issuer.is_none())
        .map(|p| Point {
            urls: match &p.distribution_point {
                Some(DistributionPointName::FullName(names)) => uris(names),
                _ => Vec::new(),
            },
            reasons: p.reasons.map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS),
        })
        .collect())
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

    /// The reasons this CRL answers for about `cert`, or why it does not
    /// cover it at all.
    fn covers(&self, cert: &Certificate, points: &[Point]) -> Result<u16, String> {
        let Some((idp, _)) = &self.idp else {
            // A complete CRL of the issuer covers every distribution point.
            return Ok(points.iter().fold(0, |m, p| m | p.reasons));
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
        let idp_reasons = idp
            .only_some_reasons
            .map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS);
        let idp_urls = match &idp.distribution_point {
            None => None,
            Some(DistributionPointName::FullName(names)) => Some(uris(names)),
            Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => Some(Vec::new()),
        };
        let reasons = points
            .iter()
            .filter(|p| match &idp_urls {
                None => true,
                Some(urls) => p.urls.iter().any(|u| urls.contains(u)),
            })
            .fold(0, |m, p| m | (p.reasons & idp_reasons));
        match (&idp_urls, reasons) {
            (Some(urls), 0) if !points.iter().any(|p| p.urls.iter().any(|u| urls.contains(u))) => {
                Err(format!(
                    "{} is the CRL of distribution point {}, not of the certificate's ({})",
                    self.describe(),
                    list_or_none(urls),
                    list_or_none(&points.iter().flat_map(|p| p.urls.clone()).collect::<Vec<_>>())
                ))
            }
            (_, 0) => Err(format!(
                "{} answers for none of the revocation reasons of the certificate's distribution points",
                self.describe()
            )),
            (_, reasons) => Ok(reasons),
        }
    }

    fn idp_der(&self) -> Option<&[u8]> {
        self.idp.as_ref().map(|(_, der)| der.as_slice())
    }
}

fn list_or_none(urls: &[String]) -> String {
    if urls.is_empty() {
        "(no URL)".into()
    } else {
        urls.join(", ")
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
    let points =
        match distribution_points(cert) {
            Ok(points) if !points.is_empty() => points,
            Ok(_) => return CertStatus::Unknown(
                "its CRL distribution points name a separate CRL issuer, which is not supported"
                    .into(),
            ),
            Err(e) => return CertStatus::Unknown(e),
        };
    let mut problems = Vec::new();
    let (mut bases, mut deltas) = (Vec::new(), Vec::new());
    for der in &material.crls {
        match parse_crl(der, issuer, time) {
            Ok(Some(crl)) => match crl.covers(cert, &points) {
                Ok(reasons) if crl.delta_base.is_some() => deltas.push((crl, reasons)),
                Ok(reasons) => bases.push((crl, reasons)),
                Err(why) => problems.push(why),
            },
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
    let mut answered = 0u16;
    for (base, reasons) in &bases {
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
            CertStatus::Good => answered |= reasons,
        }
    }
    for (delta, _) in &deltas {
        if entries_status(cert, &[delta], authentic_signing_time) == CertStatus::Revoked {
            return CertStatus::Revoked;
        }
    }
    if answered & ALL_REASONS == ALL_REASONS {
        return CertStatus::Good;
    }
    let mut detail = if bases.is_empty() {
        "no fresh CRL that covers it was supplied".to_string()
    } else {
        "the fresh CRLs that cover it do not answer for every revocation reason".to_string()
    };
    if !problems.is_empty() {
        detail.push_str(&format!(" ({})", problems.join("; ")));
    }
    CertStatus::Unknown(detail)
}

/// A delta CRL of exactly the base's scope, newer than the base and built
/// on it or an older base (RFC 5280 §5.2.4).
fn fitting_delta<'a>(base: &ParsedCrl, deltas: &'a [(ParsedCrl, u16)]) -> Option<&'a ParsedCrl> {
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
