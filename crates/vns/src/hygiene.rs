//! Bundle hygiene for `vns attach` and `sync`: what is published now, when
//! a revocation refresh is worth a push, the size budget, and the deletion
//! of the bundle manifest a push supersedes.
//!
//! Why: every bundle is a manifest with a `subject`, so a referrer of the
//! image. A push per scheduled run would pile up referrers; a bundle over
//! about 4 MiB is refused by registries (and by the reader).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use notation_verifier::bundle::{BundleLayer, Staple, StapleKind, ANNOTATION_REVOCATION};
use notation_verifier::reference::ImageRef;
use serde::Serialize;
use serde_json::Value;

use crate::registry::{DeleteOutcome, Registry, RegistryError, MAX_MANIFEST_SIZE};

/// The default and largest bundle size: what registries accept as a manifest.
pub const DEFAULT_MAX_BUNDLE_SIZE: usize = MAX_MANIFEST_SIZE;

/// Stapled material this close to its nextUpdate is replaced by a refresh.
pub fn refresh_margin() -> Duration {
    Duration::days(1)
}

/// The bundle now under the tag.
#[derive(Debug, Clone)]
pub struct Published {
    pub digest: String,
    /// Layer digests in order.
    pub layers: Vec<String>,
    /// Stapled material per layer digest.
    pub staples: HashMap<String, Vec<Staple>>,
}

/// The bundle published under `tag`, if there is one.
pub async fn published(
    registry: &Registry,
    image: &ImageRef,
    tag: &str,
) -> Result<Option<Published>, RegistryError> {
    let (bytes, digest) = match registry.manifest(image, tag).await {
        Ok(found) => found,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    // Something unreadable under the tag is replaced like any stale bundle.
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut layers = Vec::new();
    let mut staples = HashMap::new();
    for layer in json["layers"].as_array().into_iter().flatten() {
        let Some(d) = layer["digest"].as_str() else {
            continue;
        };
        layers.push(d.to_string());
        let stapled: Vec<Staple> = layer["annotations"][ANNOTATION_REVOCATION]
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        staples.insert(d.to_string(), stapled);
    }
    Ok(Some(Published {
        digest,
        layers,
        staples,
    }))
}

/// What a staple says, independent of when it was produced.
fn statement_of(s: &Staple) -> (&'static str, String, String, String) {
    let said = notation_verifier::revocation::statement(&s.der, s.kind == StapleKind::Crl)
        .unwrap_or_else(|| crate::signer_digest(&s.der));
    (
        kind_name(s.kind),
        s.for_certificate.clone(),
        s.source.clone(),
        said,
    )
}

/// Why a bundle with the same signatures must be pushed again with the
/// `fresh` staples, or `None` to leave it alone: the fresh material states
/// something the published one does not (a new source, a changed status),
/// or published material reaches its nextUpdate within the margin. Fresh
/// material that is missing (a responder down) is no reason: the published
/// staples still hold until their nextUpdate.
pub fn refresh_reason(
    published: &Published,
    fresh: &[BundleLayer],
    now: DateTime<Utc>,
) -> Option<String> {
    let horizon = now + refresh_margin();
    for layer in fresh {
        let old = published
            .staples
            .get(&layer.digest)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let known: BTreeSet<_> = old.iter().map(statement_of).collect();
        if let Some(new) = layer
            .revocation
            .iter()
            .find(|s| !known.contains(&statement_of(s)))
        {
            return Some(format!(
                "the {} from {} states something new",
                kind_name(new.kind),
                new.source
            ));
        }
        for s in old {
            match notation_verifier::revocation::next_update(&s.der, s.kind == StapleKind::Crl) {
                Some(t) if t > horizon => {}
                Some(t) => {
                    return Some(format!(
                        "the stapled {} from {} reaches its nextUpdate at {}",
                        kind_name(s.kind),
                        s.source,
                        t.to_rfc3339()
                    ))
                }
                None => {
                    return Some(format!(
                        "the stapled {} from {} has no readable nextUpdate",
                        kind_name(s.kind),
                        s.source
                    ))
                }
            }
        }
    }
    None
}

fn kind_name(kind: StapleKind) -> &'static str {
    match kind {
        StapleKind::Ocsp => "OCSP response",
        StapleKind::Crl => "CRL",
    }
}

/// A bundle larger than the budget.
#[derive(Debug, thiserror::Error)]
#[error(
    "the bundle would be {size} bytes, over the budget of {budget} bytes (--max-bundle-size; registries refuse manifests over 4 MiB); \
     the largest parts: {}. Remove signatures that no longer matter from the image (delete their signature manifests), \
     or staple less (--no-revocation; at revocation level strict the policy then cannot verify, so prefer certificates whose CA \
     answers OCSP over ones with large CRLs)",
    largest.iter().map(|(what, n)| format!("{what} {n} bytes")).collect::<Vec<_>>().join(", ")
)]
pub struct OverBudget {
    pub size: usize,
    pub budget: usize,
    /// The largest envelopes and staples (as they sit in the manifest,
    /// base64), largest first.
    pub largest: Vec<(String, usize)>,
}

/// Refuses a bundle manifest of `size` bytes over `budget`, naming its
/// largest parts.
pub fn check_budget(size: usize, layers: &[BundleLayer], budget: usize) -> Result<(), OverBudget> {
    if size <= budget {
        return Ok(());
    }
    let b64 = |n: usize| n.div_ceil(3) * 4;
    let mut parts: Vec<(String, usize)> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        parts.push((
            format!(
                "envelope {} (signature manifest {})",
                i + 1,
                layer.signature_manifest
            ),
            b64(layer.envelope.len()),
        ));
        for s in &layer.revocation {
            parts.push((
                format!(
                    "{} of envelope {} from {}",
                    kind_name(s.kind),
                    i + 1,
                    s.source
                ),
                b64(s.der.len()),
            ));
        }
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    parts.truncate(5);
    Err(OverBudget {
        size,
        budget,
        largest: parts,
    })
}

/// What became of the bundle manifest a push replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Superseded {
    Deleted { digest: String },
    Kept { digest: String, reason: String },
}

impl Superseded {
    pub fn describe(&self) -> String {
        match self {
            Superseded::Deleted { digest } => format!("deleted the superseded bundle {digest}"),
            Superseded::Kept { digest, reason } => {
                format!("kept the superseded bundle {digest}: {reason}")
            }
        }
    }
}

/// Deletes the bundle manifest `digest` that a push just replaced (the tag
/// points to the new one already, so no tag goes with it).
pub async fn retire(registry: &Registry, image: &ImageRef, digest: &str) -> Superseded {
    let kept = |reason: String| Superseded::Kept {
        digest: digest.to_string(),
        reason,
    };
    match registry.delete_manifest(image, digest).await {
        DeleteOutcome::Deleted => Superseded::Deleted {
            digest: digest.to_string(),
        },
        DeleteOutcome::Unsupported(detail) => kept(format!(
            "{} does not allow deletes ({detail}); it stays a referrer of the image until removed \
             (docker-registry: storage.delete.enabled: true; ACR allows deletes)",
            image.registry()
        )),
        DeleteOutcome::Denied(detail) => kept(format!(
            "the credentials may not delete in {} ({detail}); give them delete permission \
             (ACR scope maps: content/delete)",
            image.repository()
        )),
        DeleteOutcome::Failed(detail) => kept(format!("the delete failed: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(envelope: usize, staples: &[usize]) -> BundleLayer {
        let mut l = notation_verifier::bundle::layer_for(
            "application/jose+json",
            vec![b'x'; envelope],
            "sha256:aa",
            None,
        );
        l.revocation = staples
            .iter()
            .map(|n| Staple {
                kind: StapleKind::Crl,
                for_certificate: "ff".into(),
                source: format!("http://crl/{n}"),
                der: vec![0; *n],
            })
            .collect();
        l
    }

    #[test]
    fn over_budget_names_the_largest_parts_first() {
        let layers = [layer(3000, &[30_000, 300]), layer(600, &[])];
        assert!(check_budget(1000, &layers, 1000).is_ok());
        let e = check_budget(50_000, &layers, 1000).unwrap_err();
        assert_eq!(
            e.largest[0],
            ("CRL of envelope 1 from http://crl/30000".into(), 40_000)
        );
        assert_eq!(e.largest[1].1, 4000);
        let text = e.to_string();
        assert!(
            text.contains("50000 bytes, over the budget of 1000"),
            "{text}"
        );
        assert!(text.contains("--no-revocation"), "{text}");
    }

    #[test]
    fn unreadable_published_staples_are_refreshed_and_missing_fresh_ones_are_not() {
        let fresh = [layer(10, &[])];
        let mut published = Published {
            digest: "sha256:old".into(),
            layers: vec![fresh[0].digest.clone()],
            staples: HashMap::new(),
        };
        assert_eq!(refresh_reason(&published, &fresh, Utc::now()), None);
        published
            .staples
            .insert(fresh[0].digest.clone(), layer(10, &[5]).revocation);
        let reason = refresh_reason(&published, &fresh, Utc::now()).unwrap();
        assert!(reason.contains("no readable nextUpdate"), "{reason}");
    }
}
