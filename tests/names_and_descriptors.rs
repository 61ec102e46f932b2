//! Issue 14, items 4 and 5, in the built module against the real registry:
//! a registry spelled another way selects the same trust policy statement,
//! and the signed descriptor is compared with the registry's answer, not
//! with the (unsigned) subject of the bundle.

mod common;

use chrono::Utc;
use common::*;
use notation_verifier::bundle;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::pki::{KeyKind, TestPki};
use testkit::signer::{sign_cose, sign_jws, SignOptions};

const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The e2e image as the registry serves it.
fn image_descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

/// `repo` (`127.0.0.1:PORT/name`) with its registry spelled `LOCALHOST:PORT`.
fn upper(repo: &str) -> String {
    repo.replacen("127.0.0.1", "LOCALHOST", 1)
}

fn lower(repo: &str) -> String {
    repo.replacen("127.0.0.1", "localhost", 1)
}

/// `scope` strict for the e2e key, everything else skipped.
fn strict_scope_and_skip_rest(scope: &str) -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [
            {"name": "app", "registryScopes": [scope],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]},
            {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]},
        "trustStores": {"ca": {"e2e": e2e_cert("upstream/e2e.crt")}},
    })
}

#[test]
fn a_registry_spelled_in_upper_case_does_not_fall_through_to_the_skip_statement() {
    let host = host();
    // Unsigned: the scope names it (lower case), the Pod spells it in upper case.
    let unsigned = push("e2e");
    let image = format!("{}:v1", upper(&unsigned));
    let e = evaluate(
        host,
        &create_pod(&[&image]),
        &strict_scope_and_skip_rest(&lower(&unsigned)),
    );
    assert!(
        !e.response.accepted,
        "admitted unverified: {:?}",
        e.response
    );
    assert!(message(&e).contains("NO_SIGNATURE"), "{}", message(&e));

    // Signed: the scope spelled in upper case, the Pod in lower case.
    let signed = signed("e2e-valid-signature");
    let image = format!("{}:v1", lower(&signed));
    let e = evaluate(
        host,
        &create_pod(&[&image]),
        &strict_scope_and_skip_rest(&upper(&signed)),
    );
    assert!(e.response.accepted, "{}", message(&e));
    let audit = e.response.audit_annotations.clone().unwrap_or_default();
    assert!(
        audit["image-1"].contains("\"statement\":\"app\""),
        "{audit:?}"
    );
    let mutated = e.response.mutated_object.clone().expect("pinned");
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("{image}@{IMAGE_DIGEST}")
    );

    // An exception written with the other spelling applies.
    let s = with(
        strict_scope_and_skip_rest(&lower(&unsigned)),
        "exceptions",
        json!([{"image": format!("{}:*", upper(&unsigned)), "expires": "2099-12-31"}]),
    );
    let e = evaluate(
        host,
        &create_pod(&[&format!("{}:v1", lower(&unsigned))]),
        &s,
    );
    assert!(e.response.accepted, "{}", message(&e));
    assert!(e.calls.is_empty());
}

fn settings_for(pki: &TestPki) -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "test-pki", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:test"],
            "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Notation Test"]}]},
        "trustStores": {"ca": {"test": pki.root_pem()}},
    })
}

/// The e2e image signed (at test time) for `signed_for`, bundled honestly
/// by the publisher; returns the repository.
fn signed_for(envelope: Vec<u8>, media_type: &str, signed_for: &Descriptor) -> String {
    let repo = push("e2e");
    testkit::publish::push_signature(&repo, signed_for, media_type, &envelope).expect("signature");
    let (subject, n) = testkit::publish::publish_bundle(&format!("{repo}:v1")).expect("bundle");
    assert_eq!((subject, n), (image_descriptor(), 1));
    repo
}

/// Rewrites the subject of `repo`'s bundle to repeat what was signed.
fn forge_subject(repo: &str, subject: &Descriptor) {
    let tag = bundle::bundle_tag(IMAGE_DIGEST).unwrap();
    let mut manifest = testkit::publish::get_json(repo, &tag)
        .unwrap()
        .expect("bundle");
    manifest["subject"] = serde_json::to_value(subject).unwrap();
    testkit::publish::put_json(repo, &tag, &manifest).unwrap();
}

#[test]
fn a_payload_for_another_media_type_fails_even_when_the_bundle_repeats_it() {
    let host = host();
    let pki = TestPki::new(KeyKind::P256).expect("pki");
    let opts = SignOptions::at(Utc::now());
    let wrong = Descriptor {
        media_type: DOCKER_V2.into(),
        ..image_descriptor()
    };
    let envelope = sign_jws(&pki.credentials(), &wrong, &opts).unwrap();
    let repo = signed_for(envelope, "application/jose+json", &wrong);
    let image = format!("{repo}:v1");
    let e = evaluate(host, &create_pod(&[&image]), &settings_for(&pki));
    assert!(!e.response.accepted);
    assert!(message(&e).contains("DIGEST_MISMATCH"), "{}", message(&e));

    forge_subject(&repo, &wrong);
    let e = evaluate(host, &create_pod(&[&image]), &settings_for(&pki));
    assert!(!e.response.accepted, "the forged subject was believed");
    assert!(message(&e).contains("DIGEST_MISMATCH"), "{}", message(&e));
    assert!(message(&e).contains(DOCKER_V2), "{}", message(&e));
    assert_eq!(
        e.capabilities(),
        [
            "oci/v1/manifest_digest",
            "oci/v1/oci_manifest",
            "oci/v1/oci_manifest"
        ]
    );
    assert_eq!(e.calls[2].payload, format!("\"{}@{IMAGE_DIGEST}\"", repo));

    // Control: the same key signing the descriptor the registry serves.
    let envelope = sign_jws(&pki.credentials(), &image_descriptor(), &opts).unwrap();
    let repo = signed_for(envelope, "application/jose+json", &image_descriptor());
    let e = evaluate(
        host,
        &create_pod(&[&format!("{repo}:v1")]),
        &settings_for(&pki),
    );
    assert!(e.response.accepted, "{}", message(&e));
}

/// The manifest's byte length is not available to the policy (the host
/// re-serialises manifests): it is the bundle subject's. An honest bundle
/// catches a payload signed for another size; a forged one is the
/// deviation the README states (the digest still fixes the content).
#[test]
fn a_payload_for_another_size_fails_against_the_bundle_vns_attach_writes() {
    let host = host();
    let pki = TestPki::new(KeyKind::P256).expect("pki");
    let wrong = Descriptor {
        size: 518,
        ..image_descriptor()
    };
    let envelope = sign_cose(&pki.credentials(), &wrong, &SignOptions::at(Utc::now())).unwrap();
    let repo = signed_for(envelope, "application/cose", &wrong);
    let image = format!("{repo}:v1");
    let e = evaluate(host, &create_pod(&[&image]), &settings_for(&pki));
    assert!(!e.response.accepted);
    assert!(message(&e).contains("518 bytes"), "{}", message(&e));

    forge_subject(&repo, &wrong);
    let e = evaluate(host, &create_pod(&[&image]), &settings_for(&pki));
    assert!(
        e.response.accepted,
        "the documented deviation changed: {}",
        message(&e)
    );
    let mutated = e.response.mutated_object.clone().expect("pinned");
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("{image}@{IMAGE_DIGEST}")
    );
}
