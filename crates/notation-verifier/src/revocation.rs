//! Revocation status from caller-supplied material (spec digest §j): CRLs
//! and OCSP responses stapled in the signature bundle or fetched by `vns`.
//! Nothing is fetched here; material that is missing, stale or does not
//! verify makes the status unknown.

use chrono::{DateTime, Duration, Utc};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extensions;
use x509_ocsp::{BasicOcspResponse, CertStatus as OcspStatus, OcspResponse, OcspResponseStatus};

use crate::cert::{eku, Certificate};
use crate::crypto::HashAlgorithm;

/// DER CRLs and OCSP responses supplied by the caller (stapled in the bundle,
/// or fetched by `vns`). Nothing is fetched here.
#[derive(Debug, Clone, Default)]
pub struct RevocationMaterial {
    pub crls: Vec<Vec<u8>>,
    pub ocsp_responses: Vec<Vec<u8>>,
}

/// When an OCSP response or CRL stops being fresh (its nextUpdate), for
/// warning before stapled material goes stale. `None` if it does not parse
/// or has no nextUpdate.
pub fn next_update(der: &[u8], is_crl: bool) -> Option<DateTime<Utc>> {
    if is_crl {
        let list = CertificateList::from_der(der).ok()?;
        return list
            .tbs_cert_list
            .next_update
            .map(|t| to_chrono(t.to_unix_duration()));
    }
    let response = OcspResponse::from_der(der).ok()?;
    let basic = BasicOcspResponse::from_der(response.response_bytes?.response.as_bytes()).ok()?;
    basic
        .tbs_response_data
        .responses
        .iter()
        .filter_map(|r| r.next_update.as_ref().map(|t| gtime(&t.0)))
        .min()
}

/// Whether one DER OCSP response decides the status of `cert` (issued by
/// `issuer`) at `time`: it verifies, is fresh, is about this certificate
/// and says good or revoked. Fetchers use it to skip CRLs, as
/// notation-core-go does when OCSP answers.
pub fn ocsp_decides(
    der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    time: DateTime<Utc>,
) -> bool {
    matches!(
        ocsp_answer(der, cert, issuer, time, None),
        Ok(Some(CertStatus::Good | CertStatus::Revoked))
    )
}

/// A DER OCSP request for `cert` (CertID hashed with SHA-1, as
/// notation-core-go sends it), for callers that fetch material.
pub fn ocsp_request(cert: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, String> {
    use sha1::Digest;
    let key = issuer.public_key_bytes();
    let cert_id = x509_ocsp::CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: oid::SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: der::asn1::OctetString::new(
            sha1::Sha1::digest(issuer.raw_subject()).to_vec(),
        )
        .map_err(|e| e.to_string())?,
        issuer_key_hash: der::asn1::OctetString::new(sha1::Sha1::digest(key).to_vec())
            .map_err(|e| e.to_string())?,
        serial_number: cert.inner().tbs_certificate.serial_number.clone(),
    };
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    request.to_der().map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    CodeSigning,
    Timestamping,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Every non-root certificate is good or names no revocation source.
    Good,
    Revoked {
        subject: String,
    },
    Unknown {
        subject: String,
        detail: String,
    },
}

mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
    pub const INVALIDITY_DATE: Oid = Oid::new_unwrap("2.5.29.24");
    pub const REASON_CODE: Oid = Oid::new_unwrap("2.5.29.21");
    pub const CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
    pub const DELTA_CRL_INDICATOR: Oid = Oid::new_unwrap("2.5.29.27");
    pub const ISSUING_DISTRIBUTION_POINT: Oid = Oid::new_unwrap("2.5.29.28");
    pub const FRESHEST_CRL: Oid = Oid::new_unwrap("2.5.29.46");
    pub const AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
}

/// A stapled OCSP response without nextUpdate is trusted for this long after
/// its thisUpdate (an online check would ask again; a staple cannot).
pub const MAX_OCSP_AGE_WITHOUT_NEXT_UPDATE: i64 = 7;

/// Checks every certificate of `chain` except the root: a certificate that
/// names no OCSP responder and no CRL distribution point cannot be revoked;
/// one that does needs material from the caller (OCSP first, then CRL when
/// OCSP gives no answer, as notation-core-go does). Any revoked certificate
/// decides; otherwise any unknown one does.
pub fn check_chain(
    chain: &[Certificate],
    purpose: Purpose,
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> RevocationStatus {
    let shape = match purpose {
        Purpose::CodeSigning => crate::chain::validate_code_signing_chain(chain),
        Purpose::Timestamping => crate::chain::validate_timestamping_chain(chain),
    };
    if let Err(e) = shape {
        let subject = chain.first().map(Certificate::subject).unwrap_or_default();
        return RevocationStatus::Unknown {
            subject,
            detail: format!("invalid chain: expected chain to be correct and complete: {e}"),
        };
    }
    check_validated_chain(chain, material, time, authentic_signing_time)
}

/// [`check_chain`] for a chain the caller has just validated with the same
/// shape rules (the verifier's integrity step): notation-core-go validates
/// it again here, which cannot change the outcome, only cost signature checks.
pub fn check_validated_chain(
    chain: &[Certificate],
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> RevocationStatus {
    let mut unknown = None;
    for (cert, issuer) in chain.iter().zip(chain.iter().skip(1)) {
        match check_certificate(cert, issuer, material, time, authentic_signing_time) {
            CertStatus::Good => {}
            CertStatus::Revoked => {
                return RevocationStatus::Revoked {
                    subject: cert.subject(),
                }
            }
            CertStatus::Unknown(detail) => {
                unknown.get_or_insert(RevocationStatus::Unknown {
                    subject: cert.subject(),
                    detail,
                });
            }
        }
    }
    unknown.unwrap_or(RevocationStatus::Good)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CertStatus {
    Good,
    Revoked,
    Unknown(String),
}

fn check_certificate(
    cert: &Certificate,
    issuer: &Certificate,
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let ocsp_urls = cert.ocsp_urls();
    let crl_urls = cert.crl_urls();
    if ocsp_urls.is_empty() && crl_urls.is_empty() {
        return CertStatus::Good;
    }
    let mut details = Vec::new();
    if !ocsp_urls.is_empty() {
        match ocsp_status(cert, issuer, material, time, authentic_signing_time) {
            CertStatus::Unknown(d) => details.push(format!("OCSP: {d}")),
            decided => return decided,
        }
    }
    if !crl_urls.is_empty() {
        match crl_status(cert, issuer, material, time, authentic_signing_time) {
            CertStatus::Unknown(d) => details.push(format!("CRL: {d}")),
            decided => return decided,
        }
    }
    let mut sources = ocsp_urls;
    sources.extend(crl_urls);
    CertStatus::Unknown(format!(
        "{} (it names {}; staple fresh material with `vns attach`)",
        details.join("; "),
        sources.join(", ")
    ))
}

fn gtime(t: &der::asn1::GeneralizedTime) -> DateTime<Utc> {
    to_chrono(t.to_unix_duration())
}

fn to_chrono(d: std::time::Duration) -> DateTime<Utc> {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn find_ext(
    exts: &Option<Extensions>,
    wanted: ObjectIdentifier,
) -> Option<&x509_cert::ext::Extension> {
    exts.as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|e| e.extn_id == wanted)
}

/// A revocation that happened only after the (authentic) signing time does
/// not invalidate a signingAuthority signature (invalidityDate rule).
fn invalid_after_signing(
    exts: &Option<Extensions>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> bool {
    let (Some(signed), Some(ext)) = (authentic_signing_time, find_ext(exts, oid::INVALIDITY_DATE))
    else {
        return false;
    };
    match der::asn1::GeneralizedTime::from_der(ext.extn_value.as_bytes()) {
        Ok(t) => signed < gtime(&t),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------- OCSP

fn ocsp_status(
    cert: &Certificate,
    issuer: &Certificate,
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let mut last = "no OCSP response was supplied for it".to_string();
    for der in &material.ocsp_responses {
        match ocsp_answer(der, cert, issuer, time, authentic_signing_time) {
            Ok(Some(status)) => return status,
            Ok(None) => {}
            Err(e) => last = e,
        }
    }
    CertStatus::Unknown(last)
}

/// `Ok(None)`: the response is about another certificate.
fn ocsp_answer(
    der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> Result<Option<CertStatus>, String> {
    let response =
        OcspResponse::from_der(der).map_err(|e| format!("malformed OCSP response: {e}"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!(
            "OCSP responder answered {:?}",
            response.response_status
        ));
    }
    let bytes = response
        .response_bytes
        .ok_or("OCSP response without a body")?;
    if bytes.response_type != oid::OCSP_BASIC {
        return Err(format!(
            "unsupported OCSP response type {}",
            bytes.response_type
        ));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("malformed basic OCSP response: {e}"))?;
    let Some(single) = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| cert_id_matches(&r.cert_id, cert, issuer))
    else {
        return Ok(None);
    };
    verify_ocsp_signature(&basic, issuer, time)?;
    let this_update = gtime(&single.this_update.0);
    if this_update > time + Duration::minutes(5) {
        return Err(format!(
            "the OCSP response is from the future ({this_update})"
        ));
    }
    match &single.next_update {
        Some(next) if gtime(&next.0) < time => {
            return Err(format!(
                "the OCSP response expired at {} (stale)",
                gtime(&next.0)
            ));
        }
        None if this_update + Duration::days(MAX_OCSP_AGE_WITHOUT_NEXT_UPDATE) < time => {
            return Err(format!("the OCSP response of {this_update} has no nextUpdate and is older than {MAX_OCSP_AGE_WITHOUT_NEXT_UPDATE} days"));
        }
        _ => {}
    }
    Ok(Some(match &single.cert_status {
        OcspStatus::Good(_) => CertStatus::Good,
        OcspStatus::Revoked(_)
            if invalid_after_signing(&single.single_extensions, authentic_signing_time) =>
        {
            CertStatus::Good
        }
        OcspStatus::Revoked(_) => CertStatus::Revoked,
        OcspStatus::Unknown(_) => {
            CertStatus::Unknown("the OCSP responder does not know the certificate".into())
        }
    }))
}

fn cert_id_matches(id: &x509_ocsp::CertId, cert: &Certificate, issuer: &Certificate) -> bool {
    if id.serial_number.as_bytes() != cert.serial_number() {
        return false;
    }
    let name = issuer.raw_subject();
    let key = issuer.public_key_bytes();
    let (name_hash, key_hash) = if id.hash_algorithm.oid == oid::SHA1 {
        use sha1::Digest;
        (
            sha1::Sha1::digest(name).to_vec(),
            sha1::Sha1::digest(key).to_vec(),
        )
    } else if let Some(h) = HashAlgorithm::from_oid(&id.hash_algorithm.oid) {
        (h.digest(name), h.digest(key))
    } else {
        return false;
    };
    id.issuer_name_hash.as_bytes() == name_hash && id.issuer_key_hash.as_bytes() == key_hash
}

/// Signed by the issuer itself, or by a responder certificate in the
/// response that the issuer issued for OCSP signing and that is valid now.
fn verify_ocsp_signature(
    basic: &BasicOcspResponse,
    issuer: &Certificate,
    time: DateTime<Utc>,
) -> Result<(), String> {
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| e.to_string())?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or("OCSP signature is not octet aligned")?;
    let check = |signer: &Certificate| {
        signer
            .key()
            .map_err(|e| e.to_string())?
            .verify_x509_signature(&basic.signature_algorithm, &tbs, signature)
            .map_err(|e| e.to_string())
    };
    if check(issuer).is_ok() {
        return Ok(());
    }
    for responder in basic.certs.as_deref().unwrap_or(&[]) {
        let Ok(der) = responder.to_der() else {
            continue;
        };
        let Ok(responder) = Certificate::from_der(&der) else {
            continue;
        };
        let delegated = responder.signature_verifies_with(issuer).is_ok()
            && responder.raw_issuer() == issuer.raw_subject()
            && responder.is_valid_at(time)
            && matches!(responder.extended_key_usage(), Ok(Some(e)) if e.value.contains(&eku::OCSP_SIGNING));
        if delegated && check(&responder).is_ok() {
            return Ok(());
        }
    }
    Err("the OCSP response is not signed by the issuer or a responder it delegated".into())
}

// ---------------------------------------------------------------- CRL

struct ParsedCrl {
    list: CertificateList,
    number: Option<Vec<u8>>,
    delta_base: Option<Vec<u8>>,
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
    let number = find_ext(&tbs.crl_extensions, oid::CRL_NUMBER).and_then(uint_of);
    let delta_base = find_ext(&tbs.crl_extensions, oid::DELTA_CRL_INDICATOR).and_then(uint_of);
    Ok(Some(ParsedCrl {
        list,
        number,
        delta_base,
    }))
}

fn crl_status(
    cert: &Certificate,
    issuer: &Certificate,
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let mut bases = Vec::new();
    let mut deltas = Vec::new();
    let mut last_error = "no CRL was supplied for it".to_string();
    for der in &material.crls {
        match parse_crl(der, issuer, time) {
            Ok(Some(crl)) if crl.delta_base.is_some() => deltas.push(crl),
            Ok(Some(crl)) => bases.push(crl),
            Ok(None) => {}
            Err(e) => last_error = e,
        }
    }
    // The freshest base CRL decides.
    let Some(base) = bases.into_iter().max_by(|a, b| {
        cmp_number(
            a.number.as_deref().unwrap_or(&[]),
            b.number.as_deref().unwrap_or(&[]),
        )
    }) else {
        return CertStatus::Unknown(last_error);
    };
    let base_wants_delta =
        find_ext(&base.list.tbs_cert_list.crl_extensions, oid::FRESHEST_CRL).is_some();
    let cert_wants_delta = cert
        .inner()
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|e| e.extn_id == oid::FRESHEST_CRL);
    if cert_wants_delta && !base_wants_delta {
        return CertStatus::Unknown(
            "the certificate names a delta CRL but its base CRL does not".into(),
        );
    }
    let mut lists = vec![&base];
    if base_wants_delta {
        let base_number = base.number.clone().unwrap_or_default();
        let delta = deltas.iter().find(|d| {
            d.number
                .as_deref()
                .is_some_and(|n| cmp_number(n, &base_number).is_gt())
                && d.delta_base
                    .as_deref()
                    .is_some_and(|b| cmp_number(b, &base_number).is_le())
        });
        match delta {
            Some(d) => lists.push(d),
            None => {
                return CertStatus::Unknown(
                    "the base CRL requires a delta CRL, and none that fits was supplied".into(),
                )
            }
        }
    }
    // Matching entries of base and delta: hold / removeFromCRL are decided by
    // the most recent such entry; any other reason revokes.
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
