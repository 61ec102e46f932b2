//! `vns sync`: `attach` for every tag of repositories, with bounded
//! concurrency, a progress bar and a summary. Bundle tags and referrers
//! tag-schema tags are not images and are skipped.

use futures_util::stream::{self, StreamExt};
use notation_verifier::bundle::TAG_SUFFIX;
use notation_verifier::reference::ImageRef;
use serde::Serialize;

use crate::attach::{attach, AttachOptions, AttachOutcome};
use crate::registry::{Registry, RegistryError};

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Bundles pushed.
    pub bundled: usize,
    pub unchanged: usize,
    /// Superseded bundle manifests deleted, and kept (deletes refused).
    pub deleted: usize,
    pub superseded_kept: usize,
    pub unsigned: usize,
    pub errors: usize,
    /// One line per error: image and cause.
    pub error_details: Vec<String>,
    /// One line per superseded bundle that could not be deleted.
    pub warning_details: Vec<String>,
}

/// Tags that name images (not bundles, not referrers tag-schema indexes).
pub fn is_image_tag(tag: &str) -> bool {
    let schema_tag = tag.split_once('-').is_some_and(|(alg, hex)| {
        alg.starts_with("sha") && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    !tag.ends_with(TAG_SUFFIX) && !schema_tag
}

pub async fn images_of(
    registry: &Registry,
    repository: &str,
    tags: &[String],
) -> Result<Vec<String>, RegistryError> {
    let image = ImageRef::parse(repository).map_err(|e| RegistryError {
        registry: repository.to_string(),
        operation: "parse repository".into(),
        kind: crate::registry::ErrorKind::Protocol,
        message: e.to_string(),
    })?;
    let base = format!("{}/{}", image.registry(), image.repository());
    let tags = if tags.is_empty() {
        registry.tags(&image).await?
    } else {
        tags.to_vec()
    };
    Ok(tags
        .into_iter()
        .filter(|t| is_image_tag(t))
        .map(|t| format!("{base}:{t}"))
        .collect())
}

pub async fn sync(
    registry: &Registry,
    images: Vec<String>,
    concurrency: usize,
    progress: bool,
    options: AttachOptions,
    locations: &crate::location::Locations,
) -> Summary {
    let bar = crate::progress_bar(images.len(), progress);
    let results: Vec<(String, Result<AttachOutcome, String>)> = stream::iter(images)
        .map(|image| {
            let bar = bar.clone();
            async move {
                let mut problems = Vec::new();
                let r = attach(registry, &image, options, locations, &mut problems)
                    .await
                    .map_err(|e| e.to_string());
                for p in &problems {
                    tracing::warn!("{image}: revocation: {p}");
                }
                bar.inc(1);
                bar.set_message(image.clone());
                (image, r)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    let mut summary = Summary::default();
    for (image, result) in results {
        match result {
            Ok(AttachOutcome::Bundled { superseded, .. }) => {
                summary.bundled += 1;
                match superseded {
                    Some(crate::hygiene::Superseded::Deleted { .. }) => summary.deleted += 1,
                    Some(kept @ crate::hygiene::Superseded::Kept { .. }) => {
                        summary.superseded_kept += 1;
                        summary
                            .warning_details
                            .push(format!("{image}: {}", kept.describe()));
                    }
                    None => {}
                }
            }
            Ok(AttachOutcome::Unchanged { .. }) => summary.unchanged += 1,
            Ok(AttachOutcome::Unsigned { .. }) => summary.unsigned += 1,
            Err(e) => {
                summary.errors += 1;
                summary.error_details.push(format!("{image}: {e}"));
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_and_schema_tags_are_not_images() {
        assert!(is_image_tag("v1"));
        assert!(is_image_tag("sha-pinned"));
        assert!(!is_image_tag(
            "sha256-b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
        ));
        assert!(!is_image_tag(
            "sha256-b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9.notation"
        ));
    }
}
