//! From per-image results to one admission answer: enforcement, warnings,
//! audit annotations, the rejection message and the digest pins.

use std::collections::HashMap;

use notation_verifier::settings::{Enforcement, ValidatedSettings};

use crate::evaluate::{ImageOutcome, ImageResult};

/// The API server may truncate longer warnings (256 characters each).
pub const MAX_WARNING_LEN: usize = 256;
/// Keep the rejection message readable in `kubectl` output.
pub const MAX_MESSAGE_LEN: usize = 3072;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub accepted: bool,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    pub audit_annotations: HashMap<String, String>,
    /// image string as written -> pinned reference, for verified tag references.
    pub pins: HashMap<String, String>,
}

pub fn decide(results: &[ImageResult], settings: &ValidatedSettings) -> Decision {
    let mut decision = Decision {
        accepted: true,
        ..Decision::default()
    };
    let mut failures = Vec::new();
    for (i, r) in results.iter().enumerate() {
        decision
            .audit_annotations
            .insert(format!("image-{}", i + 1), audit_value(r));
        for note in &r.notes {
            decision
                .warnings
                .push(short(&format!("{}: {note}", r.image)));
        }
        match &r.outcome {
            ImageOutcome::Verified { digest, .. } => {
                if settings.modify_images_with_digest {
                    let pinned = pin(&r.image, digest);
                    if pinned != r.image {
                        decision.pins.insert(r.image.clone(), pinned);
                    }
                }
            }
            ImageOutcome::Skipped { .. } => {}
            ImageOutcome::Excepted {
                exception,
                reason,
                expires,
                days_left,
            } => {
                decision.warnings.push(short(&format!(
                    "{} admitted without verification by exception \"{exception}\"{} until {} ({days_left} days left)",
                    r.image,
                    reason.as_deref().map(|x| format!(" ({x})")).unwrap_or_default(),
                    expires.format("%Y-%m-%d %H:%M UTC"),
                )));
            }
            ImageOutcome::Failed {
                reason, message, ..
            } => {
                failures.push(format!(
                    "{}: {reason}: {message} (to fix: {})",
                    r.image,
                    reason.hint()
                ));
                if settings.enforcement == Enforcement::Warn {
                    decision
                        .warnings
                        .push(short(&format!("{}: {reason}: {message}", r.image)));
                }
            }
        }
    }
    if !failures.is_empty() && settings.enforcement == Enforcement::Deny {
        decision.accepted = false;
        decision.pins.clear();
        decision.message = Some(rejection_message(&failures, results.len()));
    }
    decision
}

/// `image@digest`, keeping the tag for readers; a reference that already
/// carries a digest stays as written.
fn pin(image: &str, digest: &str) -> String {
    match image.rsplit_once('@') {
        Some(_) => image.to_string(),
        None => format!("{image}@{digest}"),
    }
}

fn rejection_message(failures: &[String], total: usize) -> String {
    let header = format!(
        "Notation signature verification failed for {} of {} image(s):",
        failures.len(),
        total
    );
    let mut message = header;
    for (shown, f) in failures.iter().enumerate() {
        let line = format!("\n- {f}");
        if message.len() + line.len() > MAX_MESSAGE_LEN {
            message.push_str(&format!("\n... and {} more", failures.len() - shown));
            break;
        }
        message.push_str(&line);
    }
    message
}

fn short(text: &str) -> String {
    if text.len() <= MAX_WARNING_LEN {
        return text.to_string();
    }
    let mut end = MAX_WARNING_LEN - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

fn audit_value(r: &ImageResult) -> String {
    let (outcome, digest, signer, statement, reason) = match &r.outcome {
        ImageOutcome::Verified { digest, verdict } => (
            "verified",
            Some(digest.clone()),
            verdict
                .passing_signature()
                .and_then(|s| s.signer_subject.clone()),
            verdict.statement.clone(),
            None,
        ),
        ImageOutcome::Skipped { statement } => {
            ("skipped", None, None, Some(statement.clone()), None)
        }
        ImageOutcome::Excepted { exception, .. } => (
            "excepted",
            None,
            None,
            None,
            Some(format!("exception {exception}")),
        ),
        ImageOutcome::Failed {
            reason,
            digest,
            verdict,
            ..
        } => (
            "failed",
            digest.clone(),
            verdict
                .as_ref()
                .and_then(|v| v.signatures.first())
                .and_then(|s| s.signer_subject.clone()),
            verdict.as_ref().and_then(|v| v.statement.clone()),
            Some(reason.to_string()),
        ),
    };
    serde_json::json!({
        "image": r.image,
        "digest": digest,
        "signer": signer,
        "statement": statement,
        "outcome": outcome,
        "reason": reason,
    })
    .to_string()
}
