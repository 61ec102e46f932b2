//! Trust stores kept in ConfigMaps and Secrets, through the built module:
//! the waPC host answers `kubernetes/get_resource` from objects the test
//! writes, so a rotation is an object changed between two evaluations of
//! the same request.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use testkit::host::cluster::{config_map, secret};
use testkit::host::{ClusterObjects, Evaluation, PolicyHost};

fn synthetic_root() -> String {
    std::fs::read_to_string(
        testdata::path("notation/synthetic").join("truststore/x509/ca/synthetic-root/root.pem"),
    )
    .unwrap()
}

fn host_with(cluster: &Arc<ClusterObjects>) -> PolicyHost {
    host().clone().with_cluster(Arc::clone(cluster))
}

/// `repo` verified with the store `ca:e2e` given by `store`; everything
/// else skipped.
fn settings_with_store(repo: &str, store: Value) -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [
            {"name": "by-reference", "registryScopes": [repo],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]},
            {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]},
        "trustStores": {"ca": {"e2e": store}},
    })
}

fn get_resource_calls(e: &Evaluation) -> Vec<String> {
    e.calls
        .iter()
        .filter(|c| c.capability() == "kubernetes/get_resource")
        .map(|c| c.payload.clone())
        .collect()
}

#[test]
fn a_config_map_store_rotates_between_two_evaluations_of_the_same_request() {
    let repo = signed("e2e-valid-signature");
    let request = create_pod(&[&format!("{repo}:v1")]);
    let settings = settings_with_store(
        &repo,
        json!({"configMap": {"namespace": "kubewarden", "name": "notation-roots"}}),
    );
    assert_eq!(host().validate_settings(&settings).unwrap()["valid"], true);
    let cluster = Arc::new(ClusterObjects::new());
    let host = host_with(&cluster);
    let e2e = e2e_cert("upstream/e2e.crt");

    // Trusted: the signer's root is in the ConfigMap (next to a README key
    // that is not a certificate and is left out).
    cluster.put(config_map(
        "kubewarden",
        "notation-roots",
        &[("e2e.pem", &e2e), ("README", "rotated by ESO")],
    ));
    let e = evaluate(&host, &request, &settings);
    assert!(e.response.accepted, "{}", message(&e));
    let calls = get_resource_calls(&e);
    assert_eq!(calls.len(), 1, "one read per request: {calls:?}");
    let asked: Value = serde_json::from_str(&calls[0]).unwrap();
    assert_eq!(asked["api_version"], "v1");
    assert_eq!(asked["kind"], "ConfigMap");
    assert_eq!(asked["namespace"], "kubewarden");
    assert_eq!(asked["name"], "notation-roots");

    // Rotated to another root: the same request is now denied, not for
    // the store (it is valid) but because the signer is no longer trusted.
    cluster.put(config_map(
        "kubewarden",
        "notation-roots",
        &[("new-root.pem", &synthetic_root())],
    ));
    let e = evaluate(&host, &request, &settings);
    assert!(!e.response.accepted);
    let denied = message(&e);
    assert!(!denied.contains("TRUST_STORE_ERROR"), "{denied}");

    // Old and new side by side (a rotation in progress): admitted again.
    cluster.put(config_map(
        "kubewarden",
        "notation-roots",
        &[("a-new.pem", &synthetic_root()), ("b-old.pem", &e2e)],
    ));
    let e = evaluate(&host, &request, &settings);
    assert!(e.response.accepted, "{}", message(&e));

    // Gone: TRUST_STORE_ERROR naming the object.
    cluster.remove("ConfigMap", "kubewarden", "notation-roots");
    let e = evaluate(&host, &request, &settings);
    assert!(!e.response.accepted);
    let m = message(&e);
    assert!(
        m.contains("TRUST_STORE_ERROR") && m.contains("ConfigMap kubewarden/notation-roots"),
        "{m}"
    );
    // Before any registry call: the store failed first.
    assert!(e.registry_calls().is_empty(), "{:?}", e.capabilities());
}

#[test]
fn a_secret_store_is_base64_and_a_bad_one_fails_only_its_images() {
    let signed_repo = signed("e2e-valid-signature");
    let other_repo = signed("e2e-valid-signature");
    let cluster = Arc::new(ClusterObjects::new());
    let host = host_with(&cluster);
    let e2e = e2e_cert("upstream/e2e.crt");
    let settings = json!({
        "enforcement": "warn",
        "trustPolicy": {"version": "1.0", "trustPolicies": [
            {"name": "from-secret", "registryScopes": [signed_repo],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:from-secret"], "trustedIdentities": ["*"]},
            {"name": "inline", "registryScopes": [other_repo],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:inline"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {
            "from-secret": {"secret": {"namespace": "kubewarden", "name": "signing-ca", "key": "ca.crt"}},
            "inline": e2e}},
    });
    let request = create_pod(&[&format!("{signed_repo}:v1"), &format!("{other_repo}:v1")]);

    cluster.put(secret(
        "kubewarden",
        "signing-ca",
        &[("ca.crt", e2e.as_bytes()), ("tls.key", b"not for us")],
    ));
    let e = evaluate(&host, &request, &settings);
    assert!(e.response.accepted, "{}", message(&e));
    assert!(warnings(&e).is_empty(), "{:?}", warnings(&e));

    // The key holds no certificate: the first image fails with the object
    // named; the second, under another statement, still verifies.
    cluster.put(secret(
        "kubewarden",
        "signing-ca",
        &[("ca.crt", b"rotated badly")],
    ));
    let e = evaluate(&host, &request, &settings);
    let w = warnings(&e).join("\n");
    assert!(
        w.contains("TRUST_STORE_ERROR") && w.contains("Secret kubewarden/signing-ca[ca.crt]"),
        "{w}"
    );
    assert!(w.contains(&signed_repo) && !w.contains(&other_repo), "{w}");
    let pinned = e
        .response
        .mutated_object
        .expect("the verified image is pinned");
    assert_eq!(
        pinned["spec"]["containers"][1]["image"],
        format!("{other_repo}:v1@{IMAGE_DIGEST}")
    );
}

#[test]
fn stores_are_read_only_for_images_whose_statement_names_them() {
    let repo = signed("e2e-valid-signature");
    let cluster = Arc::new(ClusterObjects::new());
    let host = host_with(&cluster);
    // The store is never written: reading it would fail the image.
    let settings = settings_with_store(
        &repo,
        json!({"secret": {"namespace": "kubewarden", "name": "absent"}}),
    );
    let skipped = format!("{}/elsewhere/app:v1", registry().address());
    let e = evaluate(&host, &create_pod(&[&skipped]), &settings);
    assert!(e.response.accepted, "{}", message(&e));
    assert!(get_resource_calls(&e).is_empty(), "{:?}", e.capabilities());
    // An excepted image of the by-reference scope reads nothing either.
    let mut excepted = settings.clone();
    excepted["exceptions"] = json!([{"image": format!("{repo}:*"), "expires": "2999-01-01"}]);
    let e = evaluate(&host, &create_pod(&[&format!("{repo}:v1")]), &excepted);
    assert!(e.response.accepted, "{}", message(&e));
    assert!(get_resource_calls(&e).is_empty(), "{:?}", e.capabilities());
}
