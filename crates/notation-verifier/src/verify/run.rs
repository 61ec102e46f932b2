//! One signature's record of validations ([`SignatureRun`]) and the
//! artifact-level verdict built from the records.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::cert::Certificate;
use crate::envelope::VerifiedEnvelope;
use crate::trust_policy::Statement;
use crate::verdict::{
    Action, CheckOutcome, Failure, Outcome, ReasonCode, SignatureReport, Validation,
    ValidationKind, Verdict,
};

use super::Signature;

/// Accumulates the validations of one signature.
pub(super) struct SignatureRun {
    pub(super) actions: crate::trust_policy::Actions,
    pub(super) report: SignatureReport,
    pub(super) timestamp_time: Option<DateTime<Utc>>,
    pub(super) enforced_failure: bool,
}

impl SignatureRun {
    pub(super) fn new(
        statement: &Statement,
        index: usize,
        sig: &Signature<'_>,
        digest: Option<&str>,
    ) -> Self {
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

    pub(super) fn action(&self, kind: ValidationKind) -> Action {
        self.actions.get(kind)
    }

    pub(super) fn describe(&mut self, env: &VerifiedEnvelope) {
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

    pub(super) fn pass(&mut self, kind: ValidationKind) {
        let action = self.action(kind);
        self.report.validations.push(Validation {
            kind,
            action,
            outcome: CheckOutcome::Passed,
        });
    }

    /// Records a failure with the policy's action for `kind`; returns true
    /// when verification may go on (the failure was only logged).
    pub(super) fn fail(
        &mut self,
        kind: ValidationKind,
        reason: ReasonCode,
        message: String,
    ) -> bool {
        let action = self.action(kind);
        self.record(kind, action, reason, message)
    }

    /// A failure that no level can relax (payload target mismatch).
    pub(super) fn fail_enforced(
        &mut self,
        kind: ValidationKind,
        reason: ReasonCode,
        message: String,
    ) -> bool {
        self.record(kind, Action::Enforce, reason, message)
    }

    pub(super) fn record(
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

    pub(super) fn finish(mut self) -> SignatureReport {
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

pub(super) fn failed(
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
pub(super) fn summarize_failures(reports: &[SignatureReport]) -> (ReasonCode, String) {
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
