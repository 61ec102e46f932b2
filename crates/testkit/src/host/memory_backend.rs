//! [`MemoryBackend`]: the capabilities answered from maps (benchmarks,
//! network-free tests), failing as `docker-registry` does.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use oci_client::errors::OciDistributionError;
use oci_client::Reference;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::capabilities::{callback_failure, Backend, RegistryFailure};
use super::registry_backend::{check_status, host_view, manifest_url};
use super::HostError;

/// A registry in memory, for benchmarks and network-free tests. It stores
/// manifests like a registry (under the tag and under their own digest) and
/// fails like `docker-registry` 2.8 does for anything it does not hold.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: RwLock<MemoryEntries>,
}

#[derive(Debug, Default)]
pub(super) struct MemoryEntries {
    digests: HashMap<String, String>,
    manifests: HashMap<String, Vec<u8>>,
    /// The `oci_manifest` answer of each manifest the host accepts,
    /// serialised when stored.
    answers: HashMap<String, Arc<Vec<u8>>>,
}

/// The map key: the normalised reference, by digest when it has one (the
/// registry looks a `tag@digest` reference up by digest).
pub(super) fn key_of(reference: &Reference) -> String {
    let name = format!("{}/{}", reference.registry(), reference.repository());
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => format!("{name}@{digest}"),
        (None, tag) => format!("{name}:{}", tag.unwrap_or("latest")),
    }
}

pub(super) fn digest_key(reference: &Reference, digest: &str) -> String {
    format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    )
}

pub(super) fn parse_for_store(reference: &str) -> Result<Reference, HostError> {
    Reference::try_from(reference).map_err(|source| HostError::Reference {
        reference: reference.to_string(),
        source,
    })
}

impl MemoryBackend {
    /// An empty registry: every image is "manifest unknown".
    pub fn new() -> Self {
        Self::default()
    }

    /// What a tag resolves to, without its content: the manifest at that
    /// digest is answered as an OCI image manifest without layers (the
    /// policy reads only its media type), unless one was stored.
    pub fn set_digest(&self, reference: &str, digest: &str) -> Result<(), HostError> {
        let parsed = parse_for_store(reference)?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.digests.insert(key_of(&parsed), digest.to_string());
        let at_digest = digest_key(&parsed, digest);
        entries
            .digests
            .insert(at_digest.clone(), digest.to_string());
        if !entries.manifests.contains_key(&at_digest) {
            let stub = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
                "layers": []});
            let bytes = stub.to_string().into_bytes();
            entries
                .answers
                .insert(at_digest.clone(), Arc::new(bytes.clone()));
            entries.manifests.insert(at_digest, bytes);
        }
        Ok(())
    }

    /// Stores `manifest` (serialised compactly) under `reference` and under
    /// its digest, which it returns.
    pub fn put_manifest(&self, reference: &str, manifest: &Value) -> Result<String, HostError> {
        let bytes = serde_json::to_vec(manifest).map_err(|source| HostError::Manifest {
            reference: reference.to_string(),
            source,
        })?;
        self.put_manifest_bytes(reference, bytes)
    }

    /// As [`MemoryBackend::put_manifest`], byte for byte (the digest is of
    /// exactly these bytes).
    pub fn put_manifest_bytes(&self, reference: &str, bytes: Vec<u8>) -> Result<String, HostError> {
        let parsed = parse_for_store(reference)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let answer = host_view(&bytes)
            .ok()
            .and_then(|view| serde_json::to_vec(&view).ok())
            .map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        for key in [key_of(&parsed), digest_key(&parsed, &digest)] {
            entries.digests.insert(key.clone(), digest.clone());
            entries.manifests.insert(key.clone(), bytes.clone());
            match &answer {
                Some(answer) => entries.answers.insert(key, Arc::clone(answer)),
                None => entries.answers.remove(&key),
            };
        }
        Ok(digest)
    }

    /// Forgets what `reference` points to (a deleted tag).
    pub fn remove(&self, reference: &str) -> Result<(), HostError> {
        let key = key_of(&parse_for_store(reference)?);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.digests.remove(&key);
        entries.manifests.remove(&key);
        entries.answers.remove(&key);
        Ok(())
    }

    /// `docker-registry`'s answer to an unknown manifest, as `oci-client`
    /// reports it.
    fn unknown(reference: &Reference) -> RegistryFailure {
        let body = json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {}}]});
        match check_status(404, body.to_string().as_bytes(), &manifest_url(reference)) {
            Err(error) => RegistryFailure::Registry(error),
            Ok(()) => RegistryFailure::Registry(OciDistributionError::ImageManifestNotFoundError(
                reference.whole(),
            )),
        }
    }
}

impl Backend for MemoryBackend {
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .digests
            .get(&key_of(reference))
            .cloned()
            .ok_or_else(|| Self::unknown(reference))
    }

    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let body = entries
            .manifests
            .get(&key_of(reference))
            .ok_or_else(|| Self::unknown(reference))?;
        host_view(body).map_err(RegistryFailure::Registry)
    }

    /// The answer serialised when the manifest was stored; a manifest the
    /// host refuses is re-read for its error.
    fn oci_manifest_answer(&self, reference: &Reference) -> Result<Vec<u8>, String> {
        let cached = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .answers
            .get(&key_of(reference))
            .cloned();
        match cached {
            Some(answer) => Ok(answer.as_ref().clone()),
            None => {
                let manifest = self
                    .oci_manifest(reference)
                    .map_err(|e| callback_failure(&e))?;
                serde_json::to_vec(&manifest).map_err(|e| e.to_string())
            }
        }
    }
}
