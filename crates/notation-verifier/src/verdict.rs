//! The result of a verification: one type that every adapter presents
//! (admission responses, `vns` tables and exit codes, the inspector page).
//! Adapters never re-derive a reason; they read it from here.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Stable reason codes. The string form (`SCREAMING_SNAKE_CASE`) is part of
/// the public contract: it appears in admission messages, audit annotations
/// and `vns --output json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    /// The artifact has no signature the verifier can see.
    NoSignature,
    /// No trust policy statement covers the artifact.
    NoApplicablePolicy,
    /// The configured maximum number of signatures was examined, none passed.
    SignatureLimitReached,
    /// The envelope could not be parsed or failed an integrity rule.
    MalformedEnvelope,
    /// The envelope's signature does not verify with its leaf key.
    InvalidSignature,
    /// The certificate chain in the envelope breaks a shape rule.
    InvalidCertificateChain,
    /// No certificate of the chain is in the trust stores.
    UntrustedSigner,
    /// The leaf subject matches none of the trusted identities.
    IdentityMismatch,
    /// A trust store named by the policy is missing or unusable.
    TrustStoreError,
    /// The signature's `io.cncf.notary.expiry` has passed.
    ExpiredSignature,
    /// A certificate is outside its validity and no timestamp rescues it.
    CertExpiredNoTimestamp,
    /// The timestamp countersignature is missing or does not verify.
    TimestampInvalid,
    /// A certificate of the chain is revoked.
    Revoked,
    /// The revocation status of a certificate could not be determined.
    RevocationUnknown,
    /// The payload names another artifact (digest, media type or size).
    DigestMismatch,
    /// The signature requires a verification plugin, which we do not run.
    UnsupportedPlugin,
    /// A critical extended attribute that this verifier does not implement.
    UnsupportedCriticalAttribute,
    /// The signature bundle is malformed or does not belong to the artifact.
    InvalidBundle,
    /// The image reference cannot be parsed.
    InvalidReference,
    /// The registry could not be reached or refused the request.
    RegistryError,
}

impl ReasonCode {
    /// The stable string form, e.g. `UNTRUSTED_SIGNER`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NoSignature => "NO_SIGNATURE",
            ReasonCode::NoApplicablePolicy => "NO_APPLICABLE_POLICY",
            ReasonCode::SignatureLimitReached => "SIGNATURE_LIMIT_REACHED",
            ReasonCode::MalformedEnvelope => "MALFORMED_ENVELOPE",
            ReasonCode::InvalidSignature => "INVALID_SIGNATURE",
            ReasonCode::InvalidCertificateChain => "INVALID_CERTIFICATE_CHAIN",
            ReasonCode::UntrustedSigner => "UNTRUSTED_SIGNER",
            ReasonCode::IdentityMismatch => "IDENTITY_MISMATCH",
            ReasonCode::TrustStoreError => "TRUST_STORE_ERROR",
            ReasonCode::ExpiredSignature => "EXPIRED_SIGNATURE",
            ReasonCode::CertExpiredNoTimestamp => "CERT_EXPIRED_NO_TIMESTAMP",
            ReasonCode::TimestampInvalid => "TIMESTAMP_INVALID",
            ReasonCode::Revoked => "REVOKED",
            ReasonCode::RevocationUnknown => "REVOCATION_UNKNOWN",
            ReasonCode::DigestMismatch => "DIGEST_MISMATCH",
            ReasonCode::UnsupportedPlugin => "UNSUPPORTED_PLUGIN",
            ReasonCode::UnsupportedCriticalAttribute => "UNSUPPORTED_CRITICAL_ATTRIBUTE",
            ReasonCode::InvalidBundle => "INVALID_BUNDLE",
            ReasonCode::InvalidReference => "INVALID_REFERENCE",
            ReasonCode::RegistryError => "REGISTRY_ERROR",
        }
    }

    /// What a person can do about this reason, in one sentence.
    pub fn hint(self) -> &'static str {
        match self {
            ReasonCode::NoSignature => "sign the image with `notation sign` and publish the bundle with `vns attach IMAGE`",
            ReasonCode::NoApplicablePolicy => "add a trust policy statement whose registryScopes cover this repository, or a `*` statement with level skip",
            ReasonCode::SignatureLimitReached => "remove stale signatures or raise maxSignatures",
            ReasonCode::MalformedEnvelope | ReasonCode::InvalidSignature => "re-sign the image with a conformant Notation signer and re-run `vns attach`",
            ReasonCode::InvalidCertificateChain => "sign with a complete chain (leaf first, ending at a self-signed root) whose certificates follow the Notary Project profiles",
            ReasonCode::UntrustedSigner => "add the signer's root (or the signing certificate) to a trust store named by the policy statement",
            ReasonCode::IdentityMismatch => "sign with an allowed identity or add the signer's subject to trustedIdentities",
            ReasonCode::TrustStoreError => "define the trust store under trustStores with valid PEM certificates",
            ReasonCode::ExpiredSignature => "re-sign the image; the signature's expiry has passed",
            ReasonCode::CertExpiredNoTimestamp => "re-sign with a valid certificate, or sign with an RFC 3161 timestamp (`notation sign --timestamp-url`) and add a tsa trust store",
            ReasonCode::TimestampInvalid => "re-sign with a timestamp from a TSA whose root is in the policy's tsa trust store",
            ReasonCode::Revoked => "re-sign with a certificate that is not revoked",
            ReasonCode::RevocationUnknown => "staple fresh revocation material with `vns attach` or set the revocation override to log/skip",
            ReasonCode::DigestMismatch => "the signature belongs to another image: sign this digest and re-run `vns attach`",
            ReasonCode::UnsupportedPlugin => "sign without a verification plugin; plugins cannot run inside the admission policy",
            ReasonCode::UnsupportedCriticalAttribute => "sign without custom critical attributes",
            ReasonCode::InvalidBundle => "re-publish the bundle with `vns attach IMAGE`",
            ReasonCode::InvalidReference => "fix the image reference (lowercase repository, tag and/or sha256 digest)",
            ReasonCode::RegistryError => "check that the registry is reachable and that the policy server's pull secret grants access",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validation types of the Notary Project trust policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ValidationKind {
    Integrity,
    Authenticity,
    AuthenticTimestamp,
    Expiry,
    Revocation,
}

impl ValidationKind {
    pub const ALL: [ValidationKind; 5] = [
        ValidationKind::Integrity,
        ValidationKind::Authenticity,
        ValidationKind::AuthenticTimestamp,
        ValidationKind::Expiry,
        ValidationKind::Revocation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ValidationKind::Integrity => "integrity",
            ValidationKind::Authenticity => "authenticity",
            ValidationKind::AuthenticTimestamp => "authenticTimestamp",
            ValidationKind::Expiry => "expiry",
            ValidationKind::Revocation => "revocation",
        }
    }
}

/// What a failure of a validation does (trust policy levels and overrides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// A failure fails the signature.
    Enforce,
    /// A failure is recorded (and surfaced as a warning); verification goes on.
    Log,
    /// The validation is not run.
    Skip,
}

/// The outcome of one validation of one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum CheckOutcome {
    Passed,
    Failed {
        reason: ReasonCode,
        message: String,
    },
    /// Skipped by the policy, or not reached because an earlier enforced check failed.
    NotRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    pub kind: ValidationKind,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

impl Validation {
    /// A failure whose action is `log`: the signature may still pass, and
    /// the caller must surface it (admission warning, `vns` output).
    pub fn is_logged_failure(&self) -> bool {
        self.action == Action::Log && matches!(self.outcome, CheckOutcome::Failed { .. })
    }

    pub fn is_enforced_failure(&self) -> bool {
        self.action == Action::Enforce && matches!(self.outcome, CheckOutcome::Failed { .. })
    }
}

/// The report of one signature envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureReport {
    /// Position of the signature in the input (bundle order).
    pub index: usize,
    pub media_type: String,
    /// `sha256:<hex>` of the envelope bytes.
    pub envelope_digest: String,
    pub signing_scheme: Option<String>,
    /// Leaf certificate subject, RFC 4514-style (`CN=...,O=...,C=...`).
    pub signer_subject: Option<String>,
    /// SHA-256 fingerprints (lowercase hex) of the chain, leaf first.
    pub chain_fingerprints: Vec<String>,
    pub signing_time: Option<DateTime<Utc>>,
    pub expiry: Option<DateTime<Utc>>,
    /// The verified RFC 3161 genTime, when a timestamp was verified.
    pub timestamp_time: Option<DateTime<Utc>>,
    pub validations: Vec<Validation>,
    /// True when no enforced validation failed and the payload matched.
    pub passed: bool,
}

impl SignatureReport {
    /// The first enforced failure, which decided that this signature failed.
    pub fn decisive_failure(&self) -> Option<(&ValidationKind, ReasonCode, &str)> {
        self.validations
            .iter()
            .find_map(|v| match (&v.outcome, v.action) {
                (CheckOutcome::Failed { reason, message }, Action::Enforce) => {
                    Some((&v.kind, *reason, message.as_str()))
                }
                _ => None,
            })
    }

    pub fn logged_failures(&self) -> impl Iterator<Item = &Validation> {
        self.validations.iter().filter(|v| v.is_logged_failure())
    }
}

/// Overall outcome for an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// A signature passed every enforced validation.
    Verified,
    /// The applicable statement has level `skip`: nothing was checked.
    Skipped,
    /// Verification failed; see `failure` and the signature reports.
    Failed,
}

/// A failure of the whole artifact verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub reason: ReasonCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub outcome: Outcome,
    /// Name of the trust policy statement that applied, if any.
    pub statement: Option<String>,
    /// Set when `outcome` is `Failed`: the reason that decided it.
    pub failure: Option<Failure>,
    pub signatures: Vec<SignatureReport>,
}

impl Verdict {
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, Outcome::Verified | Outcome::Skipped)
    }

    /// The signature that passed, if any.
    pub fn passing_signature(&self) -> Option<&SignatureReport> {
        self.signatures.iter().find(|s| s.passed)
    }

    /// Logged failures of the passing signature: these must be surfaced as
    /// warnings even though the artifact is admitted.
    pub fn warnings(&self) -> Vec<String> {
        self.passing_signature()
            .map(|s| {
                s.logged_failures()
                    .filter_map(|v| match &v.outcome {
                        CheckOutcome::Failed { reason, message } => Some(format!(
                            "{} ({}, logged): {}",
                            reason,
                            v.kind.as_str(),
                            message
                        )),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
