//! `vns verify`: the deploy gate for paths without an admission controller.
//! Same settings and the same verifier as the policy, but signatures are
//! read straight from the registry (Referrers API / tag schema), so no
//! bundle is needed.

use chrono::{DateTime, Utc};
use notation_verifier::reference::ImageRef;
use notation_verifier::revocation::RevocationMaterial;
use notation_verifier::settings::{Enforcement, ExceptionMatch, ValidatedSettings};
use notation_verifier::trust_policy::Level;
use notation_verifier::verdict::{Outcome, ReasonCode, Verdict};
use notation_verifier::verify::{Signature, VerificationInput};
use serde::Serialize;

use crate::registry::{FoundSignature, Registry};
use crate::revocation_cache::RevocationCache;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Verified,
    Failed,
    Excepted,
    Skipped,
    RegistryError,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    pub image: String,
    pub normalized: Option<String>,
    pub digest: Option<String>,
    pub status: Status,
    pub reason: Option<ReasonCode>,
    pub message: Option<String>,
    pub hint: Option<String>,
    pub signer: Option<String>,
    pub statement: Option<String>,
    pub warnings: Vec<String>,
    /// Signatures found in the registry (before the verification limit).
    pub signatures_found: usize,
    pub verdict: Option<Verdict>,
}

impl ImageReport {
    pub fn new(image: &str) -> Self {
        ImageReport {
            image: image.to_string(),
            normalized: None,
            digest: None,
            status: Status::Failed,
            reason: None,
            message: None,
            hint: None,
            signer: None,
            statement: None,
            warnings: Vec::new(),
            signatures_found: 0,
            verdict: None,
        }
    }

    pub fn fail(mut self, status: Status, reason: ReasonCode, message: String) -> Self {
        self.status = status;
        self.hint = Some(reason.hint().to_string());
        self.reason = Some(reason);
        self.message = Some(message);
        self
    }
}

/// What the registry holds for one image, read once and shared by
/// `verify` and `scan`.
pub struct Fetched {
    /// OCSP responses and CRLs fetched online for the chains.
    pub revocation: RevocationMaterial,
    pub digest: String,
    pub descriptor: notation_verifier::verify::Descriptor,
    pub signatures: Vec<FoundSignature>,
}

pub async fn fetch(
    registry: &Registry,
    image: &ImageRef,
    max: usize,
) -> Result<Fetched, crate::registry::RegistryError> {
    fetch_cached(registry, image, max, None).await
}

/// [`fetch`], asking `cache` before the OCSP responders and CRL
/// distribution points (`vns serve`).
pub async fn fetch_cached(
    registry: &Registry,
    image: &ImageRef,
    max: usize,
    cache: Option<&RevocationCache>,
) -> Result<Fetched, crate::registry::RegistryError> {
    let descriptor = registry.resolve(image).await?;
    let mut signatures = Vec::new();
    for manifest in registry
        .signature_manifests(image, &descriptor.digest)
        .await?
    {
        if signatures.len() >= max {
            break;
        }
        if let Some(sig) = registry.signature(image, &manifest).await? {
            signatures.push(sig);
        }
    }
    // Online revocation, with the same validation code as the policy.
    let client = crate::staple::http_client();
    let mut staples = Vec::new();
    for sig in signatures.iter().filter(|s| s.is_envelope()) {
        let stapled =
            crate::staple::staple_cached(&client, cache, &sig.media_type, &sig.envelope).await;
        for p in stapled.problems {
            tracing::info!("{}: revocation: {p}", image.normalized());
        }
        staples.extend(stapled.staples);
    }
    Ok(Fetched {
        revocation: notation_verifier::bundle::material_of(&staples),
        digest: descriptor.digest.clone(),
        descriptor,
        signatures,
    })
}

/// Runs the core verifier over fetched signatures.
pub fn verify_fetched(
    settings: &ValidatedSettings,
    image: &ImageRef,
    fetched: &Fetched,
    now: DateTime<Utc>,
) -> Verdict {
    let signatures: Vec<Signature<'_>> = fetched
        .signatures
        .iter()
        .map(|s| Signature {
            media_type: s.media_type.as_str(),
            envelope: s.envelope.as_slice(),
        })
        .collect();
    let revocation = &fetched.revocation;
    let repository = image.repository_path();
    settings.verifier.verify(&VerificationInput {
        repository: &repository,
        descriptor: &fetched.descriptor,
        signatures: &signatures,
        time: now,
        revocation,
        limits: settings.limits,
    })
}

pub async fn verify_image(
    registry: &Registry,
    settings: &ValidatedSettings,
    image: &str,
    now: DateTime<Utc>,
) -> ImageReport {
    match precheck(settings, image, now) {
        Precheck::Decided(report) => report,
        Precheck::NeedsRegistry(reference, report) => {
            verify_reference(registry, settings, &reference, report, now).await
        }
    }
}

/// What can be decided about an image before any registry call.
pub enum Precheck {
    /// Invalid reference, live exception, `skip` statement or no statement.
    Decided(ImageReport),
    /// The image must be verified; the report carries what was found so far
    /// (an expired exception's warning).
    NeedsRegistry(ImageRef, ImageReport),
}

/// Reference, exceptions and trust policy scope, in the policy's order;
/// `vns serve` runs this before resolving the digest its cache is keyed by.
pub fn precheck(settings: &ValidatedSettings, image: &str, now: DateTime<Utc>) -> Precheck {
    let report = ImageReport::new(image);
    let reference = match ImageRef::parse(image) {
        Ok(r) => r,
        Err(e) => {
            return Precheck::Decided(report.fail(
                Status::Failed,
                ReasonCode::InvalidReference,
                e.to_string(),
            ))
        }
    };
    let mut report = ImageReport {
        normalized: Some(reference.normalized()),
        ..report
    };
    match settings.exception_for(&reference.normalized(), now) {
        ExceptionMatch::Active {
            exception,
            reason,
            expires,
            days_left,
        } => {
            report.status = Status::Excepted;
            report.message = Some(format!(
                "admitted without verification by exception \"{exception}\"{} until {} ({days_left} days left)",
                reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                expires.format("%Y-%m-%d %H:%M UTC")
            ));
            return Precheck::Decided(report);
        }
        ExceptionMatch::Expired { exception, expired } => report.warnings.push(format!(
            "exception \"{exception}\" expired on {} and no longer applies",
            expired.format("%Y-%m-%d %H:%M UTC")
        )),
        ExceptionMatch::None => {}
    }
    match settings
        .verifier
        .policy
        .statement_for(&reference.repository_path())
    {
        Ok(s) if s.level == Level::Skip => {
            report.status = Status::Skipped;
            report.statement = Some(s.name.clone());
            report.message = Some(format!(
                "trust policy statement \"{}\" skips verification",
                s.name
            ));
            return Precheck::Decided(report);
        }
        Ok(_) => {}
        Err(e) => {
            return Precheck::Decided(report.fail(
                Status::Failed,
                ReasonCode::NoApplicablePolicy,
                e.to_string(),
            ))
        }
    }
    Precheck::NeedsRegistry(reference, report)
}

/// Fetches the signatures of `reference` (a digest reference resolves
/// without reading a tag) and runs the verifier over them.
pub async fn verify_reference(
    registry: &Registry,
    settings: &ValidatedSettings,
    reference: &ImageRef,
    report: ImageReport,
    now: DateTime<Utc>,
) -> ImageReport {
    verify_reference_cached(registry, settings, reference, report, now, None).await
}

/// [`verify_reference`] with online revocation answers kept in `cache`.
pub async fn verify_reference_cached(
    registry: &Registry,
    settings: &ValidatedSettings,
    reference: &ImageRef,
    report: ImageReport,
    now: DateTime<Utc>,
    cache: Option<&RevocationCache>,
) -> ImageReport {
    let max = settings.limits.max_signatures;
    let fetched = match fetch_cached(registry, reference, max, cache).await {
        Ok(f) => f,
        Err(e) => {
            return report.fail(
                Status::RegistryError,
                ReasonCode::RegistryError,
                e.to_string(),
            )
        }
    };
    report_fetched(settings, reference, &fetched, report, now)
}

/// The report of a verification over `fetched` (from the registry, or from
/// a signature bundle in `vns serve`).
pub fn report_fetched(
    settings: &ValidatedSettings,
    reference: &ImageRef,
    fetched: &Fetched,
    mut report: ImageReport,
    now: DateTime<Utc>,
) -> ImageReport {
    report.digest = Some(fetched.digest.clone());
    report.signatures_found = fetched.signatures.len();
    let verdict = verify_fetched(settings, reference, fetched, now);
    report.statement = verdict.statement.clone();
    report.signer = verdict
        .passing_signature()
        .or(verdict.signatures.first())
        .and_then(|s| s.signer_subject.clone());
    report.warnings.extend(verdict.warnings());
    match verdict.outcome {
        Outcome::Verified => report.status = Status::Verified,
        Outcome::Skipped => report.status = Status::Skipped,
        Outcome::Failed => {
            let (reason, message) = verdict
                .failure
                .as_ref()
                .map(|f| (f.reason, f.message.clone()))
                .unwrap_or((ReasonCode::NoSignature, "verification failed".into()));
            let message = if reason == ReasonCode::NoSignature {
                format!(
                    "{message}; sign it with `notation sign {}`",
                    reference.at_digest(&fetched.digest)
                )
            } else {
                message
            };
            report = report.fail(Status::Failed, reason, message);
        }
    }
    report.verdict = Some(verdict);
    report
}

/// Exit code of a `verify` run. With `enforcement: warn` the gate only
/// reports: 0 whatever it found (failures and registry errors are printed
/// and in the JSON), so a warn-phase pipeline is never blocked by it. With
/// `deny`: 3 if the registry failed us, else 1 if an image failed, else 0.
/// Usage errors (exit 2) are decided before any image is verified.
pub fn exit_code(reports: &[ImageReport], enforcement: Enforcement) -> i32 {
    if enforcement == Enforcement::Warn {
        0
    } else if reports.iter().any(|r| r.status == Status::RegistryError) {
        3
    } else if reports.iter().any(|r| r.status == Status::Failed) {
        1
    } else {
        0
    }
}

/// The closing line of a warn-mode run that found problems, so that a
/// reader of the log sees why the step passed.
pub fn warn_summary(reports: &[ImageReport], enforcement: Enforcement) -> Option<String> {
    if enforcement != Enforcement::Warn {
        return None;
    }
    let failed = reports
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    let errors = reports
        .iter()
        .filter(|r| r.status == Status::RegistryError)
        .count();
    (failed + errors > 0).then(|| {
        format!(
            "enforcement: warn: {failed} image(s) failed verification and {errors} could not be read from the registry; not blocking (exit 0). With enforcement: deny this run would exit {}.",
            if errors > 0 { 3 } else { 1 }
        )
    })
}

pub fn render_human(reports: &[ImageReport], enforcement: Enforcement) -> String {
    let mut out = String::new();
    for r in reports {
        let label = match r.status {
            Status::Verified => "VERIFIED",
            Status::Failed if enforcement == Enforcement::Warn => "WARN",
            Status::Failed => "FAILED",
            Status::Excepted => "EXCEPTED",
            Status::Skipped => "SKIPPED",
            Status::RegistryError if enforcement == Enforcement::Warn => "WARN",
            Status::RegistryError => "ERROR",
        };
        out.push_str(&format!("{label:9} {}", r.image));
        if let Some(d) = &r.digest {
            out.push_str(&format!(" ({d})"));
        }
        out.push('\n');
        if let Some(s) = &r.signer {
            out.push_str(&format!("          signer: {s}\n"));
        }
        if let Some(st) = &r.statement {
            out.push_str(&format!("          trust policy statement: {st}\n"));
        }
        if let Some(reason) = r.reason {
            out.push_str(&format!(
                "          {reason}: {}\n",
                r.message.as_deref().unwrap_or_default()
            ));
            if let Some(h) = &r.hint {
                out.push_str(&format!("          what to do: {h}\n"));
            }
        } else if let Some(m) = &r.message {
            out.push_str(&format!("          {m}\n"));
        }
        for w in &r.warnings {
            out.push_str(&format!("          warning: {w}\n"));
        }
    }
    if let Some(summary) = warn_summary(reports, enforcement) {
        out.push_str(&summary);
        out.push('\n');
    }
    out
}
