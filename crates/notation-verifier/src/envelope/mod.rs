//! Notation signature envelopes: parse and integrity-check.
//!
//! CONTRACT: `parse_and_verify` performs everything the spec digest calls
//! *integrity* (§c, §d, §e and the chain shape of §f.1): envelope structure,
//! signature with the leaf key, protected header rules, `cty`, `alg` bound to
//! the leaf key. It does not look at trust stores, time or the payload target.
//!
//! Layout: [`jws`] and [`cose`] turn their syntax into [`Parts`] (structure
//! and header rules, no cryptography); [`finish`] then does what both share:
//! chain parsing, algorithm-vs-key, the signature, the payload and the chain
//! shape. `headers`, `payload` and `signer` hold the shared rules, `cbor` a
//! strict CBOR reader.

mod cbor;
pub mod cose;
mod headers;
pub mod jws;
mod payload;
mod signer;

use chrono::{DateTime, Utc};

use crate::cert::Certificate;
use crate::crypto::{PssSalt, SignatureAlgorithm};
use crate::descriptor::Descriptor;
use crate::verdict::ReasonCode;

pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
pub const MEDIA_TYPE_COSE: &str = "application/cose";
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

/// Largest envelope parsed at all. The pipeline applies its own (usually
/// smaller) limit first; this cap keeps direct callers safe too. It equals
/// notation-go's signature blob limit (§a.1).
pub const MAX_ENVELOPE_SIZE: usize = 32 * 1024 * 1024;

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

/// Parses and integrity-checks an envelope of the given media type
/// ([`MEDIA_TYPE_JWS`] or [`MEDIA_TYPE_COSE`]).
///
/// On success every integrity rule held: structure, protected header rules,
/// payload content type, `alg` equal to the algorithm of the leaf key, the
/// signature, a parseable payload and the code-signing chain shape. The
/// caller still decides authenticity, expiry, timestamps, revocation, the
/// payload target and what to do with
/// [`VerifiedEnvelope::verification_plugin`] and
/// [`VerifiedEnvelope::critical_extended_attributes`].
///
/// ```
/// use notation_verifier::envelope::{parse_and_verify, MEDIA_TYPE_JWS};
/// use notation_verifier::verdict::ReasonCode;
///
/// // Anything that is not a flattened JWS JSON object is a malformed envelope.
/// let err = parse_and_verify(MEDIA_TYPE_JWS, b"{}").unwrap_err();
/// assert_eq!(err.reason, ReasonCode::MalformedEnvelope);
///
/// // Unknown envelope formats are refused by media type.
/// let err = parse_and_verify("application/unsupported+json", b"{}").unwrap_err();
/// assert!(err.message.contains("not supported"));
///
/// // A real envelope: the caller gets the scheme, times, chain and payload.
/// # let path = testdata::path("notation/notation-go/envelopes/ca_valid_sig_env.json");
/// # let Ok(bytes) = std::fs::read(path) else { return };
/// if let Ok(env) = parse_and_verify(MEDIA_TYPE_JWS, &bytes) {
///     println!("{} signed {}", env.scheme.as_str(), env.payload.target.digest);
/// }
/// ```
pub fn parse_and_verify(media_type: &str, bytes: &[u8]) -> Result<VerifiedEnvelope, EnvelopeError> {
    parse_and_verify_cached(media_type, bytes, None)
}

/// [`parse_and_verify`] that validates each distinct certificate chain once
/// per `cache` (the verifier keeps one per request).
pub fn parse_and_verify_cached(
    media_type: &str,
    bytes: &[u8],
    cache: Option<&crate::chain::ChainCache>,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_SIZE {
        return Err(EnvelopeError::malformed(format!(
            "signature envelope is {} bytes, more than the limit of {MAX_ENVELOPE_SIZE} bytes",
            bytes.len()
        )));
    }
    match media_type {
        MEDIA_TYPE_JWS => jws::parse_and_verify(bytes, cache),
        MEDIA_TYPE_COSE => cose::parse_and_verify(bytes, cache),
        other => Err(EnvelopeError::malformed(format!(
            "signature envelope format with media type \"{other}\" is not supported"
        ))),
    }
}

/// The decoded envelope before any cryptography, for the inspector: it
/// shows what an envelope says even when its signature does not hold.
pub(crate) fn parse_parts<'a>(
    media_type: &str,
    bytes: &'a [u8],
) -> Result<Parts<'a>, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_SIZE {
        return Err(EnvelopeError::malformed(format!(
            "signature envelope is {} bytes, more than the limit of {MAX_ENVELOPE_SIZE} bytes",
            bytes.len()
        )));
    }
    match media_type {
        MEDIA_TYPE_JWS => jws::parse_parts(bytes),
        MEDIA_TYPE_COSE => cose::parse_parts(bytes),
        other => Err(EnvelopeError::malformed(format!(
            "signature envelope format with media type \"{other}\" is not supported"
        ))),
    }
}

/// The payload rules, for the inspector (the pipeline reaches them through
/// [`finish`]).
pub(crate) fn parse_payload(bytes: &[u8]) -> Result<Payload, EnvelopeError> {
    payload::parse_payload(bytes)
}

/// What an envelope parser hands to [`finish`]: everything decoded and every
/// header rule checked, nothing cryptographic done yet.
pub(crate) struct Parts<'a> {
    pub media_type: &'static str,
    pub algorithm: SignatureAlgorithm,
    pub salt: PssSalt,
    pub headers: headers::NotaryHeaders,
    /// DER certificates, leaf first (length already bounded).
    pub chain: Vec<std::borrow::Cow<'a, [u8]>>,
    /// The exact bytes the signature covers.
    pub signed_message: Vec<u8>,
    pub signature: Vec<u8>,
    pub payload: std::borrow::Cow<'a, [u8]>,
    pub timestamp_token: Option<Vec<u8>>,
    pub signing_agent: Option<String>,
}

/// The integrity steps both formats share, in order: chain parsing, `alg`
/// bound to the leaf key and the signature, then (only once the signature
/// holds) the payload and the chain shape.
pub(crate) fn finish(
    parts: Parts<'_>,
    cache: Option<&crate::chain::ChainCache>,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    let chain = signer::parse_chain(parts.chain.iter().map(|c| c.as_ref()), cache)?;
    signer::verify_signature(
        &chain,
        parts.algorithm,
        &parts.signed_message,
        &parts.signature,
        parts.salt,
    )?;
    let payload = payload::parse_payload(&parts.payload)?;
    signer::validate_chain(&chain, cache)?;
    let headers = parts.headers;
    Ok(VerifiedEnvelope {
        media_type: parts.media_type,
        algorithm: parts.algorithm,
        scheme: headers.scheme,
        signing_time: headers.signing_time,
        expiry: headers.expiry,
        chain,
        timestamp_token: parts.timestamp_token,
        signature: parts.signature,
        payload,
        verification_plugin: headers.verification_plugin,
        verification_plugin_min_version: headers.verification_plugin_min_version,
        critical_extended_attributes: headers.critical_extended_attributes,
        signing_agent: parts.signing_agent,
    })
}
