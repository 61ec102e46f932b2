//! Certificate chain shape rules (spec digest §f) and path building for TSA
//! certificates (§i.2).
//!
//! The code-signing and timestamping chains share the shape rules (ordered,
//! leaf first, each certificate issued by the next, ending in a self-signed
//! root) and differ in the leaf and CA profiles, which are tables of checks
//! below. No validity times are checked here.

use chrono::{DateTime, Utc};

use crate::cert::{eku, CertError, Certificate};
use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ChainError {
    #[error("certificate chain must contain at least one certificate")]
    Empty,
    #[error("certificate chain has {0} certificates, more than the limit of {1}")]
    TooLong(usize, usize),
    #[error("{0}")]
    Invalid(String),
}

/// Per-request memory of the certificate work, owned by the caller (a
/// [`crate::verify::Verifier`]); nothing global. A pipeline key signs many
/// images and only the payload signature differs between them, so:
/// - code-signing chain validation results are kept per distinct chain
///   (keyed by the chain's DER bytes themselves, so a hit is an exact match);
/// - parsed certificates are kept per distinct DER, so each envelope
///   carrying the same chain does not re-parse it (and clones share the
///   RSA key's precomputation and the fingerprint).
#[derive(Default)]
pub struct ChainCache {
    results: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Result<(), ChainError>>>,
    certs: std::sync::Mutex<CertCache>,
}

#[derive(Default)]
struct CertCache {
    by_der: std::collections::HashMap<Vec<u8>, Certificate>,
    bytes: usize,
}

impl CertCache {
    /// Keeps `cert` by its DER; false once the bounds are reached.
    fn keep(&mut self, cert: &Certificate) -> bool {
        let der = cert.der();
        if self.by_der.contains_key(der) {
            return true;
        }
        if self.by_der.len() >= MAX_CACHED_CERTS || self.bytes + der.len() > MAX_CACHED_CERT_BYTES {
            return false;
        }
        self.bytes += der.len();
        self.by_der.insert(der.to_vec(), cert.clone());
        true
    }
}

impl std::fmt::Debug for ChainCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainCache")
    }
}

impl Clone for ChainCache {
    /// A clone starts empty: results belong to the request that made them.
    fn clone(&self) -> Self {
        ChainCache::default()
    }
}

/// Bounds the cache on hostile input (many distinct chains).
const MAX_CACHED_CHAINS: usize = 256;
/// Bounds the certificate cache: entries and total DER bytes.
const MAX_CACHED_CERTS: usize = 256;
const MAX_CACHED_CERT_BYTES: usize = 4 * 1024 * 1024;

impl ChainCache {
    /// [`validate_code_signing_chain`], remembered per distinct chain.
    pub fn validate_code_signing_chain(&self, chain: &[Certificate]) -> Result<(), ChainError> {
        let mut key = Vec::with_capacity(chain.iter().map(|c| c.der().len() + 8).sum());
        for cert in chain {
            key.extend_from_slice(&(cert.der().len() as u64).to_be_bytes());
            key.extend_from_slice(cert.der());
        }
        if let Ok(results) = self.results.lock() {
            if let Some(r) = results.get(&key) {
                return r.clone();
            }
        }
        let result = validate_code_signing_chain(chain);
        if let Ok(mut results) = self.results.lock() {
            if results.len() < MAX_CACHED_CHAINS {
                results.insert(key, result.clone());
            }
        }
        result
    }

    /// Offers already-parsed certificates (a trust store's roots) to
    /// [`ChainCache::parse_certificate`]: an envelope that carries the
    /// same root gets this parse instead of a second one.
    pub fn remember(&self, certs: &[Certificate]) {
        if let Ok(mut cache) = self.certs.lock() {
            for cert in certs {
                if !cache.keep(cert) {
                    return;
                }
            }
        }
    }

    /// [`Certificate::from_der`], parsed once per distinct DER (errors are
    /// not kept: they end the envelope's verification anyway).
    pub fn parse_certificate(&self, der: &[u8]) -> Result<Certificate, CertError> {
        if let Ok(certs) = self.certs.lock() {
            if let Some(c) = certs.by_der.get(der) {
                return Ok(c.clone());
            }
        }
        let cert = Certificate::from_der(der)?;
        if let Ok(mut certs) = self.certs.lock() {
            certs.keep(&cert);
        }
        Ok(cert)
    }
}

/// The longest chain accepted anywhere (bounded work on hostile input).
pub const MAX_CHAIN_LENGTH: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    CodeSigning,
    Timestamping,
}

/// Code-signing chain, envelope order (leaf first), without time checks.
pub fn validate_code_signing_chain(chain: &[Certificate]) -> Result<(), ChainError> {
    validate_chain(chain, Purpose::CodeSigning)
}

/// Timestamping chain (TSA leaf first), without time checks.
pub fn validate_timestamping_chain(chain: &[Certificate]) -> Result<(), ChainError> {
    validate_chain(chain, Purpose::Timestamping)
}

fn invalid(msg: impl Into<String>) -> ChainError {
    ChainError::Invalid(msg.into())
}

fn issued_by(cert: &Certificate, parent: &Certificate) -> Result<bool, String> {
    cert.is_issued_by(parent).map_err(|e| e.to_string())
}

fn validate_chain(chain: &[Certificate], purpose: Purpose) -> Result<(), ChainError> {
    if chain.is_empty() {
        return Err(ChainError::Empty);
    }
    if chain.len() > MAX_CHAIN_LENGTH {
        return Err(ChainError::TooLong(chain.len(), MAX_CHAIN_LENGTH));
    }
    if let [cert] = chain {
        // A single self-signed signing certificate (not a CA).
        cert.signature_verifies_with(cert).map_err(|e| {
            invalid(format!(
                "invalid self-signed certificate. subject: \"{}\". Error: {e}",
                cert.subject()
            ))
        })?;
        if !cert.is_self_issued() {
            return Err(invalid(format!(
                "invalid self-signed certificate. subject: \"{}\". Error: issuer({}) and subject({}) are not the same",
                cert.subject(),
                cert.issuer(),
                cert.subject()
            )));
        }
        return validate_leaf(cert, purpose)
            .map_err(|e| invalid(format!("invalid self-signed certificate. Error: {e}")));
    }
    let last = chain.len() - 1;
    for (i, cert) in chain.iter().enumerate() {
        if i == last {
            match issued_by(cert, cert) {
                Err(e) => {
                    return Err(invalid(format!(
                        "root certificate with subject \"{}\" is invalid or not self-signed. Certificate chain must end with a valid self-signed root certificate. Error: {e}",
                        cert.subject()
                    )))
                }
                Ok(false) => {
                    return Err(invalid(format!(
                        "root certificate with subject \"{}\" is not self-signed. Certificate chain must end with a valid self-signed root certificate",
                        cert.subject()
                    )))
                }
                Ok(true) => {}
            }
        } else {
            // A self-signed certificate before the end is a redundant root.
            // Self-signed needs issuer == subject, so the (cheap) name test
            // goes first and spares a signature check on ordinary chains.
            if cert.is_self_issued() && matches!(issued_by(cert, cert), Ok(true)) {
                let role = if i == 0 { "leaf" } else { "intermediate" };
                return Err(invalid(format!(
                    "{role} certificate with subject \"{}\" is self-signed. Certificate chain must not contain self-signed {role} certificate",
                    cert.subject()
                )));
            }
            let parent = &chain[i + 1];
            match issued_by(cert, parent) {
                Err(e) => {
                    return Err(invalid(format!(
                        "invalid certificates or certificate with subject \"{}\" is not issued by \"{}\". Error: {e}",
                        cert.subject(),
                        parent.subject()
                    )))
                }
                Ok(false) => {
                    return Err(invalid(format!(
                        "certificate with subject \"{}\" is not issued by \"{}\"",
                        cert.subject(),
                        parent.subject()
                    )))
                }
                Ok(true) => {}
            }
        }
        if i == 0 {
            validate_leaf(cert, purpose).map_err(invalid)?;
        } else {
            validate_ca(cert, i - 1, purpose).map_err(invalid)?;
        }
    }
    Ok(())
}

fn ext_err(e: CertError) -> String {
    e.to_string()
}

/// CA profile: basic constraints cA, path length, key usage with keyCertSign
/// (critical for code signing, as notation-core-go checks).
fn validate_ca(
    cert: &Certificate,
    expected_path_len: usize,
    purpose: Purpose,
) -> Result<(), String> {
    let subject = cert.subject();
    let bc = cert.basic_constraints().map_err(ext_err)?;
    let bc = match bc {
        Some(bc) if bc.value.ca => bc.value,
        _ => {
            return Err(format!(
                "certificate with subject \"{subject}\": ca field in basic constraints must be present, critical, and set to true"
            ))
        }
    };
    if let Some(max) = bc.path_len {
        if usize::from(max) < expected_path_len {
            return Err(format!(
                "certificate with subject \"{subject}\": expected path length of {expected_path_len} but certificate has path length {max} instead"
            ));
        }
    }
    let ku = cert.key_usage().map_err(ext_err)?.ok_or_else(|| {
        format!("certificate with subject \"{subject}\": key usage extension must be present")
    })?;
    if purpose == Purpose::CodeSigning && !ku.critical {
        return Err(format!(
            "certificate with subject \"{subject}\": key usage extension must be marked critical"
        ));
    }
    if !ku.value.key_cert_sign {
        return Err(format!(
            "certificate with subject \"{subject}\": key usage must have the bit positions for key cert sign set"
        ));
    }
    Ok(())
}

/// Leaf profile: not a CA, key usage digitalSignature only (nonRepudiation
/// allowed), EKU rules per purpose, a key size Notation supports.
fn validate_leaf(cert: &Certificate, purpose: Purpose) -> Result<(), String> {
    let subject = cert.subject();
    if let Some(bc) = cert.basic_constraints().map_err(ext_err)? {
        if bc.value.ca {
            return Err(format!(
                "certificate with subject \"{subject}\": if the basic constraints extension is present, the ca field must be set to false"
            ));
        }
    }
    let ku = cert.key_usage().map_err(ext_err)?.ok_or_else(|| {
        format!("certificate with subject \"{subject}\": key usage extension must be present")
    })?;
    if purpose == Purpose::CodeSigning && !ku.critical {
        return Err(format!(
            "certificate with subject \"{subject}\": key usage extension must be marked critical"
        ));
    }
    let bits = ku.value;
    if !bits.digital_signature {
        return Err(format!(
            "the certificate with subject \"{subject}\" is invalid. The key usage must have the bit positions for \"Digital Signature\" set"
        ));
    }
    let forbidden: Vec<&str> = [
        (bits.key_encipherment, "KeyEncipherment"),
        (bits.data_encipherment, "DataEncipherment"),
        (bits.key_agreement, "KeyAgreement"),
        (bits.key_cert_sign, "CertSign"),
        (bits.crl_sign, "CRLSign"),
        (bits.encipher_only, "EncipherOnly"),
        (bits.decipher_only, "DecipherOnly"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| *name)
    .collect();
    if !forbidden.is_empty() {
        return Err(format!(
            "the certificate with subject \"{subject}\" is invalid. The key usage must be \"Digital Signature\" only, but found {}",
            forbidden.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
        ));
    }
    let ekus = cert.extended_key_usage().map_err(ext_err)?;
    match purpose {
        Purpose::CodeSigning => {
            if let Some(ekus) = ekus {
                for (oid, name) in [
                    (eku::SERVER_AUTH, "ServerAuth"),
                    (eku::CLIENT_AUTH, "ClientAuth"),
                    (eku::EMAIL_PROTECTION, "EmailProtection"),
                    (eku::TIME_STAMPING, "TimeStamping"),
                    (eku::OCSP_SIGNING, "OCSPSigning"),
                ] {
                    if ekus.value.contains(&oid) {
                        return Err(format!(
                            "certificate with subject \"{subject}\": extended key usage must not contain {name} eku"
                        ));
                    }
                }
            }
        }
        Purpose::Timestamping => {
            let ekus = ekus.ok_or_else(|| {
                format!("timestamp signing certificate with subject \"{subject}\" must have and only have Timestamping as extended key usage")
            })?;
            if ekus.value.as_slice() != [eku::TIME_STAMPING] {
                return Err(format!(
                    "timestamp signing certificate with subject \"{subject}\" must have and only have Timestamping as extended key usage"
                ));
            }
            if !ekus.critical {
                return Err(format!(
                    "timestamp signing certificate with subject \"{subject}\" must have extended key usage extension marked as critical"
                ));
            }
        }
    }
    let key = cert.key().map_err(|e| match e {
        CertError::Key { source, .. } => {
            format!("certificate with subject \"{subject}\": {source}")
        }
        other => other.to_string(),
    })?;
    key.notation_algorithm()
        .map_err(|e: CryptoError| format!("certificate with subject \"{subject}\": {e}"))?;
    Ok(())
}

/// Builds and validates a path from `leaf` through `intermediates` to one of
/// `roots` at `time` (every certificate valid at `time`, signatures checked,
/// unknown critical extensions rejected, EKU timeStamping allowed along the
/// path), as Go's `x509.Verify` does for TSA certificates. Returns the path,
/// leaf first, ending with the root.
pub fn build_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    time: DateTime<Utc>,
) -> Result<Vec<Certificate>, ChainError> {
    check_path_member(leaf, time)?;
    let mut path = vec![leaf.clone()];
    let mut last_error = None;
    if extend_path(&mut path, intermediates, roots, time, &mut last_error) {
        return Ok(path);
    }
    Err(last_error.unwrap_or_else(|| {
        invalid(format!(
            "x509: certificate signed by unknown authority (subject \"{}\")",
            leaf.subject()
        ))
    }))
}

fn check_path_member(cert: &Certificate, time: DateTime<Utc>) -> Result<(), ChainError> {
    if !cert.is_valid_at(time) {
        return Err(invalid(format!(
            "x509: certificate with subject \"{}\" has expired or is not yet valid: current time {} is outside [{}, {}]",
            cert.subject(),
            time.to_rfc3339(),
            cert.not_before().to_rfc3339(),
            cert.not_after().to_rfc3339()
        )));
    }
    if let Some(oid) = cert.unhandled_critical_extensions().first() {
        return Err(invalid(format!(
            "x509: unhandled critical extension {oid} in certificate with subject \"{}\"",
            cert.subject()
        )));
    }
    // Go's EKU nesting: a CA that restricts its EKUs must allow time stamping.
    if let Ok(Some(ekus)) = cert.extended_key_usage() {
        if !ekus.value.contains(&eku::TIME_STAMPING) && !ekus.value.contains(&eku::ANY) {
            return Err(invalid(format!(
                "x509: certificate with subject \"{}\" specifies an incompatible key usage",
                cert.subject()
            )));
        }
    }
    Ok(())
}

/// Depth-first search; a root is any trusted certificate that signs the
/// current end of the path. Bounded by MAX_CHAIN_LENGTH.
fn extend_path(
    path: &mut Vec<Certificate>,
    intermediates: &[Certificate],
    roots: &[Certificate],
    time: DateTime<Utc>,
    last_error: &mut Option<ChainError>,
) -> bool {
    let current = match path.last() {
        Some(c) => c.clone(),
        None => return false,
    };
    for root in roots {
        if current.raw_issuer() != root.raw_subject() {
            continue;
        }
        match current
            .verify_signed_by(root)
            .map_err(|e| invalid(format!("x509: {e}")))
            .and_then(|_| check_path_member(root, time))
        {
            Ok(()) => {
                if current.der() != root.der() {
                    path.push(root.clone());
                }
                return true;
            }
            Err(e) => *last_error = Some(e),
        }
    }
    // The current certificate may itself be a trusted root (a self-signed TSA).
    if roots.iter().any(|r| r.der() == current.der()) {
        return true;
    }
    if path.len() >= MAX_CHAIN_LENGTH {
        return false;
    }
    for candidate in intermediates {
        if path.iter().any(|p| p.der() == candidate.der())
            || current.raw_issuer() != candidate.raw_subject()
        {
            continue;
        }
        let step = current
            .verify_signed_by(candidate)
            .map_err(|e| invalid(format!("x509: {e}")))
            .and_then(|_| check_path_member(candidate, time));
        match step {
            Ok(()) => {
                path.push(candidate.clone());
                if extend_path(path, intermediates, roots, time, last_error) {
                    return true;
                }
                path.pop();
            }
            Err(e) => *last_error = Some(e),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic_root() -> Certificate {
        let path = testdata::path("notation/synthetic/truststore/x509/ca/synthetic-root/root.pem");
        let pem = std::fs::read_to_string(path).expect("the synthetic root");
        Certificate::parse_pem_bundle(&pem)
            .expect("a PEM certificate")
            .remove(0)
    }

    #[test]
    fn a_remembered_root_is_not_parsed_again() {
        let root = synthetic_root();
        let cold = ChainCache::default();
        let parsed = cold.parse_certificate(root.der()).expect("parses");
        assert!(!parsed.shares_parse_with(&root), "a cold cache parses anew");
        assert!(cold
            .parse_certificate(root.der())
            .expect("cached")
            .shares_parse_with(&parsed));

        let seeded = ChainCache::default();
        seeded.remember(std::slice::from_ref(&root));
        let again = seeded.parse_certificate(root.der()).expect("cached");
        assert!(again.shares_parse_with(&root));
        assert_eq!(again.der(), root.der());
    }
}
