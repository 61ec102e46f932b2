//! Acceptance with signatures made at test time by the test PKI: JWS and
//! COSE, RSA and ECDSA, a timestamped one, pushed as real Notation signature
//! manifests, bundled, and verified by the built module in the waPC host.

mod common;

use chrono::{Duration, Utc};
use common::*;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::pki::{KeyKind, TestPki};
use testkit::signer::{sign_cose, sign_jws, SignOptions};
use testkit::tsa::TestTsa;

fn image_descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

fn settings_for(ca_pem: &str, tsa_pem: Option<&str>, verify_timestamp: &str) -> Value {
    let mut stores = vec!["ca:test"];
    let mut trust = json!({"ca": {"test": ca_pem}});
    if let Some(tsa) = tsa_pem {
        stores.push("tsa:test");
        trust["tsa"] = json!({"test": tsa});
    }
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "test-pki", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict", "verifyTimestamp": verify_timestamp},
            "trustStores": stores,
            "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Notation Test"]}]},
        "trustStores": trust,
    })
}

/// An unsigned image signed now with `sign`, bundled.
fn sign_and_bundle(envelope: Vec<u8>, media_type: &str) -> String {
    let repo = push("e2e");
    testkit::publish::push_signature(&repo, &image_descriptor(), media_type, &envelope)
        .expect("push signature");
    let (_, n) = testkit::publish::publish_bundle(&format!("{repo}:v1")).expect("bundle");
    assert_eq!(n, 1);
    repo
}

#[test]
fn jws_and_cose_with_rsa_and_ecdsa_are_admitted() {
    let host = host();
    for kind in [KeyKind::Rsa2048, KeyKind::P256, KeyKind::P384] {
        let pki = TestPki::new(kind).expect("pki");
        let opts = SignOptions::at(Utc::now());
        for (media_type, envelope) in [
            (
                "application/jose+json",
                sign_jws(&pki.credentials(), &image_descriptor(), &opts).unwrap(),
            ),
            (
                "application/cose",
                sign_cose(&pki.credentials(), &image_descriptor(), &opts).unwrap(),
            ),
        ] {
            let repo = sign_and_bundle(envelope, media_type);
            let e = evaluate(
                host,
                &create_pod(&[&format!("{repo}:v1")]),
                &settings_for(pki.root_pem(), None, "always"),
            );
            assert!(e.response.accepted, "{kind} {media_type}: {}", message(&e));
            assert!(e.response.mutated_object.is_some());
        }
    }
}

#[test]
fn a_timestamp_keeps_an_expired_signing_certificate_valid() {
    let host = host();
    let now = Utc::now();
    let signed_at = now - Duration::days(30);
    let pki = TestPki::builder(KeyKind::P256)
        .name("expired-leaf")
        .leaf_validity(now - Duration::days(60), now - Duration::days(10))
        .build()
        .expect("pki");
    let tsa = TestTsa::new(KeyKind::P256).expect("tsa");
    let stamped = SignOptions::at(signed_at).with_timestamp(&tsa, signed_at);
    let envelope = sign_cose(&pki.credentials(), &image_descriptor(), &stamped).unwrap();
    let repo = sign_and_bundle(envelope, "application/cose");
    let image = format!("{repo}:v1");
    let s = settings_for(pki.root_pem(), Some(tsa.root_pem()), "afterCertExpiry");
    let e = evaluate(host, &create_pod(&[&image]), &s);
    assert!(e.response.accepted, "{}", message(&e));

    // Without the TSA in the trust policy the expired leaf fails.
    let e = evaluate(
        host,
        &create_pod(&[&image]),
        &settings_for(pki.root_pem(), None, "always"),
    );
    assert!(!e.response.accepted);
    assert!(
        message(&e).contains("CERT_EXPIRED_NO_TIMESTAMP"),
        "{}",
        message(&e)
    );

    // The same leaf without a timestamp cannot be rescued.
    let plain = sign_jws(
        &pki.credentials(),
        &image_descriptor(),
        &SignOptions::at(signed_at),
    )
    .unwrap();
    let repo = sign_and_bundle(plain, "application/jose+json");
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
    assert!(!e.response.accepted, "{}", message(&e));
}

#[test]
fn identity_expiry_and_wrong_target_are_denied() {
    let host = host();
    let pki = TestPki::builder(KeyKind::P256)
        .name("other-org")
        .leaf_subject("C=US, ST=WA, O=Other Org, CN=intruder")
        .build()
        .expect("pki");
    let envelope = sign_jws(
        &pki.credentials(),
        &image_descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .unwrap();
    let repo = sign_and_bundle(envelope, "application/jose+json");
    let e = evaluate(
        host,
        &create_pod(&[&format!("{repo}:v1")]),
        &settings_for(pki.root_pem(), None, "always"),
    );
    assert!(
        message(&e).contains("IDENTITY_MISMATCH") && message(&e).contains("intruder"),
        "{}",
        message(&e)
    );

    let pki = TestPki::new(KeyKind::P256).expect("pki");
    let expired =
        SignOptions::at(Utc::now() - Duration::days(2)).with_expiry(Utc::now() - Duration::days(1));
    let envelope = sign_cose(&pki.credentials(), &image_descriptor(), &expired).unwrap();
    let repo = sign_and_bundle(envelope, "application/cose");
    let e = evaluate(
        host,
        &create_pod(&[&format!("{repo}:v1")]),
        &settings_for(pki.root_pem(), None, "always"),
    );
    assert!(message(&e).contains("EXPIRED_SIGNATURE"), "{}", message(&e));

    // A valid signature of another artifact, bundled for this one.
    let other = Descriptor {
        digest: format!("sha256:{}", "1".repeat(64)),
        ..image_descriptor()
    };
    let envelope = sign_jws(&pki.credentials(), &other, &SignOptions::at(Utc::now())).unwrap();
    let repo = push("e2e");
    testkit::publish::push_signature(
        &repo,
        &image_descriptor(),
        "application/jose+json",
        &envelope,
    )
    .unwrap();
    testkit::publish::publish_bundle(&format!("{repo}:v1")).unwrap();
    let e = evaluate(
        host,
        &create_pod(&[&format!("{repo}:v1")]),
        &settings_for(pki.root_pem(), None, "always"),
    );
    assert!(message(&e).contains("DIGEST_MISMATCH"), "{}", message(&e));
}
