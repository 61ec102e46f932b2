//! Writes signature bundles the way `vns attach` does, for tests of the
//! policy crate (which cannot run the `vns` binary): signatures are found
//! through the referrers tag schema of a loopback registry.

use notation_verifier::bundle::{self, BundleLayer};
use notation_verifier::verify::Descriptor;
use serde_json::Value;

use crate::layout::{put_manifest, LayoutError};

const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn http(what: String, e: ureq::Error) -> LayoutError {
    LayoutError::Http(what, e.to_string())
}

/// `base` is `http://host:port/v2/<repo>`.
fn get_manifest(base: &str, reference: &str) -> Result<Option<(Vec<u8>, String)>, LayoutError> {
    match ureq::get(&format!("{base}/manifests/{reference}"))
        .set("Accept", ACCEPT)
        .call()
    {
        Ok(r) => {
            let digest = r
                .header("Docker-Content-Digest")
                .unwrap_or_default()
                .to_string();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut r.into_reader(), &mut body)
                .map_err(|e| LayoutError::Http(reference.into(), e.to_string()))?;
            Ok(Some((body, digest)))
        }
        Err(ureq::Error::Status(404, _)) => Ok(None),
        Err(e) => Err(http(format!("GET manifest {reference}"), e)),
    }
}

fn get_blob(base: &str, digest: &str) -> Result<Vec<u8>, LayoutError> {
    let r = ureq::get(&format!("{base}/blobs/{digest}"))
        .call()
        .map_err(|e| http(format!("GET blob {digest}"), e))?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut body)
        .map_err(|e| LayoutError::Http(digest.into(), e.to_string()))?;
    Ok(body)
}

/// Publishes the bundle of `image` (`host:port/repo:tag`); returns the
/// image descriptor and the number of signatures bundled.
pub fn publish_bundle(image: &str) -> Result<(Descriptor, usize), LayoutError> {
    let (repo, tag) = image
        .rsplit_once(':')
        .ok_or_else(|| LayoutError::Invalid(format!("{image} has no tag")))?;
    let (host, path) = repo
        .split_once('/')
        .ok_or_else(|| LayoutError::Invalid(format!("{image} has no repository")))?;
    let base = format!("http://{host}/v2/{path}");
    let (body, digest) = get_manifest(&base, tag)?
        .ok_or_else(|| LayoutError::Invalid(format!("{image} not found")))?;
    let json: Value =
        serde_json::from_slice(&body).map_err(|e| LayoutError::Invalid(e.to_string()))?;
    let subject = Descriptor {
        media_type: json["mediaType"].as_str().unwrap_or_default().to_string(),
        digest: digest.clone(),
        size: body.len() as u64,
    };
    let mut layers: Vec<BundleLayer> = Vec::new();
    if let Some((index, _)) = get_manifest(&base, &digest.replacen(':', "-", 1))? {
        let index: Value =
            serde_json::from_slice(&index).map_err(|e| LayoutError::Invalid(e.to_string()))?;
        for entry in index["manifests"].as_array().into_iter().flatten() {
            let Some(sig_digest) = entry["digest"].as_str() else {
                continue;
            };
            let Some((sig, _)) = get_manifest(&base, sig_digest)? else {
                continue;
            };
            let sig: Value =
                serde_json::from_slice(&sig).map_err(|e| LayoutError::Invalid(e.to_string()))?;
            let layer = &sig["layers"][0];
            let media_type = layer["mediaType"].as_str().unwrap_or_default();
            if media_type != "application/jose+json" && media_type != "application/cose" {
                continue;
            }
            let blob = get_blob(&base, layer["digest"].as_str().unwrap_or_default())?;
            let thumbprints = sig["annotations"][bundle::ANNOTATION_THUMBPRINTS]
                .as_str()
                .map(str::to_owned);
            layers.push(bundle::layer_for(media_type, blob, sig_digest, thumbprints));
        }
    }
    if layers.is_empty() {
        return Ok((subject, 0));
    }
    let manifest = bundle::build_manifest(&subject, &layers, chrono::Utc::now());
    let bytes = serde_json::to_vec(&manifest).map_err(|e| LayoutError::Invalid(e.to_string()))?;
    put_manifest(
        &base,
        &bundle::bundle_tag(&digest).map_err(|e| LayoutError::Invalid(e.to_string()))?,
        bundle::MANIFEST_MEDIA_TYPE,
        &bytes,
    )?;
    Ok((subject, layers.len()))
}

/// Pushes an arbitrary manifest JSON under a tag (forged bundles in tests).
pub fn put_json(repo: &str, tag: &str, manifest: &Value) -> Result<(), LayoutError> {
    let (host, path) = repo
        .split_once('/')
        .ok_or_else(|| LayoutError::Invalid(format!("{repo} has no repository")))?;
    let bytes = serde_json::to_vec(manifest).map_err(|e| LayoutError::Invalid(e.to_string()))?;
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or(bundle::MANIFEST_MEDIA_TYPE);
    put_manifest(&format!("http://{host}/v2/{path}"), tag, media_type, &bytes)
}

/// Reads a manifest JSON (`None` when missing).
pub fn get_json(repo: &str, reference: &str) -> Result<Option<Value>, LayoutError> {
    let (host, path) = repo
        .split_once('/')
        .ok_or_else(|| LayoutError::Invalid(format!("{repo} has no repository")))?;
    Ok(
        get_manifest(&format!("http://{host}/v2/{path}"), reference)?
            .and_then(|(b, _)| serde_json::from_slice(&b).ok()),
    )
}

/// Pushes a Notation signature of `subject` as a registry without the
/// Referrers API stores it (what `notation sign` does): the envelope blob,
/// the signature manifest by digest, and the signature added to the
/// subject's `<alg>-<hex>` tag-schema index. Returns the manifest digest.
pub fn push_signature(
    repo: &str,
    subject: &Descriptor,
    media_type: &str,
    envelope: &[u8],
) -> Result<String, LayoutError> {
    let (host, path) = repo
        .split_once('/')
        .ok_or_else(|| LayoutError::Invalid(format!("{repo} has no repository")))?;
    let base = format!("http://{host}/v2/{path}");
    let (manifest, blob) = crate::signer::signature_manifest(envelope, media_type, subject)
        .map_err(|e| LayoutError::Invalid(e.to_string()))?;
    crate::layout::push_blob(&base, &crate::signer::sha256_digest(&blob), &blob)?;
    crate::layout::push_blob(
        &base,
        crate::signer::OCI_EMPTY_DIGEST,
        crate::signer::OCI_EMPTY_CONFIG,
    )?;
    let digest = crate::signer::sha256_digest(&manifest);
    put_manifest(&base, &digest, crate::signer::OCI_IMAGE_MANIFEST, &manifest)?;
    let tag = subject.digest.replacen(':', "-", 1);
    let mut index = get_manifest(&base, &tag)?
        .and_then(|(b, _)| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or_else(|| {
            serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
        });
    if let Some(list) = index["manifests"].as_array_mut() {
        list.push(serde_json::json!({
            "mediaType": crate::signer::OCI_IMAGE_MANIFEST,
            "digest": digest,
            "size": manifest.len(),
            "artifactType": crate::signer::SIGNATURE_ARTIFACT_TYPE,
        }));
    }
    let bytes = serde_json::to_vec(&index).map_err(|e| LayoutError::Invalid(e.to_string()))?;
    put_manifest(
        &base,
        &tag,
        "application/vnd.oci.image.index.v1+json",
        &bytes,
    )?;
    Ok(digest)
}
