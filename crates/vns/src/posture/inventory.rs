//! The inventory of a repository: every tag listed (paginated), resolved
//! to its digest, tags of one digest grouped so that each image is
//! classified once; and the build metadata of an image (manifest
//! annotations and the config's `Labels`) that names its pipeline.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};
use notation_verifier::reference::ImageRef;
use serde_json::Value;

use super::PostureError;
use crate::registry::Registry;

/// Where the image was built from (OCI image-spec annotation, also set as a
/// label by docker buildx and most CI templates).
pub const SOURCE_LABEL: &str = "org.opencontainers.image.source";
/// The commit it was built from.
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";
/// Image configs larger than this are not read for labels.
const MAX_CONFIG_SIZE: u64 = 1024 * 1024;

/// One digest of a repository and the tags that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryImage {
    /// `registry/repository@digest`.
    pub image: String,
    pub tags: Vec<String>,
}

/// Lists the image tags of `repository` and resolves each to its digest,
/// `concurrency` at a time; the result is ordered by the first tag of each
/// digest. A tag that vanished between the listing and its resolution is
/// skipped (a registry being cleaned up), any other failure is an error.
pub async fn repository_images(
    registry: &Registry,
    repository: &str,
    page_size: usize,
    concurrency: usize,
) -> Result<Vec<RepositoryImage>, PostureError> {
    let image = ImageRef::parse(repository).map_err(|e| PostureError::Repository {
        repository: repository.to_string(),
        message: e.to_string(),
    })?;
    // The parser defaults the tag to `latest`: look at what was written.
    let last = repository.rsplit('/').next().unwrap_or_default();
    if last.contains(':') || repository.contains('@') {
        return Err(PostureError::Repository {
            repository: repository.to_string(),
            message: "give the repository without a tag or digest (`registry/path/name`)".into(),
        });
    }
    let base = format!("{}/{}", image.registry(), image.repository());
    let mut tags = registry.tags_paged(&image, page_size).await?;
    tags.retain(|t| crate::sync::is_image_tag(t));
    tags.sort();
    let resolved: Vec<(String, Result<String, crate::registry::RegistryError>)> =
        stream::iter(tags)
            .map(|tag| {
                let image = &image;
                async move {
                    let r = registry.manifest(image, &tag).await.map(|(_, d)| d);
                    (tag, r)
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
    let mut by_digest: Vec<RepositoryImage> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (tag, digest) in resolved {
        let digest = match digest {
            Ok(d) => d,
            Err(e) if e.is_not_found() => {
                tracing::info!("{base}:{tag}: listed but gone: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match index.get(&digest) {
            Some(&i) => by_digest[i].tags.push(tag),
            None => {
                index.insert(digest.clone(), by_digest.len());
                by_digest.push(RepositoryImage {
                    image: format!("{base}@{digest}"),
                    tags: vec![tag],
                });
            }
        }
    }
    Ok(by_digest)
}

/// Manifest annotations and config labels of the image at `digest`
/// (annotations win where both name a key). For an index, its own
/// annotations and those of its first image. Best effort: build metadata
/// only groups findings, so a failure leaves the labels empty and is logged.
pub async fn labels(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Err(e) = collect_labels(registry, image, digest, &mut out, true).await {
        tracing::info!("{}: labels not read: {e}", image.normalized());
    }
    out
}

async fn collect_labels(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    out: &mut BTreeMap<String, String>,
    descend: bool,
) -> Result<(), PostureError> {
    let (bytes, _) = registry.manifest(image, digest).await?;
    let manifest: Value = serde_json::from_slice(&bytes).map_err(|e| PostureError::Repository {
        repository: image.normalized(),
        message: format!("manifest {digest} is not JSON: {e}"),
    })?;
    let strings = |v: Option<&Value>| -> Vec<(String, String)> {
        v.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    };
    for (k, v) in strings(manifest.get("annotations")) {
        out.entry(k).or_insert(v);
    }
    if let Some(first) = manifest
        .pointer("/manifests/0/digest")
        .and_then(Value::as_str)
    {
        if descend {
            Box::pin(collect_labels(registry, image, first, out, false)).await?;
        }
        return Ok(());
    }
    let (Some(config), Some(size)) = (
        manifest.pointer("/config/digest").and_then(Value::as_str),
        manifest.pointer("/config/size").and_then(Value::as_u64),
    ) else {
        return Ok(());
    };
    if size > MAX_CONFIG_SIZE {
        return Ok(());
    }
    let blob = registry.blob(image, config, size).await?;
    let config: Value = serde_json::from_slice(&blob).unwrap_or(Value::Null);
    for (k, v) in strings(config.pointer("/config/Labels")) {
        out.entry(k).or_insert(v);
    }
    Ok(())
}

/// The pipeline that built an image: the `--group-by` label when given,
/// else the source repository.
pub fn pipeline_of(labels: &BTreeMap<String, String>, group_by: Option<&str>) -> Option<String> {
    labels.get(group_by.unwrap_or(SOURCE_LABEL)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_by_label_replaces_the_source() {
        let labels: BTreeMap<String, String> = [
            (
                SOURCE_LABEL.to_string(),
                "https://git.example/shop/api".to_string(),
            ),
            ("team".to_string(), "payments".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            pipeline_of(&labels, None).as_deref(),
            Some("https://git.example/shop/api")
        );
        assert_eq!(
            pipeline_of(&labels, Some("team")).as_deref(),
            Some("payments")
        );
        assert_eq!(pipeline_of(&labels, Some("missing")), None);
    }
}
