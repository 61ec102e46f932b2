//! Inspection reports: what an envelope says and what the verifier decided,
//! as one serialisable structure. The browser inspector (feature
//! `wasm-bindgen`) and `vns inspect` both present it, so the page and the
//! terminal cannot disagree about a verdict.
//!
//! Nothing here decides: envelope facts are read with the same parsers as
//! the pipeline, and every outcome comes from [`Verifier::verify`].

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bundle::{self, BundleError};
use crate::cert::Certificate;
use crate::crypto::PublicKey;
use crate::envelope::{self, EnvelopeError, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS};
use crate::reference::ImageRef;
use crate::revocation::RevocationMaterial;
use crate::settings::{Enforcement, ExceptionMatch, ValidatedSettings};
use crate::timestamp;
use crate::verdict::{Outcome, ReasonCode, Verdict};
use crate::verify::{Descriptor, Signature, VerificationInput};

/// One certificate as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateReport {
    pub subject: String,
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial_number: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub sha256_fingerprint: String,
    /// `RSA 3072`, `ECDSA P-256`, or why the key is unusable.
    pub public_key: String,
    pub is_ca: bool,
    pub self_signed: bool,
}

impl CertificateReport {
    pub fn of(cert: &Certificate) -> Self {
        let public_key = match cert.key() {
            Ok(key @ PublicKey::Rsa(_)) => format!("RSA {}", key.bits()),
            Ok(key) => format!("ECDSA P-{}", key.bits()),
            Err(e) => format!("unusable: {e}"),
        };
        CertificateReport {
            subject: cert.subject(),
            issuer: cert.issuer(),
            serial_number: hex::encode(cert.serial_number()),
            not_before: cert.not_before(),
            not_after: cert.not_after(),
            sha256_fingerprint: cert.sha256_fingerprint(),
            public_key,
            is_ca: cert.is_ca(),
            self_signed: cert.is_self_signed(),
        }
    }
}

/// The artifact an envelope's payload names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadReport {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub annotations: BTreeMap<String, String>,
}

/// An RFC 3161 countersignature as it claims itself (verification, if any,
/// is in the verdict's `authenticTimestamp` validation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampReport {
    pub gen_time: Option<DateTime<Utc>>,
    pub accuracy_millis: Option<i64>,
    pub policy: Option<String>,
    pub imprint_hash: Option<String>,
    pub certificates: Vec<CertificateReport>,
    /// Set when the token cannot be parsed.
    pub error: Option<String>,
}

/// The integrity check of one envelope (structure, headers, signature,
/// chain shape) with the verifier's reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrityReport {
    pub passed: bool,
    pub reason: Option<ReasonCode>,
    pub message: Option<String>,
    pub hint: Option<&'static str>,
}

impl IntegrityReport {
    fn of(result: Result<(), EnvelopeError>) -> Self {
        match result {
            Ok(()) => IntegrityReport {
                passed: true,
                reason: None,
                message: None,
                hint: None,
            },
            Err(e) => IntegrityReport {
                passed: false,
                reason: Some(e.reason),
                hint: Some(e.reason.hint()),
                message: Some(e.message),
            },
        }
    }
}

/// Everything an envelope says, read whether or not it verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeReport {
    pub media_type: String,
    /// `JWS` or `COSE`.
    pub format: &'static str,
    pub size: usize,
    /// `sha256:<hex>` of the envelope bytes (the bundle layer digest).
    pub envelope_digest: String,
    /// Set when the envelope could not be decoded at all; the fields below
    /// are then empty.
    pub decode_error: Option<String>,
    /// JWS `alg` / COSE `alg`, Notation's name (`PS256`, `ES384`, ...).
    pub algorithm: Option<&'static str>,
    pub signing_scheme: Option<&'static str>,
    pub signing_time: Option<DateTime<Utc>>,
    pub expiry: Option<DateTime<Utc>>,
    pub signing_agent: Option<String>,
    pub verification_plugin: Option<String>,
    pub critical_extended_attributes: Vec<String>,
    pub payload: Option<PayloadReport>,
    /// Set when the payload is not a Notation payload.
    pub payload_error: Option<String>,
    /// The `x5c` / `x5chain` certificates, leaf first, as carried.
    pub certificates: Vec<CertificateReport>,
    /// Certificates of the chain that could not be parsed (`index: why`).
    pub certificate_errors: Vec<String>,
    pub timestamp: Option<TimestampReport>,
    pub integrity: IntegrityReport,
}

/// The envelope media type from the bytes: JWS JSON starts with `{`, a
/// COSE_Sign1 with CBOR. Files and pastes carry no media type.
pub fn sniff_media_type(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => MEDIA_TYPE_JWS,
        _ => MEDIA_TYPE_COSE,
    }
}

fn format_of(media_type: &str) -> &'static str {
    match media_type {
        MEDIA_TYPE_JWS => "JWS",
        MEDIA_TYPE_COSE => "COSE",
        _ => "unknown",
    }
}

/// Inspects one envelope: its headers, payload, chain and timestamp, and
/// the outcome of its integrity check.
pub fn inspect_envelope(media_type: &str, bytes: &[u8]) -> EnvelopeReport {
    let mut report = EnvelopeReport {
        media_type: media_type.to_string(),
        format: format_of(media_type),
        size: bytes.len(),
        envelope_digest: format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
        decode_error: None,
        algorithm: None,
        signing_scheme: None,
        signing_time: None,
        expiry: None,
        signing_agent: None,
        verification_plugin: None,
        critical_extended_attributes: Vec::new(),
        payload: None,
        payload_error: None,
        certificates: Vec::new(),
        certificate_errors: Vec::new(),
        timestamp: None,
        integrity: IntegrityReport::of(envelope::parse_and_verify(media_type, bytes).map(|_| ())),
    };
    let parts = match envelope::parse_parts(media_type, bytes) {
        Ok(parts) => parts,
        Err(e) => {
            report.decode_error = Some(e.message);
            return report;
        }
    };
    report.algorithm = Some(parts.algorithm.jws_name());
    report.signing_scheme = Some(parts.headers.scheme.as_str());
    report.signing_time = Some(parts.headers.signing_time);
    report.expiry = parts.headers.expiry;
    report.signing_agent = parts.signing_agent.clone();
    report.verification_plugin = parts.headers.verification_plugin.clone();
    report.critical_extended_attributes = parts.headers.critical_extended_attributes.clone();
    match envelope::parse_payload(&parts.payload) {
        Ok(p) => {
            report.payload = Some(PayloadReport {
                media_type: p.target.media_type,
                digest: p.target.digest,
                size: p.target.size,
                annotations: p.annotations,
            })
        }
        Err(e) => report.payload_error = Some(e.message),
    }
    for (index, der) in parts.chain.iter().enumerate() {
        match Certificate::from_der(der) {
            Ok(cert) => report.certificates.push(CertificateReport::of(&cert)),
            Err(e) => report.certificate_errors.push(format!("{index}: {e}")),
        }
    }
    report.timestamp = parts.timestamp_token.as_deref().map(inspect_token);
    report
}

fn inspect_token(token: &[u8]) -> TimestampReport {
    match timestamp::token_summary(token) {
        Ok(summary) => TimestampReport {
            gen_time: Some(summary.gen_time),
            accuracy_millis: Some(summary.accuracy.num_milliseconds()),
            policy: Some(summary.policy),
            imprint_hash: Some(summary.imprint_hash),
            certificates: summary
                .certificates
                .iter()
                .map(CertificateReport::of)
                .collect(),
            error: None,
        },
        Err(e) => TimestampReport {
            gen_time: None,
            accuracy_millis: None,
            policy: None,
            imprint_hash: None,
            certificates: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

/// What the admission policy would do with this verdict under the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Admission {
    /// Admitted (verified, skipped by the trust policy, or excepted).
    Admit,
    /// Admitted with a warning (enforcement `warn`).
    Warn,
    /// Rejected (enforcement `deny`).
    Deny,
}

/// The verdict in one line: what a person wants first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub outcome: Outcome,
    pub admission: Admission,
    pub statement: Option<String>,
    pub reason: Option<ReasonCode>,
    pub message: Option<String>,
    pub hint: Option<&'static str>,
    /// Subject of the signature that passed, else of the first one examined.
    pub signer: Option<String>,
    /// Logged failures of the passing signature, and expired exceptions.
    pub warnings: Vec<String>,
    /// Set when an active exception admits the image without verification.
    pub exception: Option<String>,
}

/// A verification with everything the inspector shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationReport {
    /// The image reference as given, normalised.
    pub reference: String,
    /// `registry/repository`, what the trust policy scopes match.
    pub repository: String,
    pub descriptor: Descriptor,
    pub time: String,
    pub summary: Summary,
    pub verdict: Verdict,
    pub envelopes: Vec<EnvelopeReport>,
}

/// Errors of the inspection inputs (never of the signatures: those are in
/// the report).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("artifact reference \"{reference}\": {message}; give registry/repository[:tag|@digest], e.g. registry.example.com/app:1.0")]
    Reference { reference: String, message: String },
    #[error("signature bundle: {0}")]
    Bundle(#[from] BundleError),
    #[error("the bundle manifest has no subject descriptor; give the artifact descriptor (mediaType, digest, size) separately")]
    BundleWithoutSubject,
    #[error("bundle layer {index}: {message}")]
    BundleLayer { index: usize, message: String },
}

/// Verifies `signatures` for the artifact `reference` / `descriptor` at
/// `time` with the policy settings, and inspects each envelope.
pub fn verify_and_inspect(
    settings: &ValidatedSettings,
    reference: &str,
    descriptor: &Descriptor,
    signatures: &[Signature<'_>],
    revocation: &RevocationMaterial,
    time: DateTime<Utc>,
) -> Result<VerificationReport, InspectError> {
    let image = ImageRef::parse(reference).map_err(|e| InspectError::Reference {
        reference: reference.to_string(),
        message: e.to_string(),
    })?;
    let repository = image.repository_path();
    let verdict = settings.verifier.verify(&VerificationInput {
        repository: &repository,
        descriptor,
        signatures,
        time,
        revocation,
        limits: settings.limits,
    });
    let summary = summarise(settings, &image, &verdict, time);
    Ok(VerificationReport {
        reference: image.normalized(),
        repository,
        descriptor: descriptor.clone(),
        time: time.to_rfc3339_opts(SecondsFormat::Secs, true),
        summary,
        verdict,
        envelopes: signatures
            .iter()
            .map(|s| inspect_envelope(s.media_type, s.envelope))
            .collect(),
    })
}

/// [`verify_and_inspect`] over owned envelopes `(media type, bytes)`, as
/// the page, a bundle and `vns inspect` hold them.
pub fn verify_envelopes(
    settings: &ValidatedSettings,
    reference: &str,
    descriptor: &Descriptor,
    envelopes: &[(String, Vec<u8>)],
    revocation: &RevocationMaterial,
    time: DateTime<Utc>,
) -> Result<VerificationReport, InspectError> {
    let signatures: Vec<Signature<'_>> = envelopes
        .iter()
        .map(|(media_type, bytes)| Signature {
            media_type,
            envelope: bytes,
        })
        .collect();
    verify_and_inspect(
        settings,
        reference,
        descriptor,
        &signatures,
        revocation,
        time,
    )
}

/// When no descriptor is given: the artifact the first envelope's payload
/// names, with the note a reader needs (a signature made for another image
/// cannot be detected this way).
pub fn descriptor_from_payload(envelopes: &[(String, Vec<u8>)]) -> Option<(Descriptor, String)> {
    let payload = envelopes
        .iter()
        .find_map(|(media_type, bytes)| inspect_envelope(media_type, bytes).payload)?;
    let note = format!(
        "no descriptor was given: the artifact is taken from the first envelope's payload ({}), so a signature for another image cannot be detected here",
        payload.digest
    );
    Some((
        Descriptor {
            media_type: payload.media_type,
            digest: payload.digest,
            size: payload.size,
        },
        note,
    ))
}

/// A bundle manifest (as `vns attach` publishes it) read for inspection:
/// its subject and its envelopes with their stapled revocation material.
pub struct InspectedBundle {
    pub subject: Descriptor,
    pub envelopes: Vec<(String, Vec<u8>)>,
    pub revocation: RevocationMaterial,
}

/// Reads a pasted bundle manifest with the reader rules of the policy.
pub fn read_bundle_for_inspection(
    manifest: &serde_json::Value,
    max_signatures: usize,
) -> Result<InspectedBundle, InspectError> {
    let subject: Descriptor = manifest
        .get("subject")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .ok_or(InspectError::BundleWithoutSubject)?;
    let contents = bundle::read_bundle(manifest, &subject.digest, max_signatures)?;
    let mut envelopes = Vec::new();
    let mut staples = Vec::new();
    for layer in contents.envelopes {
        let layer = layer.map_err(|e| InspectError::BundleLayer {
            index: e.index,
            message: e.message,
        })?;
        staples.extend(layer.revocation);
        envelopes.push((layer.media_type, layer.bytes));
    }
    Ok(InspectedBundle {
        subject,
        envelopes,
        revocation: bundle::material_of(&staples),
    })
}

fn summarise(
    settings: &ValidatedSettings,
    image: &ImageRef,
    verdict: &Verdict,
    time: DateTime<Utc>,
) -> Summary {
    let signer = verdict
        .passing_signature()
        .or(verdict.signatures.first())
        .and_then(|s| s.signer_subject.clone());
    let mut warnings = verdict.warnings();
    let mut exception = None;
    match settings.exception_for(&image.normalized(), time) {
        ExceptionMatch::Active {
            exception: name, ..
        } => exception = Some(name.to_string()),
        ExceptionMatch::Expired {
            exception: name,
            expired,
        } => warnings.push(format!(
            "exception \"{name}\" expired on {} and no longer applies",
            expired.format("%Y-%m-%d %H:%M UTC")
        )),
        ExceptionMatch::None => {}
    }
    let admission = if exception.is_some() || verdict.is_success() {
        Admission::Admit
    } else {
        match settings.enforcement {
            Enforcement::Deny => Admission::Deny,
            Enforcement::Warn => Admission::Warn,
        }
    };
    let (reason, message) = match &verdict.failure {
        Some(f) => (Some(f.reason), Some(f.message.clone())),
        None => (None, None),
    };
    Summary {
        outcome: verdict.outcome,
        admission,
        statement: verdict.statement.clone(),
        hint: reason.map(ReasonCode::hint),
        reason,
        message,
        signer,
        warnings,
        exception,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(path: &str) -> Option<Vec<u8>> {
        std::fs::read(testdata::path("notation/synthetic/envelopes").join(path)).ok()
    }

    #[test]
    fn media_type_is_sniffed_from_the_first_byte() {
        assert_eq!(sniff_media_type(b"  {\"payload\":1}"), MEDIA_TYPE_JWS);
        assert_eq!(sniff_media_type(&[0xd2, 0x84]), MEDIA_TYPE_COSE);
        assert_eq!(sniff_media_type(b""), MEDIA_TYPE_COSE);
    }

    #[test]
    fn a_valid_envelope_shows_headers_payload_and_chain() {
        let Some(bytes) = vector("valid/jws-rsa3072-PS384.jws") else {
            return;
        };
        let report = inspect_envelope(MEDIA_TYPE_JWS, &bytes);
        assert!(report.integrity.passed, "{:?}", report.integrity);
        assert_eq!(report.format, "JWS");
        assert_eq!(report.algorithm, Some("PS384"));
        assert_eq!(report.signing_scheme, Some("notary.x509"));
        assert_eq!(report.certificates.len(), 3);
        assert_eq!(report.certificates[0].public_key, "RSA 3072");
        assert!(!report.certificates[0].is_ca);
        assert!(report.certificates[2].self_signed);
        let payload = report.payload.expect("payload");
        assert!(payload.digest.starts_with("sha256:"));
    }

    #[test]
    fn a_tampered_envelope_is_still_shown_with_its_failure() {
        let Some(bytes) = vector("integrity/cose-tampered-signature.cose") else {
            return;
        };
        let report = inspect_envelope(MEDIA_TYPE_COSE, &bytes);
        assert!(!report.integrity.passed);
        assert_eq!(report.integrity.reason, Some(ReasonCode::InvalidSignature));
        assert!(report.integrity.hint.is_some());
        assert!(report.decode_error.is_none());
        assert!(!report.certificates.is_empty());
        assert!(report.payload.is_some());
    }

    #[test]
    fn garbage_gives_a_decode_error_not_a_panic() {
        for (media_type, bytes) in [
            (MEDIA_TYPE_JWS, &b"{not json"[..]),
            (MEDIA_TYPE_COSE, &[0xd2, 0x84, 0xff][..]),
            ("text/plain", &b"hello"[..]),
        ] {
            let report = inspect_envelope(media_type, bytes);
            assert!(!report.integrity.passed);
            assert!(report.decode_error.is_some(), "{media_type}");
            assert!(report.certificates.is_empty());
        }
    }

    #[test]
    fn a_timestamped_envelope_shows_its_token() {
        let Some(bytes) = vector("timestamp/jws-ts-valid-leaf.jws") else {
            return;
        };
        let report = inspect_envelope(MEDIA_TYPE_JWS, &bytes);
        let ts = report.timestamp.expect("timestamp");
        assert!(ts.error.is_none(), "{:?}", ts.error);
        assert!(ts.gen_time.is_some());
        assert!(!ts.certificates.is_empty());
    }
}
