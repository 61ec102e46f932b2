//! A parsed X.509 certificate with the accessors the Notation rules need.
//!
//! CONTRACT: other modules code against these signatures; keep them stable.
//! The DER bytes are kept (trust anchoring is DER equality) and the public key
//! is parsed once.

use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;

use crate::crypto::{CryptoError, PublicKey};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CertError {
    #[error("malformed certificate: {0}")]
    Malformed(String),
    #[error("no certificate found in {0}")]
    Empty(String),
    #[error("certificate with subject \"{subject}\": {source}")]
    Key {
        subject: String,
        source: CryptoError,
    },
}

/// Key usage bits as named in RFC 5280.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    pub digital_signature: bool,
    pub content_commitment: bool,
    pub key_encipherment: bool,
    pub data_encipherment: bool,
    pub key_agreement: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
    pub encipher_only: bool,
    pub decipher_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<T> {
    pub critical: bool,
    pub value: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    inner: x509_cert::Certificate,
}

impl Certificate {
    pub fn from_der(_der: &[u8]) -> Result<Self, CertError> {
        Err(CertError::Malformed("unimplemented".into()))
    }

    /// All certificates of a PEM text (one or more `CERTIFICATE` blocks).
    pub fn parse_pem_bundle(_pem: &str) -> Result<Vec<Self>, CertError> {
        Err(CertError::Malformed("unimplemented".into()))
    }

    /// PEM (any number of blocks) or DER (one or concatenated), as Notation
    /// trust store files are read.
    pub fn parse_pem_or_der(_bytes: &[u8]) -> Result<Vec<Self>, CertError> {
        Err(CertError::Malformed("unimplemented".into()))
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn inner(&self) -> &x509_cert::Certificate {
        &self.inner
    }

    /// Subject rendered like Go's `pkix.Name.String()` (`CN=..,O=..,C=..`).
    pub fn subject(&self) -> String {
        String::new()
    }

    pub fn issuer(&self) -> String {
        String::new()
    }

    /// DER of the subject and issuer Names (raw comparison = "self-issued").
    pub fn raw_subject(&self) -> Vec<u8> {
        Vec::new()
    }
    pub fn raw_issuer(&self) -> Vec<u8> {
        Vec::new()
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        DateTime::<Utc>::MIN_UTC
    }
    pub fn not_after(&self) -> DateTime<Utc> {
        DateTime::<Utc>::MIN_UTC
    }
    pub fn is_valid_at(&self, _time: DateTime<Utc>) -> bool {
        false
    }

    pub fn serial_number(&self) -> &[u8] {
        &[]
    }

    /// Lowercase hex SHA-256 of the DER.
    pub fn sha256_fingerprint(&self) -> String {
        String::new()
    }

    pub fn basic_constraints(&self) -> Result<Option<Extension<BasicConstraints>>, CertError> {
        Ok(None)
    }
    pub fn key_usage(&self) -> Result<Option<Extension<KeyUsageBits>>, CertError> {
        Ok(None)
    }
    pub fn extended_key_usage(
        &self,
    ) -> Result<Option<Extension<Vec<ObjectIdentifier>>>, CertError> {
        Ok(None)
    }
    /// OIDs of critical extensions this crate does not interpret.
    pub fn unhandled_critical_extensions(&self) -> Vec<ObjectIdentifier> {
        Vec::new()
    }
    /// AIA OCSP responder URLs.
    pub fn ocsp_urls(&self) -> Vec<String> {
        Vec::new()
    }
    /// CRL distribution point URLs.
    pub fn crl_urls(&self) -> Vec<String> {
        Vec::new()
    }

    /// The parsed public key (RSA up to 8192 bits, EC P-256/384/521).
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        Err(CertError::Malformed("unimplemented".into()))
    }

    /// Verifies this certificate's signature with `issuer`'s key.
    pub fn verify_signed_by(&self, _issuer: &Certificate) -> Result<(), CertError> {
        Err(CertError::Malformed("unimplemented".into()))
    }

    /// Signature verifies with its own key (Go's notion of self-signed).
    pub fn is_self_signed(&self) -> bool {
        false
    }

    /// Raw subject equals raw issuer.
    pub fn is_self_issued(&self) -> bool {
        false
    }

    pub fn is_ca(&self) -> bool {
        false
    }
}
