//! Shared fixtures of the acceptance tests: the built policy in the waPC
//! host, a real registry, Notation-signed images pushed into it.

#![allow(dead_code)]

pub mod policy_server;
pub mod tcp_proxy;

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};
use testkit::host::{load_policy_for_tests, Evaluation, PolicyHost};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

pub fn policy_wasm() -> PathBuf {
    testkit::policy_wasm().expect("the policy module is not built: run `make policy.wasm` first")
}

/// The module is compiled once per test binary (and cached on disk across
/// runs); every evaluation still runs in a fresh instance.
pub fn host() -> &'static PolicyHost {
    static HOST: OnceLock<PolicyHost> = OnceLock::new();
    HOST.get_or_init(|| {
        load_policy_for_tests(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache"))
    })
}

/// One registry for the whole test binary.
pub fn registry() -> &'static TestRegistry {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| TestRegistry::start().expect("start the test registry"))
}

/// Pushes an e2e layout into a fresh repository; returns `host:port/repo`.
pub fn push(layout: &str) -> String {
    let repo = registry().unique_repository(layout);
    push_layout(&e2e_layout(layout), &repo).expect("push layout");
    repo
}

/// Pushes a layout and publishes its bundle (as `vns attach` would).
pub fn signed(layout: &str) -> String {
    let repo = push(layout);
    let (_, n) = testkit::publish::publish_bundle(&format!("{repo}:v1")).expect("publish bundle");
    assert!(n > 0, "{layout} has no signature to bundle");
    repo
}

pub const IMAGE_DIGEST: &str =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

pub fn e2e_cert(path: &str) -> String {
    std::fs::read_to_string(testdata::path("notation-e2e/certs").join(path)).unwrap()
}

/// Settings that trust the Notation e2e key for every repository.
pub fn settings() -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": e2e_cert("upstream/e2e.crt")}},
    })
}

pub fn with(mut settings: Value, key: &str, value: Value) -> Value {
    settings[key] = value;
    settings
}

pub fn pod_spec(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"containers": containers})
}

/// An AdmissionRequest for `object` of `kind` (group/version as Kubernetes has them).
pub fn request(kind: &str, operation: &str, object: Value, old: Option<Value>) -> Value {
    let (group, version) = match kind {
        "Pod" | "ReplicationController" => ("", "v1"),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => ("apps", "v1"),
        "Job" | "CronJob" => ("batch", "v1"),
        _ => ("", "v1"),
    };
    let resource = format!("{}s", kind.to_lowercase());
    let mut r = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": "demo", "namespace": "default", "operation": operation,
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": object,
        "dryRun": false,
    });
    if let Some(old) = old {
        r["oldObject"] = old;
    }
    r
}

pub fn pod(images: &[&str]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo", "namespace": "default"}, "spec": pod_spec(images)})
}

pub fn create_pod(images: &[&str]) -> Value {
    request("Pod", "CREATE", pod(images), None)
}

pub fn evaluate(host: &PolicyHost, request: &Value, settings: &Value) -> Evaluation {
    host.validate(request, settings)
        .expect("the policy answers")
}

pub fn message(e: &Evaluation) -> String {
    e.response.message.clone().unwrap_or_default()
}

pub fn warnings(e: &Evaluation) -> Vec<String> {
    e.response.warnings.clone().unwrap_or_default()
}
