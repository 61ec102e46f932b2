//! One image: exception, trust policy scope, digest, bundle, verification.
//! Every path that cannot prove the image verified ends in a failure with a
//! reason code (fail closed).

use chrono::{DateTime, Utc};
use notation_verifier::bundle;
use notation_verifier::reference::{validate_digest, ImageRef};
use notation_verifier::settings::{ExceptionMatch, ValidatedSettings};
use notation_verifier::trust_policy::Level;
use notation_verifier::verdict::{Outcome, ReasonCode, Verdict};
use notation_verifier::verify::{Descriptor, Signature, VerificationInput};

use crate::host::Registry;

#[derive(Debug, Clone, PartialEq)]
pub enum ImageOutcome {
    /// A signature verified; the image may be pinned to `digest`.
    Verified { digest: String, verdict: Verdict },
    /// The applicable statement has level `skip`.
    Skipped { statement: String },
    /// A live exception admits the image without verification.
    Excepted {
        exception: String,
        reason: Option<String>,
        expires: DateTime<Utc>,
        days_left: i64,
    },
    /// Verification failed or could not be done.
    Failed {
        reason: ReasonCode,
        message: String,
        digest: Option<String>,
        verdict: Option<Verdict>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageResult {
    /// As written in the object.
    pub image: String,
    /// Normalised (`docker.io/library/nginx:latest`), when it parsed.
    pub normalized: Option<String>,
    pub outcome: ImageOutcome,
    /// Things to tell the user even when admitted (expired exception,
    /// logged failures of the passing signature).
    pub notes: Vec<String>,
}

impl ImageResult {
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, ImageOutcome::Failed { .. })
    }
}

fn failure(reason: ReasonCode, message: impl Into<String>) -> ImageOutcome {
    ImageOutcome::Failed {
        reason,
        message: message.into(),
        digest: None,
        verdict: None,
    }
}

pub fn evaluate_image(
    image: &str,
    settings: &ValidatedSettings,
    registry: &dyn Registry,
    now: DateTime<Utc>,
) -> ImageResult {
    let mut result = ImageResult {
        image: image.to_string(),
        normalized: None,
        outcome: failure(ReasonCode::InvalidReference, ""),
        notes: Vec::new(),
    };
    let reference = match ImageRef::parse(image) {
        Ok(r) => r,
        Err(e) => {
            result.outcome = failure(ReasonCode::InvalidReference, e.to_string());
            return result;
        }
    };
    let normalized = reference.normalized();
    result.normalized = Some(normalized.clone());
    match settings.exception_for(&normalized, now) {
        ExceptionMatch::Active {
            exception,
            reason,
            expires,
            days_left,
        } => {
            result.outcome = ImageOutcome::Excepted {
                exception: exception.to_string(),
                reason: reason.map(str::to_string),
                expires,
                days_left,
            };
            return result;
        }
        ExceptionMatch::Expired { exception, expired } => result.notes.push(format!(
            "exception \"{exception}\" expired on {} and no longer applies",
            expired.format("%Y-%m-%d %H:%M UTC")
        )),
        ExceptionMatch::None => {}
    }
    result.outcome = verify_reference(&reference, settings, registry, now, &mut result.notes);
    result
}

fn verify_reference(
    reference: &ImageRef,
    settings: &ValidatedSettings,
    registry: &dyn Registry,
    now: DateTime<Utc>,
    notes: &mut Vec<String>,
) -> ImageOutcome {
    let repository = reference.repository_path();
    // Scope first: a `skip` statement or a missing one needs no registry call.
    match settings.verifier.policy.statement_for(&repository) {
        Ok(s) if s.level == Level::Skip => {
            return ImageOutcome::Skipped {
                statement: s.name.clone(),
            }
        }
        // The statement's trust stores, parsed once per request; a broken
        // one fails the image before any registry call.
        Ok(s) => {
            resolve_store_references(s, settings, registry);
            if let Err(message) = settings.verifier.load_statement_stores(s) {
                return failure(ReasonCode::TrustStoreError, message);
            }
        }
        Err(e) => return failure(ReasonCode::NoApplicablePolicy, e.to_string()),
    }
    let digest = match resolve_digest(reference, registry) {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let fail_at = |reason: ReasonCode, message: String| ImageOutcome::Failed {
        reason,
        message,
        digest: Some(digest.clone()),
        verdict: None,
    };
    let location = settings.bundle_location_for(&reference.normalized());
    let bundle_ref = match location {
        Some(l) => bundle::external_bundle_reference(
            &l.repository,
            reference.registry(),
            reference.repository(),
            &digest,
        ),
        None => bundle::bundle_tag(&digest).map(|tag| reference.with_tag(&tag)),
    };
    let bundle_ref = match bundle_ref {
        Ok(r) => r,
        Err(e) => return fail_at(ReasonCode::RegistryError, e.to_string()),
    };
    let manifest = match registry.oci_manifest(&bundle_ref) {
        Ok(m) => m,
        Err(e) if e.is_not_found() => {
            let attach = match location {
                Some(l) => format!(
                    "vns attach --bundle-repository {} {}",
                    l.repository,
                    reference.at_digest(&digest)
                ),
                None => format!("vns attach {}", reference.at_digest(&digest)),
            };
            return fail_at(
                ReasonCode::NoSignature,
                format!(
                    "no signature bundle {bundle_ref}: the image is unsigned or its signatures were not published; run `{attach}`"
                ),
            );
        }
        Err(e) => return fail_at(ReasonCode::RegistryError, e.to_string()),
    };
    let contents = match bundle::read_bundle(&manifest, &digest, settings.limits.max_signatures) {
        Ok(c) => c,
        Err(e) => {
            return fail_at(
                ReasonCode::InvalidBundle,
                format!("signature bundle {bundle_ref}: {e}"),
            )
        }
    };
    // A bundle kept elsewhere names its image in annotations (no subject:
    // referrers are per repository); they must name this image.
    let named = match location {
        Some(_) => match bundle::check_named_subject(&manifest, &digest, &repository) {
            Ok(n) => Some(n),
            Err(e) => {
                return fail_at(
                    ReasonCode::InvalidBundle,
                    format!("signature bundle {bundle_ref}: {e}"),
                )
            }
        },
        None => None,
    };
    if named.is_none() && contents.subject.is_none() {
        return fail_at(
            ReasonCode::InvalidBundle,
            format!("signature bundle {bundle_ref} has no subject descriptor; re-publish it with `vns attach`"),
        );
    }
    let subject_size = contents
        .subject
        .as_ref()
        .map(|s| s.size)
        .or(named.as_ref().and_then(|n| n.size));
    let subject_media_type = contents.subject.as_ref().map(|s| s.media_type.clone());
    let mut layer_errors = Vec::new();
    let mut envelopes = Vec::new();
    for layer in &contents.envelopes {
        match layer {
            Ok(env) => envelopes.push(env),
            Err(e) => layer_errors.push(e.to_string()),
        }
    }
    let signatures: Vec<Signature<'_>> = envelopes
        .iter()
        .map(|e| Signature {
            media_type: e.media_type.as_str(),
            envelope: e.bytes.as_slice(),
        })
        .collect();
    if signatures.is_empty() && !layer_errors.is_empty() {
        return fail_at(
            ReasonCode::InvalidBundle,
            format!(
                "signature bundle {bundle_ref}: no usable envelope: {}",
                layer_errors.join("; ")
            ),
        );
    }
    // Without a subject or a size annotation (an external bundle written by
    // another tool), the size is the one the signed payloads claim: the
    // subject's was never more trustworthy, and the digest binds the content.
    let Some(size) = subject_size.or_else(|| payload_size(&signatures)) else {
        return fail_at(
            ReasonCode::InvalidBundle,
            format!("signature bundle {bundle_ref} names the image's digest but not its size, and no envelope in it could be read; re-publish it with `vns attach`"),
        );
    };
    let staples: Vec<&bundle::Staple> =
        envelopes.iter().flat_map(|e| e.revocation.iter()).collect();
    let revocation = bundle::material_of(staples.iter().copied());
    notes.extend(bundle::stale_staple_warnings(staples.iter().copied(), now));
    // The signed descriptor is compared with what the registry says, not
    // with the bundle (which anyone who can push may write): the digest is
    // the host's, the media type the host's manifest of that digest. Only
    // the size is the bundle's: the host re-serialises manifests, so their
    // byte length is not available; the digest binds the content anyway.
    let media_type = match registry_media_type(reference, &digest, registry) {
        Ok(m) => m,
        Err(message) => return fail_at(ReasonCode::RegistryError, message),
    };
    if let Some(claimed) = subject_media_type.filter(|m| *m != media_type) {
        notes.push(format!(
            "signature bundle {bundle_ref} names media type {claimed} for the image, the registry {media_type}; re-publish it with `vns attach`"
        ));
    }
    let descriptor = Descriptor {
        media_type,
        digest: digest.clone(),
        size,
    };
    // Each envelope's digest was checked against its layer by read_bundle.
    let digests: Vec<&str> = envelopes.iter().map(|e| e.layer_digest.as_str()).collect();
    let input = VerificationInput {
        repository: &repository,
        descriptor: &descriptor,
        signatures: &signatures,
        time: now,
        revocation: &revocation,
        limits: settings.limits,
    };
    let verdict = settings.verifier.verify_with_digests(&input, &digests);
    match verdict.outcome {
        Outcome::Verified => {
            notes.extend(verdict.warnings());
            ImageOutcome::Verified { digest, verdict }
        }
        Outcome::Skipped => ImageOutcome::Skipped {
            statement: verdict.statement.clone().unwrap_or_default(),
        },
        Outcome::Failed => {
            let (mut reason, mut message) = verdict
                .failure
                .as_ref()
                .map(|f| (f.reason, f.message.clone()))
                .unwrap_or((ReasonCode::NoSignature, "verification failed".to_string()));
            if contents.truncated {
                reason = ReasonCode::SignatureLimitReached;
                message = format!(
                    "the configured limit of {} signatures was reached and none passed ({message})",
                    settings.limits.max_signatures
                );
            }
            if !layer_errors.is_empty() {
                message = format!(
                    "{message}; unusable bundle layers: {}",
                    layer_errors.join("; ")
                );
            }
            ImageOutcome::Failed {
                reason,
                message,
                digest: Some(digest),
                verdict: Some(verdict),
            }
        }
    }
}

/// The size the first readable envelope's payload gives its target.
fn payload_size(signatures: &[Signature<'_>]) -> Option<u64> {
    signatures.iter().find_map(|s| {
        notation_verifier::envelope::parse_and_verify(s.media_type, s.envelope)
            .ok()
            .map(|e| e.payload.target.size)
    })
}

/// Reads, once per request, every trust store of `statement` that is kept
/// in a ConfigMap or Secret (and only those: other images' stores are not
/// read). A failure is kept as the store's error, so the images whose
/// statement names it fail with `TRUST_STORE_ERROR`.
fn resolve_store_references(
    statement: &notation_verifier::trust_policy::Statement,
    settings: &ValidatedSettings,
    registry: &dyn Registry,
) {
    let stores = &settings.verifier.stores;
    for r in &statement.trust_stores {
        let Some(object) = stores.unresolved(r.store_type, &r.name) else {
            continue;
        };
        let content = registry
            .get_resource(object.kind.as_str(), &object.namespace, &object.name)
            .map_err(|e| format!("cannot read it: {}", e.message))
            .and_then(|value| notation_verifier::trust_store::store_bytes(object, &value));
        stores.resolve(r.store_type, &r.name, content);
    }
}

/// The media type of the image manifest `digest`, from the host's
/// `oci/v1/oci_manifest` answer for `repository@digest` (the host checks that
/// the body it read hashes to that digest). A manifest without a
/// `mediaType` member is an OCI one (Docker's schema 2 types always carry
/// it): an index when it lists manifests, else an image manifest.
fn registry_media_type(
    reference: &ImageRef,
    digest: &str,
    registry: &dyn Registry,
) -> Result<String, String> {
    let manifest = registry
        .oci_manifest(&reference.at_digest(digest))
        .map_err(|e| e.to_string())?;
    Ok(match manifest.get("mediaType") {
        Some(serde_json::Value::String(m)) => m.clone(),
        None | Some(serde_json::Value::Null) if manifest.get("manifests").is_some() => {
            OCI_INDEX.to_string()
        }
        None | Some(serde_json::Value::Null) => OCI_MANIFEST.to_string(),
        Some(other) => {
            return Err(format!(
                "the registry's manifest {} has a mediaType that is not a string: {other}",
                reference.at_digest(digest)
            ))
        }
    })
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

// The error is the image's final outcome, built once per image: its size
// does not matter on this path.
#[allow(clippy::result_large_err)]
fn resolve_digest(reference: &ImageRef, registry: &dyn Registry) -> Result<String, ImageOutcome> {
    if let Some(d) = reference.digest() {
        return Ok(d.to_string());
    }
    let tagged = reference.tagged().ok_or_else(|| {
        failure(
            ReasonCode::InvalidReference,
            "reference has neither tag nor digest",
        )
    })?;
    let digest = registry.manifest_digest(&tagged).map_err(|e| {
        if e.is_not_found() {
            failure(
                ReasonCode::RegistryError,
                format!("{tagged} does not exist in the registry: {}", e.message),
            )
        } else {
            failure(ReasonCode::RegistryError, e.to_string())
        }
    })?;
    validate_digest(&digest).map_err(|e| {
        failure(
            ReasonCode::RegistryError,
            format!("the registry answered an invalid digest for {tagged}: {e}"),
        )
    })?;
    Ok(digest)
}

#[cfg(test)]
mod lazy_store_tests {
    //! Per request, only the trust stores of the applicable statement are
    //! parsed; `validate_settings` still rejects any invalid store.

    use notation_verifier::bundle::{self, BundleLayer};
    use notation_verifier::verify::Descriptor;
    use serde_json::{json, Value};
    use sha2::{Digest, Sha256};

    use crate::host::fake::FakeRegistry;
    use crate::settings::validate_settings_payload;
    use crate::validate_payload;

    const DIGEST: &str = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";
    const REPO: &str = "registry.example.com/synthetic/strict";
    const BROKEN: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(testdata::path("notation/synthetic").join(path)).unwrap()
    }

    fn registry() -> FakeRegistry {
        let envelope = read("envelopes/valid/jws-rsa2048-PS256.jws");
        let layer = BundleLayer {
            media_type: "application/jose+json".into(),
            digest: format!("sha256:{}", hex::encode(Sha256::digest(&envelope))),
            size: envelope.len() as u64,
            envelope,
            signature_manifest: format!("sha256:{}", "5".repeat(64)),
            thumbprints: None,
            revocation: Vec::new(),
        };
        let descriptor = Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: DIGEST.into(),
            size: 246,
        };
        let mut r = FakeRegistry::default();
        r.digests.insert(format!("{REPO}:v1"), Ok(DIGEST.into()));
        r.manifests.insert(
            format!("{REPO}@{DIGEST}"),
            Ok(json!({"schemaVersion": 2, "mediaType": descriptor.media_type})),
        );
        r.manifests.insert(
            format!("{REPO}:{}", bundle::bundle_tag(DIGEST).unwrap()),
            Ok(bundle::build_manifest(&descriptor, &[layer], now())),
        );
        r
    }

    /// `synthetic` (our image) names `ca:<store>`; `other` names `ca:broken`.
    fn settings(store: &str) -> Value {
        let root = String::from_utf8(read("truststore/x509/ca/synthetic-root/root.pem")).unwrap();
        json!({
            "trustPolicy": {"version": "1.0", "trustPolicies": [
                {
                    "name": "synthetic",
                    "registryScopes": [REPO],
                    "signatureVerification": {"level": "strict"},
                    "trustStores": [format!("ca:{store}")],
                    "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Synthetic Notation Test"]
                },
                {
                    "name": "other",
                    "registryScopes": ["registry.example.com/other"],
                    "signatureVerification": {"level": "strict"},
                    "trustStores": ["ca:broken"],
                    "trustedIdentities": ["*"]
                }
            ]},
            "trustStores": {"ca": {"synthetic-root": root, "broken": BROKEN}}
        })
    }

    fn create_pod(settings: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "settings": settings,
            "request": {
                "uid": "1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "operation": "CREATE",
                "name": "p",
                "namespace": "default",
                "userInfo": {"username": "admin"},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"containers": [{"name": "c", "image": format!("{REPO}:v1")}]}},
                "oldObject": null
            }
        }))
        .unwrap()
    }

    #[test]
    fn an_unused_invalid_store_is_rejected_by_validate_settings_but_not_parsed_per_request() {
        let invalid =
            validate_settings_payload(&serde_json::to_vec(&settings("synthetic-root")).unwrap());
        assert!(!invalid.valid);
        let message = invalid.message.unwrap();
        assert!(
            message.starts_with("trustStores: trust store \"broken\" of type \"ca\""),
            "{message}"
        );

        let registry = registry();
        let r = validate_payload(&create_pod(settings("synthetic-root")), &registry, now());
        assert!(r.accepted, "{:?}", r.message);
        assert_eq!(registry.calls.borrow().len(), 3);
    }

    #[test]
    fn a_used_invalid_store_fails_the_image_with_trust_store_error_before_registry_calls() {
        let expected = validate_settings_payload(&serde_json::to_vec(&settings("broken")).unwrap())
            .message
            .unwrap();
        let registry = registry();
        let r = validate_payload(&create_pod(settings("broken")), &registry, now());
        assert!(!r.accepted);
        let message = r.message.unwrap();
        assert!(message.contains("TRUST_STORE_ERROR"), "{message}");
        assert!(message.contains(&expected), "{message}\n{expected}");
        assert!(registry.calls.borrow().is_empty());
    }
}
