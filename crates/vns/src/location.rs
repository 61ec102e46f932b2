//! Where `vns attach` / `sync` put an image's bundle: in the image's own
//! repository, or, by `--bundle-repository REPO` or the `bundleLocations`
//! of `--settings FILE` (the rule the policy applies), at
//! `REPO/<registry host>/<image path>:<alg>-<hex>.notation`, a bundle with
//! no subject that names the image in annotations
//! (docs/signature-bundle.md, "Bundles kept outside the image's
//! repository"). Signatures are still read from the image's registry; only
//! the bundle (its manifest, its envelope blobs and the empty config) is
//! written to the bundle repository, so the image's registry may be
//! read-only.

use chrono::{DateTime, Utc};
use notation_verifier::bundle::{self, BundleError, BundleLayer};
use notation_verifier::reference::ImageRef;
use notation_verifier::settings::{bundle_repository, BundleLocation, ValidatedSettings};
use notation_verifier::verify::Descriptor;
use serde_json::Value;

use crate::registry::{Registry, RegistryError};

/// `--settings` / `--bundle-repository` of attach and sync: where bundles go.
#[derive(clap::Args, Clone)]
pub struct BundleDestination {
    /// The policy's settings: their bundleLocations choose where each
    /// image's bundle goes (the same rule as the policy).
    #[arg(long, short, conflicts_with = "bundle_repository")]
    settings: Option<std::path::PathBuf>,
    /// Put every bundle under this repository
    /// (REPO/<registry host>/<image path>:sha256-<hex>.notation), for
    /// images in registries you cannot push to.
    #[arg(long, value_name = "REPO")]
    bundle_repository: Option<String>,
}

impl BundleDestination {
    pub fn locations(&self) -> Result<Locations, std::process::ExitCode> {
        let fail = |e: String| {
            eprintln!("vns: {e}");
            std::process::ExitCode::from(crate::EXIT_USAGE)
        };
        match (&self.settings, &self.bundle_repository) {
            (Some(path), _) => Ok(Locations::from_settings(&crate::load_settings(path)?)),
            (None, Some(repo)) => Locations::fixed(repo).map_err(fail),
            (None, None) => Ok(Locations::default()),
        }
    }
}

/// The rule that chooses the bundle repository of an image.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    /// `--bundle-repository`: every image.
    fixed: Option<String>,
    /// `bundleLocations` of `--settings`, in order.
    rules: Vec<BundleLocation>,
}

impl Locations {
    /// `--bundle-repository REPO`, checked as the settings check it.
    pub fn fixed(repository: &str) -> Result<Self, String> {
        let repository =
            bundle_repository(repository).map_err(|e| format!("--bundle-repository: {e}"))?;
        Ok(Locations {
            fixed: Some(repository),
            rules: Vec::new(),
        })
    }

    /// The `bundleLocations` of the policy's settings.
    pub fn from_settings(settings: &ValidatedSettings) -> Self {
        Locations {
            fixed: None,
            rules: settings.bundle_locations.clone(),
        }
    }

    /// The registries bundles may be written to (for the client's plain
    /// HTTP choice, as for the images' registries).
    pub fn registries(&self) -> Vec<String> {
        self.fixed
            .iter()
            .chain(self.rules.iter().map(|r| &r.repository))
            .filter_map(|r| r.split('/').next().map(str::to_owned))
            .collect()
    }

    fn repository_for(&self, image: &ImageRef) -> Option<&str> {
        if let Some(fixed) = &self.fixed {
            return Some(fixed);
        }
        let normalized = image.normalized();
        self.rules
            .iter()
            .find(|r| r.matches(&normalized))
            .map(|r| r.repository.as_str())
    }

    /// Where the bundle of `image` at `digest` goes.
    pub fn target(&self, image: &ImageRef, digest: &str) -> Result<Target, TargetError> {
        let tag = bundle::bundle_tag(digest)?;
        let Some(repository) = self.repository_for(image) else {
            return Ok(Target {
                image: image.clone(),
                tag,
                external: false,
                image_repository: image.repository_path(),
            });
        };
        let path = bundle::external_repository(repository, image.registry(), image.repository());
        Ok(Target {
            image: ImageRef::parse(&path)?,
            tag,
            external: true,
            image_repository: image.repository_path(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("the bundle repository: {0}")]
    Reference(#[from] notation_verifier::reference::ReferenceError),
}

/// The repository and tag a bundle is written to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The repository that holds the bundle (the image's own, or the
    /// external one), as an image reference for the registry client.
    pub image: ImageRef,
    pub tag: String,
    external: bool,
    /// The image's normalised repository, which an external bundle names.
    image_repository: String,
}

impl Target {
    /// `registry/repository:tag` of the bundle.
    pub fn reference(&self) -> String {
        self.image.with_tag(&self.tag)
    }

    pub fn is_external(&self) -> bool {
        self.external
    }

    /// The bundle manifest: with a subject in the image's repository, with
    /// the naming annotations elsewhere.
    pub fn manifest(
        &self,
        subject: &Descriptor,
        layers: &[BundleLayer],
        created: DateTime<Utc>,
    ) -> Value {
        if self.is_external() {
            bundle::build_external_manifest(subject, &self.image_repository, layers, created)
        } else {
            bundle::build_manifest(subject, layers, created)
        }
    }

    /// Whether the bundle under the tag names this image: always in the
    /// image's own repository (its subject is the tag's digest); kept
    /// elsewhere, its annotations must name the digest and repository, so a
    /// bundle whose annotations were changed is written again.
    pub async fn names_image(
        &self,
        registry: &Registry,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        if !self.is_external() {
            return Ok(true);
        }
        let (bytes, _) = registry.manifest(&self.image, &self.tag).await?;
        let manifest: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(bundle::check_named_subject(&manifest, digest, &self.image_repository).is_ok())
    }

    /// In the image's repository the blobs are already there (the
    /// signatures' own); elsewhere the envelopes and the empty config are
    /// uploaded first, or the registry refuses the manifest.
    pub async fn upload_blobs(
        &self,
        registry: &Registry,
        layers: &[BundleLayer],
    ) -> Result<(), RegistryError> {
        if !self.is_external() {
            return Ok(());
        }
        tracing::info!("uploading the bundle's blobs to {}", self.reference());
        registry
            .ensure_blob(&self.image, bundle::EMPTY_CONFIG_DIGEST, b"{}")
            .await?;
        for layer in layers {
            registry
                .ensure_blob(&self.image, &layer.digest, &layer.envelope)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";

    fn settings(yaml_locations: serde_json::Value) -> ValidatedSettings {
        let doc = serde_json::json!({
            "trustPolicy": {"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
                "signatureVerification": {"level": "skip"}}]},
            "bundleLocations": yaml_locations,
        });
        notation_verifier::settings::Settings::from_json_slice(doc.to_string().as_bytes())
            .unwrap()
            .validate()
            .unwrap()
    }

    #[test]
    fn the_first_matching_location_wins_and_others_stay_home() {
        let locations = Locations::from_settings(&settings(serde_json::json!([
            {"images": "mcr.microsoft.com/dotnet/**", "repository": "my.azurecr.io/dotnet-bundles"},
            {"images": "mcr.microsoft.com/**", "repository": "my.azurecr.io/bundles"},
        ])));
        let image = ImageRef::parse("mcr.microsoft.com/dotnet/runtime:8.0").unwrap();
        let t = locations.target(&image, DIGEST).unwrap();
        assert!(t.is_external());
        assert_eq!(
            t.reference(),
            format!(
                "my.azurecr.io/dotnet-bundles/mcr.microsoft.com/dotnet/runtime:sha256-{}.notation",
                &DIGEST[7..]
            )
        );
        let image = ImageRef::parse("mcr.microsoft.com/azure-cli").unwrap();
        assert_eq!(
            locations
                .target(&image, DIGEST)
                .unwrap()
                .image
                .repository_path(),
            "my.azurecr.io/bundles/mcr.microsoft.com/azure-cli"
        );
        let own = ImageRef::parse("my.azurecr.io/app:1").unwrap();
        let t = locations.target(&own, DIGEST).unwrap();
        assert!(!t.is_external());
        assert_eq!(
            t.reference(),
            format!("my.azurecr.io/app:sha256-{}.notation", &DIGEST[7..])
        );
        assert_eq!(
            locations.registries(),
            vec!["my.azurecr.io", "my.azurecr.io"]
        );
    }

    #[test]
    fn a_fixed_repository_takes_every_image_and_is_checked() {
        let locations = Locations::fixed("localhost:5001/bundles").unwrap();
        let image = ImageRef::parse("localhost:5000/app:1").unwrap();
        let t = locations.target(&image, DIGEST).unwrap();
        assert_eq!(
            t.image.repository_path(),
            "localhost:5001/bundles/localhost_5000/app"
        );
        let m = t.manifest(
            &Descriptor {
                media_type: bundle::MANIFEST_MEDIA_TYPE.into(),
                digest: DIGEST.into(),
                size: 10,
            },
            &[],
            Utc::now(),
        );
        assert!(m.get("subject").is_none());
        assert_eq!(
            m["annotations"][bundle::ANNOTATION_SUBJECT_REPOSITORY],
            "localhost:5000/app"
        );
        let e = Locations::fixed("bundles").unwrap_err();
        assert!(
            e.starts_with("--bundle-repository: ") && e.contains("registry host"),
            "{e}"
        );
        assert!(Locations::fixed("r.io/bundles:v1").is_err());
    }
}
