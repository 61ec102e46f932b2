//! Verification from the signature bundle (docs/signature-bundle.md), when
//! the image has one: the envelopes and the stapled revocation material are
//! the bundle's, read by the policy's reader, so a bundled image gets the
//! verdict the Kubewarden policy gives it, offline.
//!
//! Bundle first, and then the bundle alone: when the tag
//! `sha256-<hex>.notation` exists, signatures only in the registry do not
//! count and no OCSP responder or CRL is asked (stale or missing staples
//! make the revocation status unknown, as in the policy). Counting both
//! would admit what the policy denies; the registry is read only for images
//! without a bundle. A bundle that cannot be read fails the image
//! (INVALID_BUNDLE), as in the policy.
//!
//! Where the settings' `bundleLocations` send the image's bundle to another
//! repository, it is read there, and its annotations must name this image
//! (digest and repository), by the policy's reader rules.

use chrono::{DateTime, Utc};
use notation_verifier::bundle;
use notation_verifier::reference::ImageRef;
use notation_verifier::settings::ValidatedSettings;
use notation_verifier::verdict::ReasonCode;

use crate::registry::{FoundSignature, Registry};
use crate::verify::{self, Fetched, ImageReport, Status};

/// Where the bundle of `reference` lives: the repository (as an image
/// reference the registry client can use), its tag, and whether it is kept
/// outside the image's repository (`bundleLocations`).
pub struct BundleSite {
    pub repository: ImageRef,
    pub tag: String,
    pub external: bool,
}

/// The bundle's site for `reference` at `digest`, by the first matching
/// `bundleLocations` entry, else the image's own repository.
pub fn site(
    settings: &ValidatedSettings,
    reference: &ImageRef,
    digest: &str,
) -> Result<BundleSite, String> {
    match settings.bundle_location_for(&reference.normalized()) {
        Some(location) => {
            let whole = bundle::external_bundle_reference(
                &location.repository,
                reference.registry(),
                reference.repository(),
                digest,
            )
            .map_err(|e| e.to_string())?;
            let repository = ImageRef::parse(&whole).map_err(|e| e.to_string())?;
            let tag = repository
                .tag()
                .map(str::to_owned)
                .ok_or_else(|| format!("bundle reference {whole} has no tag"))?;
            Ok(BundleSite {
                repository,
                tag,
                external: true,
            })
        }
        None => Ok(BundleSite {
            repository: reference.clone(),
            tag: bundle::bundle_tag(digest).map_err(|e| e.to_string())?,
            external: false,
        }),
    }
}

/// The verdict from the bundle of `reference` (a digest reference), or
/// `None` when the image has no bundle. `bundle_registry` serves `site`
/// (the image's registry unless the bundle is kept elsewhere).
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    registry: &Registry,
    bundle_registry: &Registry,
    site: Result<BundleSite, String>,
    settings: &ValidatedSettings,
    reference: &ImageRef,
    digest: &str,
    report: ImageReport,
    now: DateTime<Utc>,
) -> Option<ImageReport> {
    let site = match site {
        Ok(s) => s,
        Err(e) => return Some(report.fail(Status::Failed, ReasonCode::InvalidReference, e)),
    };
    let bundle_ref = format!("{}:{}", site.repository.repository_path(), site.tag);
    let bytes = match bundle_registry.manifest(&site.repository, &site.tag).await {
        Ok((bytes, _)) => bytes,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            return Some(report.fail(
                Status::RegistryError,
                ReasonCode::RegistryError,
                e.to_string(),
            ))
        }
    };
    let invalid = |report: ImageReport, message: String| {
        report.fail(
            Status::Failed,
            ReasonCode::InvalidBundle,
            format!("signature bundle {bundle_ref}: {message}; re-publish it with `vns attach`"),
        )
    };
    let manifest: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Some(invalid(report, format!("not JSON: {e}"))),
    };
    let max = settings.limits.max_signatures;
    let contents = match bundle::read_bundle(&manifest, digest, max) {
        Ok(c) => c,
        Err(e) => return Some(invalid(report, e.to_string())),
    };
    // Kept elsewhere, the bundle names its image in annotations (no
    // subject: referrers are per repository); they must name this image.
    if site.external {
        if let Err(e) = bundle::check_named_subject(&manifest, digest, &reference.repository_path())
        {
            return Some(invalid(report, e.to_string()));
        }
    } else if contents.subject.is_none() {
        return Some(invalid(report, "no subject descriptor".into()));
    }
    // The signed descriptor is the registry's (the bundle is untrusted).
    let descriptor = match registry.resolve(reference).await {
        Ok(d) => d,
        Err(e) => {
            return Some(report.fail(
                Status::RegistryError,
                ReasonCode::RegistryError,
                e.to_string(),
            ))
        }
    };
    let mut layer_errors = Vec::new();
    let mut envelopes = Vec::new();
    for layer in contents.envelopes {
        match layer {
            Ok(env) => envelopes.push(env),
            Err(e) => layer_errors.push(e.to_string()),
        }
    }
    if envelopes.is_empty() && !layer_errors.is_empty() {
        let message = format!("no usable envelope: {}", layer_errors.join("; "));
        return Some(invalid(report, message));
    }
    let staples: Vec<&bundle::Staple> =
        envelopes.iter().flat_map(|e| e.revocation.iter()).collect();
    // The same warnings as the policy gives.
    let warnings = bundle::stale_staple_warnings(staples.iter().copied(), now);
    let fetched = Fetched {
        revocation: bundle::material_of(staples.iter().copied()),
        digest: digest.to_string(),
        descriptor,
        signatures: envelopes
            .into_iter()
            .map(|e| FoundSignature {
                manifest_digest: e.signature_manifest.unwrap_or(e.layer_digest),
                media_type: e.media_type,
                envelope: e.bytes,
                thumbprints: None,
            })
            .collect(),
    };
    let mut report = verify::report_fetched(settings, reference, &fetched, report, now);
    report.warnings.extend(warnings);
    if report.status == Status::Failed {
        if contents.truncated {
            report.reason = Some(ReasonCode::SignatureLimitReached);
            report.hint = Some(ReasonCode::SignatureLimitReached.hint().to_string());
            report.message = Some(format!(
                "the configured limit of {max} signatures was reached and none passed ({})",
                report.message.unwrap_or_default()
            ));
        }
        if !layer_errors.is_empty() {
            report.message = Some(format!(
                "{}; unusable bundle layers: {}",
                report.message.unwrap_or_default(),
                layer_errors.join("; ")
            ));
        }
    }
    Some(report)
}
