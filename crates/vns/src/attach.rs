//! `vns attach`: publish the signature bundle of an image (writer rules of
//! docs/signature-bundle.md). The bundle is built completely in memory and
//! pushed in one manifest PUT, so the registry never holds a partial one.

use chrono::Utc;
use notation_verifier::bundle::{self, BundleLayer};
use notation_verifier::reference::ImageRef;
use serde_json::Value;

use crate::registry::{Registry, RegistryError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachOutcome {
    /// A new or changed bundle was pushed.
    Bundled {
        digest: String,
        bundle: BundleAt,
        signatures: usize,
        /// The bundle manifest it replaced, deleted or kept.
        superseded: Option<crate::hygiene::Superseded>,
    },
    /// The bundle already lists exactly these signatures.
    Unchanged {
        digest: String,
        bundle: BundleAt,
        signatures: usize,
    },
    /// The image has no Notation signature: nothing was pushed.
    Unsigned { digest: String },
}

/// Where a bundle is: its full reference, and whether that is another
/// repository than the image's (bundleLocations / `--bundle-repository`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAt {
    /// `registry/repository:tag`.
    pub reference: String,
    pub tag: String,
    pub external: bool,
}

impl std::fmt::Display for BundleAt {
    /// `:tag` beside the image; the full reference when it is elsewhere,
    /// where `:tag` alone would send the reader to the wrong repository.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.external {
            f.write_str(&self.reference)
        } else {
            write!(f, ":{}", self.tag)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("{0}")]
    Reference(#[from] notation_verifier::reference::ReferenceError),
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Bundle(#[from] bundle::BundleError),
    #[error("{0}")]
    OverBudget(#[from] crate::hygiene::OverBudget),
    #[error("{0}")]
    Location(#[from] crate::location::TargetError),
}

/// Options of `attach` / `sync`.
#[derive(Debug, Clone, Copy)]
pub struct AttachOptions {
    /// Fetch and staple OCSP responses and CRLs.
    pub staple: bool,
    /// Re-push when the signatures are unchanged but the staples changed or
    /// near their nextUpdate (`hygiene::refresh_reason`).
    pub refresh: bool,
    /// Bundles larger than this many bytes are not pushed.
    pub max_bundle_size: usize,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            staple: false,
            refresh: false,
            max_bundle_size: crate::hygiene::DEFAULT_MAX_BUNDLE_SIZE,
        }
    }
}

/// The layers the writer would publish now, in listing order, with
/// revocation material stapled when `staple` is set.
pub async fn current_layers(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    staple: Option<&reqwest::Client>,
    problems: &mut Vec<String>,
) -> Result<Vec<BundleLayer>, RegistryError> {
    let mut layers = Vec::new();
    for manifest_digest in registry.signature_manifests(image, digest).await? {
        let Some(sig) = registry.signature(image, &manifest_digest).await? else {
            continue;
        };
        if !sig.is_envelope() {
            continue;
        }
        let mut layer = bundle::layer_for(
            &sig.media_type,
            sig.envelope,
            &sig.manifest_digest,
            sig.thumbprints,
        );
        if let Some(client) = staple {
            let stapled = crate::staple::staple(client, &layer.media_type, &layer.envelope).await;
            layer.revocation = stapled.staples;
            problems.extend(stapled.problems);
        }
        layers.push(layer);
    }
    Ok(layers)
}

/// Layer digests of the bundle now in the registry, if there is one.
pub async fn published_layers(
    registry: &Registry,
    image: &ImageRef,
    tag: &str,
) -> Result<Option<Vec<String>>, RegistryError> {
    match registry.manifest(image, tag).await {
        Ok((bytes, _)) => {
            let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok(Some(
                json["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l["digest"].as_str().map(str::to_owned))
                    .collect(),
            ))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `locations` chooses the repository the bundle goes to (see
/// `crate::location`); signatures are read from the image's own.
pub async fn attach(
    registry: &Registry,
    image: &str,
    options: AttachOptions,
    locations: &crate::location::Locations,
    problems: &mut Vec<String>,
) -> Result<AttachOutcome, AttachError> {
    let image = ImageRef::parse(image)?;
    let subject = registry.resolve(&image).await?;
    let target = locations.target(&image, &subject.digest)?;
    let tag = target.tag.clone();
    let bundle_at = BundleAt {
        reference: format!("{}:{tag}", target.image.repository_path()),
        tag: tag.clone(),
        external: target.is_external(),
    };
    let client = options.staple.then(crate::staple::http_client);
    let layers =
        current_layers(registry, &image, &subject.digest, client.as_ref(), problems).await?;
    if layers.is_empty() {
        return Ok(AttachOutcome::Unsigned {
            digest: subject.digest,
        });
    }
    let wanted: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let published = crate::hygiene::published(registry, &target.image, &tag).await?;
    let current = match published.as_ref() {
        Some(p) if p.layers == wanted => target.names_image(registry, &subject.digest).await?,
        _ => false,
    };
    if let Some(p) = published.as_ref().filter(|_| current) {
        let reason = options
            .refresh
            .then(|| crate::hygiene::refresh_reason(p, &layers, Utc::now()))
            .flatten();
        match reason {
            Some(why) => tracing::info!("{}: refreshing the bundle: {why}", image.original()),
            None => {
                return Ok(AttachOutcome::Unchanged {
                    digest: subject.digest,
                    bundle: bundle_at,
                    signatures: layers.len(),
                })
            }
        }
    }
    let manifest = target.manifest(&subject, &layers, Utc::now());
    let body = serde_json::to_vec(&manifest).map_err(|e| RegistryError {
        registry: image.registry().to_string(),
        operation: "encode bundle".into(),
        kind: crate::registry::ErrorKind::Protocol,
        message: e.to_string(),
    })?;
    crate::hygiene::check_budget(body.len(), &layers, options.max_bundle_size)?;
    target.upload_blobs(registry, &layers).await?;
    registry
        .push_manifest(&target.image, &tag, &body, bundle::MANIFEST_MEDIA_TYPE)
        .await?;
    // The tag now names the new manifest; the one it named before is an
    // orphaned referrer of the image unless deleted.
    let pushed = crate::signer_digest(&body);
    let superseded = match published {
        Some(p) if p.digest != pushed => {
            Some(crate::hygiene::retire(registry, &target.image, &p.digest).await)
        }
        _ => None,
    };
    Ok(AttachOutcome::Bundled {
        digest: subject.digest,
        bundle: bundle_at,
        signatures: layers.len(),
        superseded,
    })
}
