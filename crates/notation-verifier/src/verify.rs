//! The whole pipeline: artifact + envelopes + policy + stores + time -> Verdict
//! (spec digest §h: notation-go's order of steps and their actions).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cert::Certificate;
use crate::envelope::{self, SigningScheme, VerifiedEnvelope};
use crate::revocation::{self, RevocationMaterial, RevocationStatus};
use crate::timestamp;
use crate::trust_policy::{PolicyError, Statement, TrustPolicy, TrustStoreRef, VerifyTimestamp};
use crate::trust_store::{StoreType, TrustStoreError, TrustStores};
use crate::verdict::{
    Action, CheckOutcome, Failure, Outcome, ReasonCode, SignatureReport, Validation,
    ValidationKind, Verdict,
};

/// An OCI content descriptor: what was signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// One signature as found in the registry or the bundle.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    pub media_type: &'a str,
    pub envelope: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Notation's maxSignatureAttempts.
    pub max_signatures: usize,
    /// Larger envelopes are rejected before parsing.
    pub max_envelope_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_signatures: 10,
            max_envelope_size: 4 * 1024 * 1024,
        }
    }
}

pub struct VerificationInput<'a> {
    /// `registry/repository`, normalised, without tag or digest.
    pub repository: &'a str,
    /// The resolved descriptor of the artifact's manifest.
    pub descriptor: &'a Descriptor,
    pub signatures: &'a [Signature<'a>],
    pub time: DateTime<Utc>,
    pub revocation: &'a RevocationMaterial,
    pub limits: Limits,
}

/// Trust policy + trust stores, validated once, used for many artifacts.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub policy: TrustPolicy,
    pub stores: TrustStores,
    /// Chains already validated for this verifier's request.
    pub chain_cache: crate::chain::ChainCache,
}

/// A missing store says so; an invalid one reads as the settings error
/// that [`crate::settings::Settings::validate`] gives for it.
fn store_error_message(e: &TrustStoreError) -> String {
    match e {
        TrustStoreError::Missing { .. } => e.to_string(),
        _ => crate::settings::SettingsError::TrustStore(e.clone()).to_string(),
    }
}

/// Formats times in messages as RFC 3339 UTC (`2022-07-29T23:59:00Z`).
fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Verifier {
    pub fn new(policy: TrustPolicy, stores: TrustStores) -> Self {
        Self {
            policy,
            stores,
            chain_cache: crate::chain::ChainCache::default(),
        }
    }

    /// Verifies an artifact: the first signature that passes every enforced
    /// validation decides (notation-go semantics: no n-of-m).
    pub fn verify(&self, input: &VerificationInput<'_>) -> Verdict {
        self.verify_inner(input, &[])
    }

    /// [`Verifier::verify`] when the caller already knows the envelopes'
    /// `sha256:<hex>` digests (the bundle reader checks each layer's copy
    /// against its digest): `envelope_digests[i]` is the digest of
    /// `input.signatures[i]`, used for the report instead of hashing the
    /// envelope again. Missing entries are computed.
    pub fn verify_with_digests(
        &self,
        input: &VerificationInput<'_>,
        envelope_digests: &[&str],
    ) -> Verdict {
        self.verify_inner(input, envelope_digests)
    }

    fn verify_inner(&self, input: &VerificationInput<'_>, envelope_digests: &[&str]) -> Verdict {
        let statement = match self.policy.statement_for(input.repository) {
            Ok(s) => s,
            Err(e) => {
                let reason = match e {
                    PolicyError::NoApplicableStatement(_) => ReasonCode::NoApplicablePolicy,
                    PolicyError::BadReference(_) | PolicyError::Invalid(_) => {
                        ReasonCode::NoApplicablePolicy
                    }
                };
                return failed(None, reason, e.to_string(), Vec::new());
            }
        };
        if statement.level == crate::trust_policy::Level::Skip {
            return Verdict {
                outcome: Outcome::Skipped,
                statement: Some(statement.name.clone()),
                failure: None,
                signatures: Vec::new(),
            };
        }
        if input.signatures.is_empty() {
            return failed(
                Some(statement),
                ReasonCode::NoSignature,
                format!(
                    "no signature is associated with \"{}@{}\"",
                    input.repository, input.descriptor.digest
                ),
                Vec::new(),
            );
        }
        let max = input.limits.max_signatures.max(1);
        let mut reports = Vec::new();
        for (index, sig) in input.signatures.iter().take(max).enumerate() {
            let digest = envelope_digests.get(index).copied();
            let report = self.verify_one(statement, input, index, sig, digest);
            let passed = report.passed;
            reports.push(report);
            if passed {
                return Verdict {
                    outcome: Outcome::Verified,
                    statement: Some(statement.name.clone()),
                    failure: None,
                    signatures: reports,
                };
            }
        }
        if input.signatures.len() > max {
            return failed(
                Some(statement),
                ReasonCode::SignatureLimitReached,
                format!(
                    "signature evaluation stopped: the configured limit of {max} signatures to verify per artifact was reached ({} present) and none passed",
                    input.signatures.len()
                ),
                reports,
            );
        }
        let (reason, message) = summarize_failures(&reports);
        failed(Some(statement), reason, message, reports)
    }

    fn verify_one(
        &self,
        statement: &Statement,
        input: &VerificationInput<'_>,
        index: usize,
        sig: &Signature<'_>,
        digest: Option<&str>,
    ) -> SignatureReport {
        let mut run = SignatureRun::new(statement, index, sig, digest);
        if sig.envelope.len() > input.limits.max_envelope_size {
            run.fail(
                ValidationKind::Integrity,
                ReasonCode::MalformedEnvelope,
                format!(
                    "signature envelope is {} bytes, more than the limit of {} bytes",
                    sig.envelope.len(),
                    input.limits.max_envelope_size
                ),
            );
            return run.finish();
        }
        // Integrity (always enforced): structure, signature, headers, chain shape.
        let env = match envelope::parse_and_verify_cached(
            sig.media_type,
            sig.envelope,
            Some(&self.chain_cache),
        ) {
            Ok(env) => env,
            Err(e) => {
                run.fail(ValidationKind::Integrity, e.reason, e.message);
                return run.finish();
            }
        };
        run.describe(&env);
        // Plugin gate and unknown critical attributes: integrity-level, every level.
        if let Some(plugin) = &env.verification_plugin {
            run.fail(
                ValidationKind::Integrity,
                ReasonCode::UnsupportedPlugin,
                format!("the signature requires verification plugin \"{plugin}\", which this verifier does not support"),
            );
            return run.finish();
        }
        if env.verification_plugin_min_version.is_some()
            || !env.critical_extended_attributes.is_empty()
        {
            let mut names = env.critical_extended_attributes.clone();
            if env.verification_plugin_min_version.is_some() {
                names.push("io.cncf.notary.verificationPluginMinVersion".into());
            }
            run.fail(
                ValidationKind::Integrity,
                ReasonCode::UnsupportedCriticalAttribute,
                format!("the signature marks extended attributes critical that this verifier does not implement: {}", names.join(", ")),
            );
            return run.finish();
        }
        run.pass(ValidationKind::Integrity);

        if !self.check_authenticity(&mut run, statement, &env) {
            return run.finish();
        }
        if !check_expiry(&mut run, &env, input.time) {
            return run.finish();
        }
        if !self.check_authentic_timestamp(&mut run, statement, &env, input) {
            return run.finish();
        }
        if !check_revocation(&mut run, &env, input) {
            return run.finish();
        }
        // The payload must name exactly the artifact that was resolved (always enforced).
        let target = &env.payload.target;
        if target != input.descriptor {
            run.fail_enforced(
                ValidationKind::Integrity,
                ReasonCode::DigestMismatch,
                format!(
                    "the signature is for {} ({}, {} bytes), not for the resolved artifact {} ({}, {} bytes)",
                    target.digest,
                    target.media_type,
                    target.size,
                    input.descriptor.digest,
                    input.descriptor.media_type,
                    input.descriptor.size
                ),
            );
            return run.finish();
        }
        run.finish()
    }

    /// Trust anchoring (any chain certificate DER-equal to a store certificate
    /// of the scheme's type) and trusted identities.
    fn check_authenticity(
        &self,
        run: &mut SignatureRun,
        statement: &Statement,
        env: &VerifiedEnvelope,
    ) -> bool {
        let store_type = match env.scheme {
            SigningScheme::X509 => StoreType::Ca,
            SigningScheme::SigningAuthority => StoreType::SigningAuthority,
        };
        let trusted = match self.store_certificates(&statement.trust_stores, store_type) {
            Ok(certs) => certs,
            Err(message) => {
                return run.fail(
                    ValidationKind::Authenticity,
                    ReasonCode::TrustStoreError,
                    message,
                )
            }
        };
        let mut ok = true;
        if trusted.is_empty() {
            ok = run.fail(
                ValidationKind::Authenticity,
                ReasonCode::UntrustedSigner,
                format!(
                    "no trusted certificates are found to verify authenticity: statement \"{}\" names no {} trust store for the {} signing scheme",
                    statement.name,
                    store_type.as_str(),
                    env.scheme.as_str()
                ),
            );
        } else if !env
            .chain
            .iter()
            .any(|c| trusted.iter().any(|t| t.der() == c.der()))
        {
            ok = run.fail(
                ValidationKind::Authenticity,
                ReasonCode::UntrustedSigner,
                format!(
                    "the signature's certificate chain (signer \"{}\", root \"{}\") does not contain any certificate of the {} trust stores of statement \"{}\"",
                    env.chain.first().map(Certificate::subject).unwrap_or_default(),
                    env.chain.last().map(Certificate::subject).unwrap_or_default(),
                    store_type.as_str(),
                    statement.name
                ),
            );
        }
        if !ok {
            return false;
        }
        // notation-go runs the identity check even after a logged authenticity failure.
        let Some(leaf) = env.chain.first() else {
            return run.fail(
                ValidationKind::Authenticity,
                ReasonCode::MalformedEnvelope,
                "empty certificate chain".into(),
            );
        };
        match statement
            .trusted_identities
            .check_leaf(leaf, &statement.name)
        {
            Ok(()) => {
                run.pass(ValidationKind::Authenticity);
                true
            }
            Err(e) => run.fail(
                ValidationKind::Authenticity,
                ReasonCode::IdentityMismatch,
                // Say who did sign: the fix is either side of this pair.
                format!("{e}; the signer is \"{}\"", leaf.subject()),
            ),
        }
    }

    fn store_certificates(
        &self,
        refs: &[TrustStoreRef],
        store_type: StoreType,
    ) -> Result<Vec<&Certificate>, String> {
        let mut out: Vec<&Certificate> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for r in refs.iter().filter(|r| r.store_type == store_type) {
            if seen.contains(&r.name.as_str()) {
                continue;
            }
            seen.push(&r.name);
            let certs = self
                .stores
                .load(store_type, &r.name)
                .map_err(|e| store_error_message(&e))?;
            out.extend(certs.iter());
        }
        Ok(out)
    }

    /// Parses (once) every trust store that `statement` names, and only
    /// those: the per-request cost of a lazily built [`TrustStores`]. The
    /// error is the message of a `TRUST_STORE_ERROR`.
    pub fn load_statement_stores(&self, statement: &Statement) -> Result<(), String> {
        for r in &statement.trust_stores {
            let certs = self
                .stores
                .load(r.store_type, &r.name)
                .map_err(|e| store_error_message(&e))?;
            // The chain an envelope carries usually ends in one of these
            // roots: its copy is then not parsed again.
            self.chain_cache.remember(certs);
        }
        Ok(())
    }

    fn check_authentic_timestamp(
        &self,
        run: &mut SignatureRun,
        statement: &Statement,
        env: &VerifiedEnvelope,
        input: &VerificationInput<'_>,
    ) -> bool {
        const KIND: ValidationKind = ValidationKind::AuthenticTimestamp;
        if run.action(KIND) == Action::Skip {
            return true;
        }
        if env.scheme == SigningScheme::SigningAuthority {
            // The authentic signing time must fall inside every certificate's validity.
            for cert in &env.chain {
                if !cert.is_valid_at(env.signing_time) {
                    return run.fail(
                        KIND,
                        ReasonCode::CertExpiredNoTimestamp,
                        format!(
                            "certificate \"{}\" (valid {} to {}) was not valid when the digital signature was produced at {}",
                            cert.subject(),
                            fmt_time(cert.not_before()),
                            fmt_time(cert.not_after()),
                            fmt_time(env.signing_time)
                        ),
                    );
                }
            }
            run.pass(KIND);
            return true;
        }
        let tsa_refs: Vec<&TrustStoreRef> = statement
            .trust_stores
            .iter()
            .filter(|r| r.store_type == StoreType::Tsa)
            .collect();
        let any_expired = env.chain.iter().any(|c| input.time > c.not_after());
        let use_timestamp = !tsa_refs.is_empty()
            && (statement.verify_timestamp == VerifyTimestamp::Always || any_expired);
        if !use_timestamp {
            for cert in &env.chain {
                if input.time < cert.not_before() {
                    return run.fail(
                        KIND,
                        ReasonCode::CertExpiredNoTimestamp,
                        format!(
                            "verification time is before certificate \"{}\" validity period, it will be valid from {}",
                            cert.subject(),
                            fmt_time(cert.not_before())
                        ),
                    );
                }
                if input.time > cert.not_after() {
                    return run.fail(
                        KIND,
                        ReasonCode::CertExpiredNoTimestamp,
                        format!(
                            "verification time is after certificate \"{}\" validity period, it was expired at {}",
                            cert.subject(),
                            fmt_time(cert.not_after())
                        ),
                    );
                }
            }
            run.pass(KIND);
            return true;
        }
        let Some(token) = env.timestamp_token.as_deref() else {
            return run.fail(
                KIND,
                ReasonCode::TimestampInvalid,
                "no timestamp countersignature was found in the signature envelope, but the trust policy requires one (it names a tsa trust store)".into(),
            );
        };
        let tsa_roots =
            match self.store_certificates(statement.trust_stores.as_slice(), StoreType::Tsa) {
                Ok(c) if c.is_empty() => {
                    return run.fail(
                        KIND,
                        ReasonCode::TimestampInvalid,
                        "no trusted TSA certificate found in trust store".into(),
                    )
                }
                Ok(c) => c,
                Err(message) => {
                    return run.fail(
                        KIND,
                        ReasonCode::TimestampInvalid,
                        format!("failed to load tsa trust store: {message}"),
                    )
                }
            };
        let ts = match timestamp::verify_token(token, &env.signature, &tsa_roots) {
            Ok(ts) => ts,
            Err(e) => {
                return run.fail(
                    KIND,
                    ReasonCode::TimestampInvalid,
                    format!("the timestamp countersignature does not verify: {e}"),
                )
            }
        };
        run.timestamp_time = Some(ts.gen_time);
        for cert in &env.chain {
            if ts.earliest() < cert.not_before() {
                return run.fail(
                    KIND,
                    ReasonCode::TimestampInvalid,
                    format!(
                        "timestamp can be before certificate \"{}\" validity period, it will be valid from {}",
                        cert.subject(),
                        fmt_time(cert.not_before())
                    ),
                );
            }
            if ts.latest() > cert.not_after() {
                return run.fail(
                    KIND,
                    ReasonCode::TimestampInvalid,
                    format!(
                        "timestamp can be after certificate \"{}\" validity period, it was expired at {}",
                        cert.subject(),
                        fmt_time(cert.not_after())
                    ),
                );
            }
        }
        // The TSA chain is always revocation-checked (notation-go cannot turn it off).
        // verify_token validated the TSA chain's shape.
        match revocation::check_validated_chain(&ts.tsa_chain, input.revocation, input.time, None) {
            RevocationStatus::Good => {}
            RevocationStatus::Revoked { subject } => {
                return run.fail(
                    KIND,
                    ReasonCode::Revoked,
                    format!("timestamping certificate with subject \"{subject}\" is revoked"),
                )
            }
            RevocationStatus::Unknown { subject, detail } => {
                return run.fail(
                    KIND,
                    ReasonCode::RevocationUnknown,
                    format!("timestamping certificate with subject \"{subject}\" revocation status is unknown: {detail}"),
                )
            }
        }
        run.pass(KIND);
        true
    }
}

fn check_expiry(run: &mut SignatureRun, env: &VerifiedEnvelope, now: DateTime<Utc>) -> bool {
    const KIND: ValidationKind = ValidationKind::Expiry;
    if run.action(KIND) == Action::Skip {
        return true;
    }
    match env.expiry {
        Some(expiry) if now >= expiry => run.fail(
            KIND,
            ReasonCode::ExpiredSignature,
            format!("digital signature has expired on {}", fmt_time(expiry)),
        ),
        _ => {
            run.pass(KIND);
            true
        }
    }
}

fn check_revocation(
    run: &mut SignatureRun,
    env: &VerifiedEnvelope,
    input: &VerificationInput<'_>,
) -> bool {
    const KIND: ValidationKind = ValidationKind::Revocation;
    if run.action(KIND) == Action::Skip {
        return true;
    }
    // Only an authentic signing time may be compared with an invalidity date.
    let authentic_time =
        (env.scheme == SigningScheme::SigningAuthority).then_some(env.signing_time);
    // The chain passed the code-signing shape rules in the integrity step.
    match revocation::check_validated_chain(&env.chain, input.revocation, input.time, authentic_time) {
        RevocationStatus::Good => {
            run.pass(KIND);
            true
        }
        RevocationStatus::Revoked { subject } => run.fail(
            KIND,
            ReasonCode::Revoked,
            format!("signing certificate with subject \"{subject}\" is revoked"),
        ),
        RevocationStatus::Unknown { subject, detail } => run.fail(
            KIND,
            ReasonCode::RevocationUnknown,
            format!("signing certificate with subject \"{subject}\" revocation status is unknown: {detail}"),
        ),
    }
}

/// Accumulates the validations of one signature.
struct SignatureRun {
    actions: crate::trust_policy::Actions,
    report: SignatureReport,
    timestamp_time: Option<DateTime<Utc>>,
    enforced_failure: bool,
}

impl SignatureRun {
    fn new(statement: &Statement, index: usize, sig: &Signature<'_>, digest: Option<&str>) -> Self {
        let digest = match digest {
            Some(d) => d.to_string(),
            None => format!("sha256:{}", hex::encode(Sha256::digest(sig.envelope))),
        };
        Self {
            actions: statement.actions,
            report: SignatureReport {
                index,
                media_type: sig.media_type.to_string(),
                envelope_digest: digest,
                signing_scheme: None,
                signer_subject: None,
                chain_fingerprints: Vec::new(),
                signing_time: None,
                expiry: None,
                timestamp_time: None,
                validations: Vec::new(),
                passed: false,
            },
            timestamp_time: None,
            enforced_failure: false,
        }
    }

    fn action(&self, kind: ValidationKind) -> Action {
        self.actions.get(kind)
    }

    fn describe(&mut self, env: &VerifiedEnvelope) {
        self.report.signing_scheme = Some(env.scheme.as_str().to_string());
        self.report.signer_subject = env.chain.first().map(Certificate::subject);
        self.report.chain_fingerprints = env
            .chain
            .iter()
            .map(Certificate::sha256_fingerprint)
            .collect();
        self.report.signing_time = Some(env.signing_time);
        self.report.expiry = env.expiry;
    }

    fn pass(&mut self, kind: ValidationKind) {
        let action = self.action(kind);
        self.report.validations.push(Validation {
            kind,
            action,
            outcome: CheckOutcome::Passed,
        });
    }

    /// Records a failure with the policy's action for `kind`; returns true
    /// when verification may go on (the failure was only logged).
    fn fail(&mut self, kind: ValidationKind, reason: ReasonCode, message: String) -> bool {
        let action = self.action(kind);
        self.record(kind, action, reason, message)
    }

    /// A failure that no level can relax (payload target mismatch).
    fn fail_enforced(&mut self, kind: ValidationKind, reason: ReasonCode, message: String) -> bool {
        self.record(kind, Action::Enforce, reason, message)
    }

    fn record(
        &mut self,
        kind: ValidationKind,
        action: Action,
        reason: ReasonCode,
        message: String,
    ) -> bool {
        self.report.validations.push(Validation {
            kind,
            action,
            outcome: CheckOutcome::Failed { reason, message },
        });
        if action == Action::Enforce {
            self.enforced_failure = true;
            false
        } else {
            true
        }
    }

    fn finish(mut self) -> SignatureReport {
        // Record the validations that were skipped by policy, so the report
        // always lists all five kinds.
        for kind in ValidationKind::ALL {
            if !self.report.validations.iter().any(|v| v.kind == kind) {
                self.report.validations.push(Validation {
                    kind,
                    action: self.actions.get(kind),
                    outcome: CheckOutcome::NotRun,
                });
            }
        }
        self.report.timestamp_time = self.timestamp_time;
        self.report.passed = !self.enforced_failure;
        self.report
    }
}

fn failed(
    statement: Option<&Statement>,
    reason: ReasonCode,
    message: String,
    signatures: Vec<SignatureReport>,
) -> Verdict {
    Verdict {
        outcome: Outcome::Failed,
        statement: statement.map(|s| s.name.clone()),
        failure: Some(Failure { reason, message }),
        signatures,
    }
}

/// One reason for the whole artifact: the decisive reason when all
/// signatures agree, otherwise the first signature's, with every signature's
/// cause listed in the message.
fn summarize_failures(reports: &[SignatureReport]) -> (ReasonCode, String) {
    let causes: Vec<(ReasonCode, String)> = reports
        .iter()
        .filter_map(|r| {
            r.decisive_failure()
                .map(|(_, reason, msg)| (reason, format!("signature {}: {msg}", r.index + 1)))
        })
        .collect();
    let reason = causes
        .first()
        .map(|(r, _)| *r)
        .unwrap_or(ReasonCode::NoSignature);
    if causes.len() == 1 {
        let message = causes
            .into_iter()
            .next()
            .map(|(_, m)| m)
            .unwrap_or_default();
        return (reason, message);
    }
    let message = causes
        .iter()
        .map(|(r, m)| format!("{m} [{r}]"))
        .collect::<Vec<_>>()
        .join("; ");
    (
        reason,
        format!(
            "none of {} signatures passed verification: {message}",
            reports.len()
        ),
    )
}
