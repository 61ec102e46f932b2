//! Revocation status from caller-supplied material (spec digest §j): CRLs
//! and OCSP responses stapled in the signature bundle or fetched by `vns`.
//! Nothing is fetched here; material that is missing, stale, out of scope
//! or does not verify makes the status unknown.
//!
//! - [`ocsp`]: OCSP responses (RFC 6960), asked first, as notation-core-go does;
//! - [`crl`]: CRLs (RFC 5280 §5, with the scope rules of §6.3.3), when OCSP
//!   gives no answer.

mod crl;
mod ocsp;

use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;
use der::Decode;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extensions;
use x509_ocsp::{BasicOcspResponse, OcspResponse};

use crate::cert::Certificate;

pub use ocsp::{ocsp_decides, ocsp_request};

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

/// What an OCSP response or CRL states, without its times: for OCSP the
/// status of each serial it answers for, for a CRL the revoked serials. Two
/// fetches that state the same thing compare equal even when they were
/// produced at different times, so a writer can tell "new material" from
/// "the same answer, signed again". `None` if it does not parse.
pub fn statement(der: &[u8], is_crl: bool) -> Option<String> {
    if is_crl {
        let list = CertificateList::from_der(der).ok()?;
        let mut serials: Vec<String> = list
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| hex::encode(r.serial_number.as_bytes()))
            .collect();
        serials.sort();
        return Some(format!("crl revoked=[{}]", serials.join(",")));
    }
    let response = OcspResponse::from_der(der).ok()?;
    let basic = BasicOcspResponse::from_der(response.response_bytes?.response.as_bytes()).ok()?;
    let mut answers: Vec<String> = basic
        .tbs_response_data
        .responses
        .iter()
        .map(|r| {
            let status = match r.cert_status {
                x509_ocsp::CertStatus::Good(_) => "good",
                x509_ocsp::CertStatus::Revoked(_) => "revoked",
                x509_ocsp::CertStatus::Unknown(_) => "unknown",
            };
            format!(
                "{}={status}",
                hex::encode(r.cert_id.serial_number.as_bytes())
            )
        })
        .collect();
    answers.sort();
    Some(format!("ocsp [{}]", answers.join(",")))
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
    // A certificate that names no source cannot be revoked (notation-core-go
    // answers "non-revokable").
    if ocsp_urls.is_empty() && crl_urls.is_empty() {
        return CertStatus::Good;
    }
    let mut details = Vec::new();
    if !ocsp_urls.is_empty() {
        // notation-core-go asks only http:// responders: a certificate that
        // names no such responder can get no OCSP answer there, so none
        // stapled counts here either.
        if !ocsp_urls.iter().any(|u| {
            u.get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        }) {
            details.push(
                "OCSP: it names no http:// responder (notation-core-go asks only those)".into(),
            );
        } else {
            match ocsp::status(cert, issuer, material, time, authentic_signing_time) {
                CertStatus::Unknown(d) => details.push(format!("OCSP: {d}")),
                decided => return decided,
            }
        }
    }
    if !crl_urls.is_empty() {
        match crl::status(cert, issuer, material, time, authentic_signing_time) {
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

pub(super) fn gtime(t: &der::asn1::GeneralizedTime) -> DateTime<Utc> {
    to_chrono(t.to_unix_duration())
}

pub(super) fn to_chrono(d: std::time::Duration) -> DateTime<Utc> {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn find_ext(
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
pub(super) fn invalid_after_signing(
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
