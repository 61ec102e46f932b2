//! The fixture: the synthetic test data, both registries filled alike, and
//! the requests and settings evaluated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use notation_verifier::bundle;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::host::MemoryBackend;
use verify_notation_signatures::host::{HostError, Registry};

pub(crate) fn synthetic() -> PathBuf {
    testdata::path("notation/synthetic")
}

pub(crate) fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub(crate) fn policy_wasm() -> PathBuf {
    testkit::policy_wasm().expect("build the policy first: make policy.wasm")
}

/// The same answers for the native run of the policy code.
#[derive(Default)]
pub(crate) struct MapRegistry {
    pub(crate) digests: BTreeMap<String, String>,
    pub(crate) manifests: BTreeMap<String, Value>,
}

impl Registry for MapRegistry {
    fn manifest_digest(&self, reference: &str) -> Result<String, HostError> {
        self.digests
            .get(reference)
            .cloned()
            .ok_or_else(|| HostError {
                operation: "oci/v1/manifest_digest",
                reference: reference.into(),
                message: "manifest unknown".into(),
            })
    }
    fn oci_manifest(&self, reference: &str) -> Result<Value, HostError> {
        self.manifests
            .get(reference)
            .cloned()
            .ok_or_else(|| HostError {
                operation: "oci/v1/oci_manifest",
                reference: reference.into(),
                message: "manifest unknown".into(),
            })
    }
    // The benchmarks keep their trust stores inline: no cluster objects.
    fn get_resource(&self, kind: &str, namespace: &str, name: &str) -> Result<Value, HostError> {
        Err(HostError {
            operation: "kubernetes/get_resource",
            reference: format!("{kind} {namespace}/{name}"),
            message: "not found".into(),
        })
    }
}

/// Both registries, filled alike.
pub(crate) struct Fixture {
    pub(crate) memory: Arc<MemoryBackend>,
    pub(crate) native: MapRegistry,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Fixture {
            memory: Arc::new(MemoryBackend::new()),
            native: MapRegistry::default(),
        }
    }

    /// `repo:v1` -> `descriptor`, with a bundle of `envelopes`.
    pub(crate) fn image(
        &mut self,
        repo: &str,
        descriptor: &Descriptor,
        envelopes: &[(&str, Vec<u8>)],
    ) {
        let layers: Vec<_> = envelopes
            .iter()
            .map(|(mt, e)| {
                bundle::layer_for(
                    mt,
                    e.clone(),
                    "sha256:5555555555555555555555555555555555555555555555555555555555555555",
                    None,
                )
            })
            .collect();
        let manifest = bundle::build_manifest(descriptor, &layers, Utc::now());
        let tag = format!(
            "{repo}:{}",
            bundle::bundle_tag(&descriptor.digest).expect("tag")
        );
        self.memory
            .set_digest(&format!("{repo}:v1"), &descriptor.digest)
            .expect("digest");
        self.memory.put_manifest(&tag, &manifest).expect("bundle");
        self.native
            .digests
            .insert(format!("{repo}:v1"), descriptor.digest.clone());
        self.native.manifests.insert(
            format!("{repo}@{}", descriptor.digest),
            json!({"schemaVersion": 2, "mediaType": descriptor.media_type}),
        );
        self.native.manifests.insert(tag, manifest);
    }
}

pub(crate) fn request(images: &[String]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({
        "uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "userInfo": {}, "name": "bench", "namespace": "default",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench"}, "spec": {"containers": containers}},
    })
}

pub(crate) fn settings(ca: &[String], tsa: Option<String>) -> Value {
    let mut stores = vec!["ca:bench".to_string()];
    let mut trust = json!({"ca": {"bench": ca.join("\n")}});
    if let Some(t) = tsa {
        stores.push("tsa:bench".into());
        trust["tsa"] = json!({"bench": t});
    }
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "bench", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": stores, "trustedIdentities": ["*"]}]},
        "trustStores": trust,
    })
}
