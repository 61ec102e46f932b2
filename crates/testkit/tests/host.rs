#![cfg(feature = "host")]
//! The built policy module under the waPC host: settings validation, a
//! rejected and an admitted Pod with their exact registry round trips, a
//! kind the policy ignores, and (with `VNS_TEST_REGISTRY`) a real registry.
//!
//! Needs `target/wasm32-wasip1/release/verify_notation_signatures.wasm`
//! (`make policy.wasm`).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::Utc;
use notation_verifier::bundle::{self, BundleLayer};
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use testkit::host::{Backend, HostOptions, MemoryBackend, PolicyHost, RegistryBackend};

/// The synthetic vectors' signed artifact.
const DIGEST: &str = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";
const REPO: &str = "registry.example.com/synthetic/strict";
const IMAGE: &str = "registry.example.com/synthetic/strict:v1";

fn policy_wasm() -> PathBuf {
    testkit::policy_wasm().expect(
        "the policy module is missing: build it first with `make policy.wasm` \
         (cargo build --target wasm32-wasip1 --release -p verify-notation-signatures)",
    )
}

fn options(measure_memory: bool) -> HostOptions {
    HostOptions {
        measure_memory,
        cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
    }
}

/// One compilation for the whole file (a debug wasmtime compiles slowly);
/// every evaluation still gets its own instance.
fn compiled() -> &'static PolicyHost {
    static HOST: OnceLock<PolicyHost> = OnceLock::new();
    HOST.get_or_init(|| PolicyHost::load_with(&policy_wasm(), &options(false)).unwrap())
}

fn host_with(backend: Arc<dyn Backend>) -> PolicyHost {
    compiled().clone().with_backend(backend)
}

fn read(path: &str) -> Vec<u8> {
    let file = testdata::path("notation/synthetic").join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The policy's own unit-test settings (src/tests.rs), scoped to `scope`.
fn settings(scope: &str) -> Value {
    let root = String::from_utf8(read("truststore/x509/ca/synthetic-root/root.pem")).unwrap();
    json!({
        "trustPolicy": {
            "version": "1.0",
            "trustPolicies": [
                {
                    "name": "synthetic",
                    "registryScopes": [scope],
                    "signatureVerification": {"level": "strict"},
                    "trustStores": ["ca:synthetic-root"],
                    "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Synthetic Notation Test"]
                },
                {
                    "name": "public",
                    "registryScopes": ["docker.io/library/busybox"],
                    "signatureVerification": {"level": "skip"}
                }
            ]
        },
        "trustStores": {"ca": {"synthetic-root": root}}
    })
}

fn request(kind: &str, object: Value) -> Value {
    json!({
        "uid": "1",
        "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": format!("{}s", kind.to_lowercase())},
        "requestKind": {"group": "", "version": "v1", "kind": kind},
        "operation": "CREATE",
        "name": "p",
        "namespace": "default",
        "userInfo": {"username": "admin"},
        "object": object
    })
}

fn create_pod(image: &str) -> Value {
    request(
        "Pod",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": image}]}}),
    )
}

fn bundle_reference(repo: &str, digest: &str) -> String {
    format!("{repo}:{}", bundle::bundle_tag(digest).unwrap())
}

/// A bundle carrying one valid synthetic envelope for [`DIGEST`].
fn signed_bundle() -> Value {
    let envelope = read("envelopes/valid/jws-rsa2048-PS256.jws");
    let layer = BundleLayer {
        media_type: "application/jose+json".into(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&envelope))),
        size: envelope.len() as u64,
        envelope,
        signature_manifest: format!("sha256:{}", "5".repeat(64)),
        thumbprints: None,
        revocation: Vec::new(),
    };
    let subject = Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: DIGEST.into(),
        size: 246,
    };
    bundle::build_manifest(&subject, &[layer], Utc::now())
}

#[test]
fn settings_are_validated_by_the_guest() {
    let host = compiled();
    assert_eq!(host.protocol_version().unwrap(), json!("v1"));
    let answer = host.validate_settings(&json!({})).unwrap();
    assert_eq!(answer["valid"], json!(false), "{answer}");
    assert!(
        answer["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
    let answer = host.validate_settings(&settings(REPO)).unwrap();
    assert_eq!(answer["valid"], json!(true), "{answer}");
}

#[test]
fn unsigned_image_is_rejected_after_exactly_two_registry_calls() {
    let registry = Arc::new(MemoryBackend::new());
    registry.set_digest(IMAGE, DIGEST).unwrap();
    let host = host_with(registry);
    let evaluation = host.validate(&create_pod(IMAGE), &settings(REPO)).unwrap();

    assert!(!evaluation.response.accepted, "{:?}", evaluation.raw);
    let message = evaluation.response.message.clone().unwrap_or_default();
    assert!(message.contains("NO_SIGNATURE"), "{message}");
    assert_eq!(
        evaluation.capabilities(),
        ["oci/v1/manifest_digest", "oci/v1/oci_manifest"]
    );
    let [digest_call, manifest_call] = evaluation.calls.as_slice() else {
        unreachable!()
    };
    assert_eq!(digest_call.payload, format!("\"{IMAGE}\""));
    assert_eq!(
        digest_call.result,
        Ok(json!({ "digest": DIGEST }).to_string())
    );
    assert_eq!(
        manifest_call.payload,
        format!("\"{}\"", bundle_reference(REPO, DIGEST))
    );
    let error = manifest_call.result.clone().unwrap_err();
    assert!(
        error.starts_with("Callback evaluation failure: Fail to interact with OCI registry: Registry error: url https://registry.example.com/v2/synthetic/strict/manifests/sha256-"),
        "{error}"
    );
    assert!(
        error.contains("OCI API errors: [OCI API error: manifest unknown]"),
        "{error}"
    );
    assert_eq!(
        evaluation.peak_memory_bytes, None,
        "not measured by default"
    );
}

#[test]
fn signed_image_is_admitted_and_pinned_at_the_real_clock() {
    let registry = Arc::new(MemoryBackend::new());
    registry.set_digest(IMAGE, DIGEST).unwrap();
    registry
        .put_manifest(&bundle_reference(REPO, DIGEST), &signed_bundle())
        .unwrap();
    let host = PolicyHost::load_with(&policy_wasm(), &options(true))
        .unwrap()
        .with_backend(registry);

    let evaluation = host.validate(&create_pod(IMAGE), &settings(REPO)).unwrap();
    assert!(evaluation.response.accepted, "{:?}", evaluation.raw);
    let mutated = evaluation
        .response
        .mutated_object
        .clone()
        .expect("the image is pinned");
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("{IMAGE}@{DIGEST}")
    );
    // The digest, the bundle, and the image manifest (its media type).
    assert_eq!(
        evaluation.registry_calls().len(),
        3,
        "{:?}",
        evaluation.calls
    );
    assert!(
        evaluation.calls.iter().all(|c| c.result.is_ok()),
        "{:?}",
        evaluation.calls
    );
    let peak = evaluation.peak_memory_bytes.expect("measured");
    assert!(peak >= 65536 && peak.is_multiple_of(65536), "{peak}");

    // A fresh instance per evaluation: the same request, the same answer.
    let again = host.validate(&create_pod(IMAGE), &settings(REPO)).unwrap();
    assert_eq!(again.raw, evaluation.raw);
    assert_eq!(again.calls, evaluation.calls);
}

#[test]
fn other_kinds_are_accepted_without_host_calls() {
    let configmap = request(
        "ConfigMap",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}, "data": {}}),
    );
    let evaluation = compiled().validate(&configmap, &settings(REPO)).unwrap();
    assert!(evaluation.response.accepted, "{:?}", evaluation.raw);
    assert!(evaluation.response.mutated_object.is_none());
    assert!(evaluation.calls.is_empty(), "{:?}", evaluation.calls);
}

/// `VNS_TEST_REGISTRY=host:port` (a loopback `docker-registry`): push one
/// manifest over the distribution API and read it back through the host.
#[test]
fn real_registry_round_trips() {
    let Some(address) = std::env::var("VNS_TEST_REGISTRY")
        .ok()
        .filter(|a| !a.trim().is_empty())
    else {
        eprintln!("VNS_TEST_REGISTRY is not set: skipping the real-registry test");
        return;
    };
    let address = address.trim();
    let repo = format!("testkit-host/{}", std::process::id());
    let base = format!("http://{address}/v2/{repo}");

    // The empty config blob, then a manifest referencing it.
    let config = b"{}";
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(config)));
    let upload = ureq::post(&format!("{base}/blobs/uploads/"))
        .call()
        .unwrap();
    let location = upload.header("Location").unwrap().to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{address}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    ureq::put(&format!("{location}{separator}digest={config_digest}"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(config)
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2}],
        "annotations": {"org.example": "testkit"}
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let pushed = ureq::put(&format!("{base}/manifests/v1"))
        .set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send_bytes(&bytes)
        .unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    assert_eq!(
        pushed.header("Docker-Content-Digest"),
        Some(digest.as_str())
    );

    let backend = RegistryBackend::new();
    let image = format!("{address}/{repo}:v1");
    let reference = oci_client::Reference::try_from(image.as_str()).unwrap();
    assert_eq!(backend.manifest_digest(&reference).unwrap(), digest);
    assert_eq!(backend.oci_manifest(&reference).unwrap(), manifest);

    // Through the policy: found, but no bundle; the second call is the 404.
    let host = host_with(Arc::new(backend));
    let evaluation = host
        .validate(&create_pod(&image), &settings(&format!("{address}/{repo}")))
        .unwrap();
    assert!(!evaluation.response.accepted, "{:?}", evaluation.raw);
    assert_eq!(
        evaluation.capabilities(),
        ["oci/v1/manifest_digest", "oci/v1/oci_manifest"]
    );
    assert_eq!(
        evaluation.calls[0].result,
        Ok(json!({ "digest": digest }).to_string())
    );
    let error = evaluation.calls[1].result.clone().unwrap_err();
    let url = format!(
        "http://{address}/v2/{repo}/manifests/{}",
        bundle::bundle_tag(&digest).unwrap()
    );
    assert!(
        error.contains(&format!("Registry error: url {url}, envelope: OCI API errors: [OCI API error: manifest unknown]")),
        "{error}"
    );
}
