//! Unit tests of the whole evaluation with a map-backed registry: real
//! envelopes (the synthetic Notation vectors), real bundles, fake host calls.

use chrono::{DateTime, Utc};
use notation_verifier::bundle::{self, BundleLayer};
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::host::fake::FakeRegistry;
use crate::validate_payload;

const DIGEST: &str = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";
const IMAGE: &str = "registry.example.com/synthetic/strict:v1";
const REPO: &str = "registry.example.com/synthetic/strict";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn read(path: &str) -> Vec<u8> {
    let file = testdata::path("notation/synthetic").join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: DIGEST.into(),
        size: 246,
    }
}

fn layer(envelope: Vec<u8>, media_type: &str) -> BundleLayer {
    BundleLayer {
        media_type: media_type.into(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&envelope))),
        size: envelope.len() as u64,
        envelope,
        signature_manifest:
            "sha256:5555555555555555555555555555555555555555555555555555555555555555".into(),
        thumbprints: None,
        revocation: Vec::new(),
    }
}

fn bundle_for(layers: &[BundleLayer]) -> Value {
    bundle::build_manifest(&descriptor(), layers, now())
}

fn signed_bundle() -> Value {
    bundle_for(&[layer(
        read("envelopes/valid/jws-rsa2048-PS256.jws"),
        "application/jose+json",
    )])
}

fn bundle_ref(repo: &str) -> String {
    format!("{repo}:{}", bundle::bundle_tag(DIGEST).unwrap())
}

/// A registry where IMAGE resolves to DIGEST and has a valid bundle.
fn registry_with_signed_image() -> FakeRegistry {
    let mut r = FakeRegistry::default();
    r.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
    r.manifests.insert(bundle_ref(REPO), Ok(signed_bundle()));
    r.manifests
        .insert(format!("{REPO}@{DIGEST}"), Ok(image_manifest()));
    r
}

/// The image manifest as the host answers `oci/v1/oci_manifest` for it.
fn image_manifest() -> Value {
    json!({"schemaVersion": 2, "mediaType": descriptor().media_type, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2}, "layers": []})
}

fn settings() -> Value {
    let root = String::from_utf8(read("truststore/x509/ca/synthetic-root/root.pem")).unwrap();
    json!({
        "trustPolicy": {
            "version": "1.0",
            "trustPolicies": [
                {
                    "name": "synthetic",
                    "registryScopes": [REPO],
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

fn with(mut settings: Value, key: &str, value: Value) -> Value {
    settings[key] = value;
    settings
}

fn pod(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, img)| json!({"name": format!("c{i}"), "image": img}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
}

fn request(kind: &str, operation: &str, object: Value, old: Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "settings": settings,
        "request": {
            "uid": "1",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "x"},
            "operation": operation,
            "name": "p",
            "namespace": "default",
            "userInfo": {"username": "admin"},
            "object": object,
            "oldObject": old
        }
    }))
    .unwrap()
}

fn create_pod(images: &[&str], settings: Value) -> Vec<u8> {
    request("Pod", "CREATE", pod(images), Value::Null, settings)
}

#[test]
fn signed_image_is_admitted_and_pinned_with_three_host_calls() {
    let registry = registry_with_signed_image();
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(r.accepted, "{:?}", r.message);
    let mutated = r.mutated_object.expect("pinned");
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("{IMAGE}@{DIGEST}")
    );
    assert_eq!(
        registry.calls.borrow().len(),
        3,
        "{:?}",
        registry.calls.borrow()
    );
    let audit = r.audit_annotations.unwrap();
    let value: Value = serde_json::from_str(&audit["image-1"]).unwrap();
    assert_eq!(value["outcome"], "verified");
    assert_eq!(value["digest"], DIGEST);
    assert_eq!(value["statement"], "synthetic");
    assert!(
        value["signer"]
            .as_str()
            .unwrap()
            .contains("O=Synthetic Notation Test"),
        "{value}"
    );
}

#[test]
fn every_workload_kind_and_container_list_is_verified_and_pinned() {
    let spec = json!({
        "containers": [{"name": "a", "image": IMAGE}],
        "initContainers": [{"name": "b", "image": "registry.example.com/synthetic/strict:unsigned"}],
        "ephemeralContainers": [{"name": "c", "image": "registry.example.com/synthetic/strict:unsigned"}]
    });
    let objects = [
        ("Pod", json!({"spec": spec})),
        ("Deployment", json!({"spec": {"template": {"spec": spec}}})),
        ("ReplicaSet", json!({"spec": {"template": {"spec": spec}}})),
        ("StatefulSet", json!({"spec": {"template": {"spec": spec}}})),
        ("DaemonSet", json!({"spec": {"template": {"spec": spec}}})),
        ("Job", json!({"spec": {"template": {"spec": spec}}})),
        (
            "ReplicationController",
            json!({"spec": {"template": {"spec": spec}}}),
        ),
        (
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
        ),
    ];
    for (kind, object) in objects {
        // The unsigned image (no bundle) in init and ephemeral containers denies.
        let mut registry = registry_with_signed_image();
        registry.digests.insert(
            "registry.example.com/synthetic/strict:unsigned".into(),
            Ok(format!("sha256:{}", "1".repeat(64))),
        );
        let r = validate_payload(
            &request(kind, "CREATE", object.clone(), Value::Null, settings()),
            &registry,
            now(),
        );
        assert!(!r.accepted, "{kind}");
        let message = r.message.unwrap();
        assert!(
            message.contains("registry.example.com/synthetic/strict:unsigned: NO_SIGNATURE"),
            "{kind}: {message}"
        );
        assert!(
            message.contains("1 of 2 image(s)"),
            "{kind}: each distinct image once: {message}"
        );

        // Once every image is signed the object is admitted and every list pinned.
        let mut registry = registry_with_signed_image();
        registry.digests.insert(
            "registry.example.com/synthetic/strict:unsigned".into(),
            Ok(DIGEST.into()),
        );
        let r = validate_payload(
            &request(kind, "CREATE", object.clone(), Value::Null, settings()),
            &registry,
            now(),
        );
        assert!(r.accepted, "{kind}: {:?}", r.message);
        let mutated = r.mutated_object.unwrap();
        let text = mutated.to_string();
        assert_eq!(
            text.matches(&format!("@{DIGEST}")).count(),
            3,
            "{kind}: {text}"
        );
    }
}

#[test]
fn unsigned_image_is_denied_with_what_to_do() {
    let mut registry = FakeRegistry::default();
    registry.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    let message = r.message.unwrap();
    assert!(message.contains("NO_SIGNATURE"), "{message}");
    assert!(message.contains("vns attach"), "{message}");
}

#[test]
fn warn_mode_admits_with_warnings_and_does_not_pin_failures() {
    let mut registry = FakeRegistry::default();
    registry.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
    let r = validate_payload(
        &create_pod(&[IMAGE], with(settings(), "enforcement", json!("warn"))),
        &registry,
        now(),
    );
    assert!(r.accepted);
    assert!(r.mutated_object.is_none());
    let warnings = r.warnings.unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("NO_SIGNATURE")),
        "{warnings:?}"
    );
    assert!(warnings
        .iter()
        .all(|w| w.len() <= crate::decision::MAX_WARNING_LEN));
}

#[test]
fn live_exception_admits_without_registry_calls_and_expired_one_does_not() {
    let registry = FakeRegistry::default();
    let live = with(
        settings(),
        "exceptions",
        json!([{"image": "registry.example.com/synthetic/**", "expires": "2026-12-31", "reason": "CHG-1234"}]),
    );
    let r = validate_payload(&create_pod(&[IMAGE], live), &registry, now());
    assert!(r.accepted, "{:?}", r.message);
    assert!(r.mutated_object.is_none(), "excepted images are not pinned");
    assert!(registry.calls.borrow().is_empty());
    let warnings = r.warnings.unwrap();
    assert!(
        warnings[0].contains("registry.example.com/synthetic/**")
            && warnings[0].contains("CHG-1234"),
        "{warnings:?}"
    );
    // "2026-12-31" lasts until the end of that day (UTC): 39 whole days from 2026-11-23.
    assert!(warnings[0].contains("39 days left"), "{warnings:?}");

    let expired = with(
        settings(),
        "exceptions",
        json!([{"image": "registry.example.com/synthetic/**", "expires": "2026-11-01", "reason": "CHG-1"}]),
    );
    let mut registry = FakeRegistry::default();
    registry.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
    let r = validate_payload(&create_pod(&[IMAGE], expired), &registry, now());
    assert!(!r.accepted);
    assert!(r
        .warnings
        .unwrap()
        .iter()
        .any(|w| w.contains("expired") && w.contains("no longer applies")));
}

#[test]
fn update_verifies_only_new_images() {
    let registry = FakeRegistry::default();
    let old = pod(&[IMAGE]);
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"team": "a"});
    let r = validate_payload(
        &request("Pod", "UPDATE", new, old.clone(), settings()),
        &registry,
        now(),
    );
    assert!(r.accepted, "{:?}", r.message);
    assert!(registry.calls.borrow().is_empty());

    let registry = registry_with_signed_image();
    let new = pod(&[IMAGE, "registry.example.com/synthetic/strict:new"]);
    let r = validate_payload(
        &request("Pod", "UPDATE", new, old, settings()),
        &registry,
        now(),
    );
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("strict:new"));
}

#[test]
fn digest_references_are_used_as_is() {
    let registry = registry_with_signed_image();
    let image = format!("{REPO}@{DIGEST}");
    let r = validate_payload(&create_pod(&[&image], settings()), &registry, now());
    assert!(r.accepted, "{:?}", r.message);
    assert!(r.mutated_object.is_none(), "already pinned");
    assert!(registry
        .calls
        .borrow()
        .iter()
        .all(|(op, _)| op == "oci_manifest"));
}

#[test]
fn registry_errors_fail_closed_naming_the_registry() {
    let mut registry = FakeRegistry::default();
    registry.digests.insert(
        IMAGE.into(),
        Err("error sending request for url (https://registry.example.com/v2/)".into()),
    );
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    let message = r.message.unwrap();
    assert!(
        message.contains("REGISTRY_ERROR") && message.contains("registry.example.com"),
        "{message}"
    );

    let mut registry = FakeRegistry::default();
    registry.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
    registry.manifests.insert(
        bundle_ref(REPO),
        Err("Not authorized: url https://registry.example.com/v2/".into()),
    );
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("REGISTRY_ERROR"));
}

#[test]
fn identity_mismatch_names_the_signer_and_the_allowed_identities() {
    let registry = registry_with_signed_image();
    let mut s = settings();
    s["trustPolicy"]["trustPolicies"][0]["trustedIdentities"] =
        json!(["x509.subject: C=US, ST=WA, O=Someone Else"]);
    let r = validate_payload(&create_pod(&[IMAGE], s), &registry, now());
    assert!(!r.accepted);
    let message = r.message.unwrap();
    assert!(message.contains("IDENTITY_MISMATCH"), "{message}");
    assert!(message.contains("Someone Else"), "{message}");
}

#[test]
fn tampered_and_forged_bundles_are_denied() {
    // The envelope copy does not match its layer digest.
    let mut tampered = signed_bundle();
    let copy = tampered["layers"][0]["annotations"]["dev.vns.notation.envelope"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, copy).unwrap();
    bytes[10] ^= 1;
    tampered["layers"][0]["annotations"]["dev.vns.notation.envelope"] = json!(
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
    );
    // A bundle whose subject names another digest.
    let mut forged = signed_bundle();
    forged["subject"]["digest"] = json!(format!("sha256:{}", "2".repeat(64)));
    // A validly signed envelope for another artifact.
    let other = bundle_for(&[layer(
        read("envelopes/payload/jws-other-digest.jws"),
        "application/jose+json",
    )]);
    for (name, bundle, reason) in [
        ("tampered", tampered, "INVALID_BUNDLE"),
        ("forged", forged, "INVALID_BUNDLE"),
        ("other", other, "DIGEST_MISMATCH"),
    ] {
        let mut registry = registry_with_signed_image();
        registry.manifests.insert(bundle_ref(REPO), Ok(bundle));
        let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
        assert!(!r.accepted, "{name}");
        let message = r.message.unwrap();
        assert!(message.contains(reason), "{name}: {message}");
    }
}

#[test]
fn skip_statements_and_other_kinds_need_no_registry() {
    let registry = FakeRegistry::default();
    let r = validate_payload(&create_pod(&["busybox"], settings()), &registry, now());
    assert!(r.accepted && r.mutated_object.is_none());
    for kind in ["Service", "ConfigMap"] {
        let r = validate_payload(
            &request(kind, "CREATE", json!({"spec": {}}), Value::Null, settings()),
            &registry,
            now(),
        );
        assert!(r.accepted, "{kind}");
    }
    let r = validate_payload(
        &request("Pod", "DELETE", Value::Null, pod(&[IMAGE]), settings()),
        &registry,
        now(),
    );
    assert!(r.accepted);
    assert!(registry.calls.borrow().is_empty());
}

#[test]
fn images_outside_every_scope_are_denied() {
    let registry = FakeRegistry::default();
    let r = validate_payload(
        &create_pod(&["quay.io/other/app:1"], settings()),
        &registry,
        now(),
    );
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("NO_APPLICABLE_POLICY"));
    assert!(registry.calls.borrow().is_empty());
}

#[test]
fn bad_settings_and_bad_requests_are_rejected_not_trapped() {
    let registry = FakeRegistry::default();
    let mut s = settings();
    s["trustPolicy"]["trustPolicies"][0]["trustStores"] = json!(["ca:not-defined"]);
    let r = validate_payload(&create_pod(&[IMAGE], s), &registry, now());
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("not-defined"));
    let r = validate_payload(b"{not json", &registry, now());
    assert!(!r.accepted);
    let r = validate_payload(&create_pod(&["UPPER/Case:1"], settings()), &registry, now());
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("INVALID_REFERENCE"));
}

#[test]
fn the_same_image_is_verified_once_per_request() {
    let registry = registry_with_signed_image();
    let r = validate_payload(
        &create_pod(&[IMAGE, IMAGE, IMAGE], settings()),
        &registry,
        now(),
    );
    assert!(r.accepted, "{:?}", r.message);
    assert_eq!(registry.calls.borrow().len(), 3);
}

#[test]
fn settings_validation_names_the_field() {
    use kubewarden_policy_sdk::settings::Validatable;
    let s: crate::settings::PolicySettings =
        serde_json::from_value(with(settings(), "maxSignatures", json!(0))).unwrap();
    assert!(s.validate().unwrap_err().contains("maxSignatures"));
    let s: crate::settings::PolicySettings =
        serde_json::from_value(with(settings(), "exceptions", json!([{"image": "a/**"}]))).unwrap();
    assert!(s.validate().unwrap_err().contains("exceptions[0].expires"));
    let s: crate::settings::PolicySettings = serde_json::from_value(settings()).unwrap();
    assert_eq!(s.validate(), Ok(()));
}

mod sites;
