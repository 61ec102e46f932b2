//! Revocation status from caller-supplied material (spec digest §j).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use chrono::{DateTime, Utc};

use crate::cert::Certificate;

/// DER CRLs and OCSP responses supplied by the caller (stapled in the bundle,
/// or fetched by `vns`). Nothing is fetched here.
#[derive(Debug, Clone, Default)]
pub struct RevocationMaterial {
    pub crls: Vec<Vec<u8>>,
    pub ocsp_responses: Vec<Vec<u8>>,
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

/// Checks every certificate of `chain` except the root: a certificate that
/// names no OCSP responder and no CRL distribution point cannot be revoked;
/// one that does needs material from the caller, else its status is unknown.
/// Any revoked certificate decides; otherwise any unknown one does.
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
    let mut unknown = None;
    for (cert, issuer) in chain.iter().zip(chain.iter().skip(1)) {
        match check_certificate(cert, issuer, material, time, authentic_signing_time) {
            CertStatus::Good => {}
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

enum CertStatus {
    Good,
    Unknown(String),
}

fn check_certificate(
    cert: &Certificate,
    _issuer: &Certificate,
    material: &RevocationMaterial,
    _time: DateTime<Utc>,
    _authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let ocsp = cert.ocsp_urls();
    let crl = cert.crl_urls();
    if ocsp.is_empty() && crl.is_empty() {
        return CertStatus::Good;
    }
    if material.crls.is_empty() && material.ocsp_responses.is_empty() {
        let mut sources: Vec<String> = ocsp;
        sources.extend(crl);
        return CertStatus::Unknown(format!(
            "no OCSP response or CRL was supplied for it (it names {})",
            sources.join(", ")
        ));
    }
    CertStatus::Unknown("validation of stapled OCSP responses and CRLs is not available yet".into())
}
