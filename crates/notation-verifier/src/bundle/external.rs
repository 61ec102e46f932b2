//! Bundles kept outside the image's repository (`bundleLocations`): where
//! such a bundle lives, how the writer names the image in it (no `subject`:
//! the Referrers API works within one repository), and the reader's check
//! that it names the image being verified.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{build_manifest, bundle_tag, BundleError, BundleLayer};
use crate::verify::Descriptor;

/// The signed manifest's digest.
pub const ANNOTATION_SUBJECT_DIGEST: &str = "dev.vns.notation.subject.digest";
/// The image's normalised repository (`registry/path`).
pub const ANNOTATION_SUBJECT_REPOSITORY: &str = "dev.vns.notation.subject.repository";
/// The signed manifest's size in bytes (decimal), which a `subject` would
/// carry; written by `vns`, optional for readers (see [`NamedSubject`]).
pub const ANNOTATION_SUBJECT_SIZE: &str = "dev.vns.notation.subject.size";

/// The repository that holds the bundle of `image_registry/image_path` under
/// `bundle_repository`: `<bundle_repository>/<registry>/<path>`, the
/// registry's `:` before a port written `_` (a repository path may not
/// contain `:`).
pub fn external_repository(
    bundle_repository: &str,
    image_registry: &str,
    image_path: &str,
) -> String {
    format!(
        "{bundle_repository}/{}/{image_path}",
        image_registry.replace(':', "_")
    )
}

/// `<external repository>:<alg>-<hex>.notation`.
pub fn external_bundle_reference(
    bundle_repository: &str,
    image_registry: &str,
    image_path: &str,
    digest: &str,
) -> Result<String, BundleError> {
    Ok(format!(
        "{}:{}",
        external_repository(bundle_repository, image_registry, image_path),
        bundle_tag(digest)?
    ))
}

/// The bundle manifest for a bundle kept outside `repository` (the image's
/// normalised repository): no `subject`, the image named in annotations.
pub fn build_external_manifest(
    subject: &Descriptor,
    repository: &str,
    layers: &[BundleLayer],
    created: DateTime<Utc>,
) -> Value {
    let mut manifest = build_manifest(subject, layers, created);
    if let Some(obj) = manifest.as_object_mut() {
        obj.remove("subject");
        let annotations = obj
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(
                ANNOTATION_SUBJECT_DIGEST.into(),
                Value::String(subject.digest.clone()),
            );
            a.insert(
                ANNOTATION_SUBJECT_REPOSITORY.into(),
                Value::String(repository.to_string()),
            );
            a.insert(
                ANNOTATION_SUBJECT_SIZE.into(),
                Value::String(subject.size.to_string()),
            );
        }
    }
    manifest
}

/// What an external bundle says about the image it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSubject {
    pub digest: String,
    pub repository: String,
    /// The size annotation, when the writer gave it.
    pub size: Option<u64>,
}

/// Reader rule for a bundle read from a `bundleLocations` repository: both
/// annotations present and equal to the digest that was resolved and the
/// image's normalised repository (a bundle copied from another image, or
/// another repository's image with the same digest, is refused).
pub fn check_named_subject(
    manifest: &Value,
    image_digest: &str,
    image_repository: &str,
) -> Result<NamedSubject, BundleError> {
    let annotations = manifest.get("annotations");
    let get = |name: &str| -> Result<String, BundleError> {
        annotations
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                BundleError::NotABundle(format!(
                    "a bundle kept outside the image's repository must name the image in the annotation {name}, and it is missing; re-publish it with `vns attach`"
                ))
            })
    };
    let digest = get(ANNOTATION_SUBJECT_DIGEST)?;
    let repository = get(ANNOTATION_SUBJECT_REPOSITORY)?;
    if digest != image_digest {
        return Err(BundleError::NamedSubjectMismatch {
            annotation: ANNOTATION_SUBJECT_DIGEST,
            expected: image_digest.to_string(),
            found: digest,
        });
    }
    if repository != image_repository {
        return Err(BundleError::NamedSubjectMismatch {
            annotation: ANNOTATION_SUBJECT_REPOSITORY,
            expected: image_repository.to_string(),
            found: repository,
        });
    }
    let size = match annotations.and_then(|a| a.get(ANNOTATION_SUBJECT_SIZE)) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    BundleError::NotABundle(format!(
                        "the annotation {ANNOTATION_SUBJECT_SIZE} is not a whole number: {v}"
                    ))
                })?,
        ),
    };
    Ok(NamedSubject {
        digest,
        repository,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";

    fn subject() -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: DIGEST.into(),
            size: 246,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_location_puts_the_registry_port_after_an_underscore() {
        assert_eq!(
            external_bundle_reference(
                "myregistry.azurecr.io/notation-bundles",
                "mcr.microsoft.com",
                "dotnet/runtime",
                DIGEST
            )
            .unwrap(),
            format!("myregistry.azurecr.io/notation-bundles/mcr.microsoft.com/dotnet/runtime:sha256-{}.notation", &DIGEST[7..])
        );
        assert_eq!(
            external_repository("localhost:5001/b", "localhost:5000", "app"),
            "localhost:5001/b/localhost_5000/app"
        );
        assert!(external_bundle_reference("r.io/b", "x.io", "a", "nodigest").is_err());
    }

    #[test]
    fn an_external_bundle_names_the_image_and_has_no_subject() {
        let m = build_external_manifest(&subject(), "mcr.microsoft.com/dotnet/runtime", &[], now());
        assert!(m.get("subject").is_none(), "{m}");
        let named = check_named_subject(&m, DIGEST, "mcr.microsoft.com/dotnet/runtime").unwrap();
        assert_eq!(named.size, Some(246));
        let read = super::super::read_bundle(&m, DIGEST, 10).unwrap();
        assert_eq!(read.subject, None);
        assert!(read.created.is_some());
    }

    #[test]
    fn another_digest_or_repository_or_no_annotation_is_refused() {
        let m = build_external_manifest(&subject(), "mcr.microsoft.com/dotnet/runtime", &[], now());
        let other = format!("sha256:{}", "1".repeat(64));
        let e = check_named_subject(&m, &other, "mcr.microsoft.com/dotnet/runtime").unwrap_err();
        assert!(e.to_string().contains(ANNOTATION_SUBJECT_DIGEST), "{e}");
        let e = check_named_subject(&m, DIGEST, "mcr.microsoft.com/dotnet/sdk").unwrap_err();
        assert!(
            e.to_string().contains(ANNOTATION_SUBJECT_REPOSITORY)
                && e.to_string().contains("mcr.microsoft.com/dotnet/sdk"),
            "{e}"
        );
        let plain = build_manifest(&subject(), &[], now());
        let e =
            check_named_subject(&plain, DIGEST, "mcr.microsoft.com/dotnet/runtime").unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let mut bad_size = m.clone();
        bad_size["annotations"][ANNOTATION_SUBJECT_SIZE] = "big".into();
        assert!(
            check_named_subject(&bad_size, DIGEST, "mcr.microsoft.com/dotnet/runtime").is_err()
        );
    }
}
