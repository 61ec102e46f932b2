//! Notation signature envelopes: parse and integrity-check.
//!
//! CONTRACT: `parse_and_verify` performs everything the spec digest calls
//! *integrity* (§c, §d, §e and the chain shape of §f.1): envelope structure,
//! signature with the leaf key, protected header rules, `cty`, `alg` bound to
//! the leaf key. It does not look at trust stores, time or the payload target.

pub mod cose;
pub mod jws;

use chrono::{DateTime, Utc};

use crate::cert::Certificate;
use crate::crypto::SignatureAlgorithm;
use crate::verdict::ReasonCode;
use crate::verify::Descriptor;

pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
pub const MEDIA_TYPE_COSE: &str = "application/cose";
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningScheme {
    /// `notary.x509`
    X509,
    /// `notary.x509.signingAuthority`
    SigningAuthority,
}

impl SigningScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningScheme::X509 => "notary.x509",
            SigningScheme::SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// `targetArtifact` of the payload plus its user annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub target: Descriptor,
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An envelope that passed integrity.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope {
    pub media_type: &'static str,
    pub algorithm: SignatureAlgorithm,
    pub scheme: SigningScheme,
    /// `signingTime` (x509) or `authenticSigningTime` (signingAuthority).
    pub signing_time: DateTime<Utc>,
    pub expiry: Option<DateTime<Utc>>,
    /// Leaf first.
    pub chain: Vec<Certificate>,
    /// RFC 3161 TimeStampToken bytes from the unprotected header.
    pub timestamp_token: Option<Vec<u8>>,
    /// The raw primitive signature bytes (timestamp imprint input).
    pub signature: Vec<u8>,
    pub payload: Payload,
    /// `io.cncf.notary.verificationPlugin`, when present.
    pub verification_plugin: Option<String>,
    /// `io.cncf.notary.verificationPluginMinVersion`, when present.
    pub verification_plugin_min_version: Option<String>,
    /// Names of critical extended attributes (other than the plugin ones).
    pub critical_extended_attributes: Vec<String>,
    pub signing_agent: Option<String>,
}

/// An integrity failure, with the reason code it maps to
/// (`MalformedEnvelope`, `InvalidSignature` or `InvalidCertificateChain`).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct EnvelopeError {
    pub reason: ReasonCode,
    pub message: String,
}

impl EnvelopeError {
    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            reason: ReasonCode::MalformedEnvelope,
            message: message.into(),
        }
    }
    pub fn bad_signature(message: impl Into<String>) -> Self {
        Self {
            reason: ReasonCode::InvalidSignature,
            message: message.into(),
        }
    }
    pub fn bad_chain(message: impl Into<String>) -> Self {
        Self {
            reason: ReasonCode::InvalidCertificateChain,
            message: message.into(),
        }
    }
}

/// Parses and integrity-checks an envelope of the given media type.
pub fn parse_and_verify(media_type: &str, bytes: &[u8]) -> Result<VerifiedEnvelope, EnvelopeError> {
    match media_type {
        MEDIA_TYPE_JWS => jws::parse_and_verify(bytes),
        MEDIA_TYPE_COSE => cose::parse_and_verify(bytes),
        other => Err(EnvelopeError::malformed(format!(
            "signature envelope format with media type \"{other}\" is not supported"
        ))),
    }
}
