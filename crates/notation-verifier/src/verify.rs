//! The whole pipeline: artifact + envelopes + policy + stores + time -> Verdict
//! (spec digest §h: notation-go's order of steps and their actions).
//!
//! [`Verifier::verify`] runs the steps in this file (policy statement,
//! stores, size and count limits, integrity); `checks` holds the
//! validations after integrity and `run` one signature's record of them.

mod checks;
mod run;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::cert::Certificate;
use crate::envelope;
use crate::revocation::RevocationMaterial;
use crate::trust_policy::{PolicyError, Statement, TrustPolicy, TrustStoreRef};
use crate::trust_store::{StoreType, TrustStoreError, TrustStores};
use crate::verdict::{Outcome, ReasonCode, SignatureReport, ValidationKind, Verdict};
use checks::{check_expiry, check_revocation};
use run::{failed, summarize_failures, SignatureRun};

/// Kept at its old path; the type lives in [`crate::descriptor`], below
/// both the envelopes (whose payload names it) and this pipeline.
pub use crate::descriptor::Descriptor;

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
/// that `Settings::validate` gives for it (the settings sit above the
/// verifier, so the field name is spelled here and a test in `settings`
/// pins the two messages together).
fn store_error_message(e: &TrustStoreError) -> String {
    match e {
        TrustStoreError::Missing { .. } => e.to_string(),
        _ => format!("trustStores: {e}"),
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
}
