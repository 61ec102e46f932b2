//! The two settings that say where things are kept: `bundleLocations`
//! (an image's bundle in another repository) and the shape of trust stores
//! kept in ConfigMaps and Secrets (`trustStores.<type>.<name>.configMap`).

use globset::GlobMatcher;
use serde::{Deserialize, Serialize};

use super::{SettingsError, ValidatedSettings};
use crate::reference::ImageRef;
use crate::trust_store::{TrustStoreSource, TrustStoresPem};

/// One `bundleLocations` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleLocationDoc {
    #[serde(default)]
    pub images: String,
    #[serde(default)]
    pub repository: String,
}

/// A compiled `bundleLocations` entry.
#[derive(Debug, Clone)]
pub struct BundleLocation {
    /// The glob as written.
    pub images: String,
    /// The bundle repository, normalised (`registry/path`).
    pub repository: String,
    matcher: GlobMatcher,
}

impl BundleLocation {
    /// Whether this entry's glob matches a normalised image reference.
    pub fn matches(&self, normalized_image: &str) -> bool {
        self.matcher.is_match(normalized_image)
    }
}

impl ValidatedSettings {
    /// The repository that keeps the bundle of `normalized_image` (the
    /// first `bundleLocations` entry whose glob matches), or `None` when the
    /// bundle lives in the image's own repository.
    pub fn bundle_location_for(&self, normalized_image: &str) -> Option<&BundleLocation> {
        self.bundle_locations
            .iter()
            .find(|l| l.matches(normalized_image))
    }
}

pub(super) fn compile_location(
    index: usize,
    doc: &BundleLocationDoc,
) -> Result<BundleLocation, SettingsError> {
    let fail = |field: &str, message: String| SettingsError::Field {
        path: format!("bundleLocations[{index}].{field}"),
        message,
    };
    if doc.images.trim().is_empty() {
        return Err(fail(
            "images",
            "is required (a glob over the normalised image reference, as for exceptions)".into(),
        ));
    }
    let matcher = super::image_glob(&doc.images)
        .map_err(|e| fail("images", format!("invalid glob \"{}\": {e}", doc.images)))?;
    let repository = bundle_repository(&doc.repository).map_err(|m| fail("repository", m))?;
    Ok(BundleLocation {
        images: doc.images.clone(),
        repository,
        matcher,
    })
}

/// `registry/path`, with an explicit registry and neither tag nor digest;
/// normalised as image references are.
pub fn bundle_repository(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Err(
            "is required (a repository reference such as myregistry.azurecr.io/notation-bundles)"
                .into(),
        );
    }
    let explicit_registry = raw.split_once('/').is_some_and(|(first, _)| {
        first.contains(['.', ':']) || first.eq_ignore_ascii_case("localhost")
    });
    if !explicit_registry {
        return Err(format!(
            "\"{raw}\" does not start with a registry host (write it as myregistry.azurecr.io/{raw})"
        ));
    }
    let last = raw.rsplit('/').next().unwrap_or(raw);
    if raw.contains('@') || last.contains(':') {
        return Err(format!(
            "\"{raw}\" has a tag or digest; give the repository only"
        ));
    }
    let parsed = ImageRef::parse(raw).map_err(|e| e.to_string())?;
    Ok(parsed.repository_path())
}

/// The shape of every trust store kept in an object, with the field's path
/// (`trustStores.ca.acme.configMap.namespace: is required ...`).
pub(super) fn check_store_references(pem: &TrustStoresPem) -> Result<(), SettingsError> {
    for (kind, map) in [
        ("ca", &pem.ca),
        ("signingAuthority", &pem.signing_authority),
        ("tsa", &pem.tsa),
    ] {
        for (name, source) in map {
            let TrustStoreSource::Reference(doc) = source else {
                continue;
            };
            if let Err(e) = doc.check() {
                let mut path = format!("trustStores.{kind}.{name}");
                if !e.field.is_empty() {
                    path.push('.');
                    path.push_str(&e.field);
                }
                return Err(SettingsError::Field {
                    path,
                    message: e.message,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
