//! Pushes an OCI image layout (as written by the Notation e2e suite) into a
//! registry blob by blob and manifest by digest, so digests and signatures
//! stay valid; tags come from `org.opencontainers.image.ref.name`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not valid JSON: {1}")]
    Json(PathBuf, serde_json::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("registry request {0} failed: {1}")]
    Http(String, String),
}

/// What a pushed layout holds.
#[derive(Debug, Clone, Default)]
pub struct PushedLayout {
    /// `(tag, digest)` for every tagged manifest of index.json.
    pub tags: Vec<(String, String)>,
    /// Every manifest digest pushed, with its media type and size.
    pub manifests: Vec<(String, String, u64)>,
}

impl PushedLayout {
    pub fn digest_of(&self, tag: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, d)| d.as_str())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LayoutError> {
    std::fs::read(path).map_err(|e| LayoutError::Read(path.to_path_buf(), e))
}

fn blob_path(layout: &Path, digest: &str) -> Result<PathBuf, LayoutError> {
    let (alg, hex_part) = digest
        .split_once(':')
        .ok_or_else(|| LayoutError::Invalid(format!("bad digest {digest}")))?;
    Ok(layout.join("blobs").join(alg).join(hex_part))
}

fn http_err(what: String, e: ureq::Error) -> LayoutError {
    let detail = match e {
        ureq::Error::Status(code, response) => {
            format!(
                "HTTP {code}: {}",
                response.into_string().unwrap_or_default()
            )
        }
        other => other.to_string(),
    };
    LayoutError::Http(what, detail)
}

/// `registry_repo` is `host:port/path/name` (plain http, loopback registry).
pub fn push_layout(layout: &Path, registry_repo: &str) -> Result<PushedLayout, LayoutError> {
    let (host, repo) = registry_repo
        .split_once('/')
        .ok_or_else(|| LayoutError::Invalid(format!("{registry_repo} has no repository part")))?;
    let base = format!("http://{host}/v2/{repo}");
    let index_path = layout.join("index.json");
    let index: Value = serde_json::from_slice(&read(&index_path)?)
        .map_err(|e| LayoutError::Json(index_path.clone(), e))?;
    let entries = index["manifests"]
        .as_array()
        .ok_or_else(|| LayoutError::Invalid("index.json has no manifests".into()))?;

    // Manifests may refer to each other (an index of signature manifests
    // refers to them, signatures refer to their subject): push every blob
    // first, then manifests in an order where referenced ones go first.
    let mut pushed = PushedLayout::default();
    let mut pending: Vec<(Value, Option<String>)> = entries
        .iter()
        .map(|e| {
            let tag = e["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .map(str::to_owned);
            (e.clone(), tag)
        })
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut guard = 0;
    while !pending.is_empty() {
        guard += 1;
        if guard > 64 {
            return Err(LayoutError::Invalid(
                "manifests refer to each other in a cycle".into(),
            ));
        }
        let mut next = Vec::new();
        for (entry, tag) in pending {
            let digest = entry["digest"].as_str().unwrap_or_default().to_string();
            let media_type = entry["mediaType"].as_str().unwrap_or_default().to_string();
            let body = read(&blob_path(layout, &digest)?)?;
            let manifest: Value = serde_json::from_slice(&body).map_err(|e| {
                LayoutError::Json(blob_path(layout, &digest).unwrap_or_default(), e)
            })?;
            let children: Vec<String> = manifest["manifests"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|c| c["digest"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let waiting_for_child = children.iter().any(|c| {
                !done.contains(c)
                    && entries
                        .iter()
                        .any(|e| e["digest"].as_str() == Some(c.as_str()))
            });
            if waiting_for_child {
                next.push((entry, tag));
                continue;
            }
            for blob in manifest["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(std::iter::once(&manifest["config"]))
                .filter_map(|d| d["digest"].as_str())
            {
                push_blob(&base, blob, &read(&blob_path(layout, blob)?)?)?;
            }
            let reference = tag.clone().unwrap_or_else(|| digest.clone());
            put_manifest(&base, &reference, &media_type, &body)?;
            if tag.is_some() {
                // Also by digest, so untagged lookups work as in any registry.
                put_manifest(&base, &digest, &media_type, &body)?;
            }
            if let Some(t) = tag {
                pushed.tags.push((t, digest.clone()));
            }
            pushed
                .manifests
                .push((digest.clone(), media_type, body.len() as u64));
            done.push(digest);
        }
        pending = next;
    }
    update_referrers_indexes(layout, &base, &pushed)?;
    Ok(pushed)
}

/// A Notation push to a registry without the Referrers API also adds the
/// signature to the subject's `<alg>-<hex>` tag-schema index. Layouts can
/// hold signatures that their own index misses (pushed later through the
/// API); make the registry's index list every manifest whose subject is
/// in the layout, as the registry would after those pushes.
fn update_referrers_indexes(
    layout: &Path,
    base: &str,
    pushed: &PushedLayout,
) -> Result<(), LayoutError> {
    let mut by_subject: Vec<(String, Vec<Value>)> = Vec::new();
    for (digest, media_type, size) in &pushed.manifests {
        let body = read(&blob_path(layout, digest)?)?;
        let manifest: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(subject) = manifest["subject"]["digest"].as_str() else {
            continue;
        };
        let mut entry =
            serde_json::json!({"mediaType": media_type, "digest": digest, "size": size});
        let artifact_type = manifest["artifactType"]
            .as_str()
            .or(manifest["config"]["mediaType"].as_str());
        if let Some(t) = artifact_type {
            entry["artifactType"] = Value::String(t.to_string());
        }
        if let Some(a) = manifest.get("annotations") {
            entry["annotations"] = a.clone();
        }
        match by_subject.iter_mut().find(|(s, _)| s == subject) {
            Some((_, list)) => list.push(entry),
            None => by_subject.push((subject.to_string(), vec![entry])),
        }
    }
    for (subject, entries) in by_subject {
        let tag = subject.replacen(':', "-", 1);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        });
        let body = serde_json::to_vec(&index).map_err(|e| LayoutError::Invalid(e.to_string()))?;
        put_manifest(base, &tag, "application/vnd.oci.image.index.v1+json", &body)?;
    }
    Ok(())
}

pub fn push_blob(base: &str, digest: &str, bytes: &[u8]) -> Result<(), LayoutError> {
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    if actual != digest {
        return Err(LayoutError::Invalid(format!(
            "blob {digest} hashes to {actual}"
        )));
    }
    if ureq::head(&format!("{base}/blobs/{digest}")).call().is_ok() {
        return Ok(());
    }
    let start = ureq::post(&format!("{base}/blobs/uploads/"))
        .call()
        .map_err(|e| http_err(format!("POST {base}/blobs/uploads/"), e))?;
    let location = start
        .header("Location")
        .ok_or_else(|| LayoutError::Invalid("upload answer has no Location".into()))?
        .to_string();
    let host_base = base.split("/v2/").next().unwrap_or(base);
    let url = if location.starts_with("http") {
        location
    } else {
        format!("{host_base}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    ureq::put(&format!("{url}{sep}digest={digest}"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(bytes)
        .map_err(|e| http_err(format!("PUT blob {digest}"), e))?;
    Ok(())
}

pub fn put_manifest(
    base: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> Result<(), LayoutError> {
    ureq::put(&format!("{base}/manifests/{reference}"))
        .set("Content-Type", media_type)
        .send_bytes(body)
        .map_err(|e| http_err(format!("PUT manifest {reference}"), e))?;
    Ok(())
}

/// The Notation e2e layouts shipped in `testdata/notation-e2e`.
pub fn e2e_layout(name: &str) -> PathBuf {
    testdata::path("notation-e2e/layouts").join(name)
}
