//! What notation-go rejects, the built policy denies: signatures made at
//! test time by the test PKI, pushed to the real local registry with a
//! bundle whose staples the test chooses, and evaluated by the module in
//! the waPC host. Each case was admitted before issue #14; the core-level
//! twin is `crates/testkit/tests/notation_divergences.rs`.

mod common;

use chrono::{Duration, Utc};
use common::*;
use notation_verifier::bundle::{self, Staple, StapleKind};
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::pki::{CertifiedKey, KeyKind, TestPki};
use testkit::revocation::{fresh_crl, ocsp_response, CertificateStatus, CrlScope};
use testkit::signer::{sign_cose, sign_jws, SignOptions};

const PART_A: &str = "http://crl.test/part-a.crl";
const PART_B: &str = "http://crl.test/part-b.crl";

fn image_descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

fn strict_settings(pki: &TestPki) -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "test-pki", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:test"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"test": pki.root_pem()}},
    })
}

/// Pushes the image, its signature and a bundle whose only layer carries
/// `staples`; returns the image reference.
fn publish(media_type: &str, envelope: &[u8], staples: Vec<Staple>) -> String {
    let repo = push("e2e");
    testkit::publish::push_signature(&repo, &image_descriptor(), media_type, envelope)
        .expect("push signature");
    let (_, n) = testkit::publish::publish_bundle(&format!("{repo}:v1")).expect("bundle");
    assert_eq!(n, 1);
    if !staples.is_empty() {
        let tag = bundle::bundle_tag(IMAGE_DIGEST).unwrap();
        let mut manifest = testkit::publish::get_json(&repo, &tag)
            .expect("read bundle")
            .expect("bundle exists");
        manifest["layers"][0]["annotations"][bundle::ANNOTATION_REVOCATION] =
            json!(serde_json::to_string(&staples).unwrap());
        testkit::publish::put_json(&repo, &tag, &manifest).expect("re-push bundle");
    }
    format!("{repo}:v1")
}

fn crl_staple(issuer: &CertifiedKey, der: Vec<u8>, source: &str) -> Staple {
    Staple {
        kind: StapleKind::Crl,
        for_certificate: issuer.cert.sha256_fingerprint(),
        source: source.into(),
        der,
    }
}

fn crl(
    issuer: &CertifiedKey,
    revoked: &[&testkit::pki::Cert],
    number: u64,
    scope: CrlScope,
) -> Vec<u8> {
    fresh_crl(issuer, revoked, number, &scope).expect("crl")
}

fn denied_with(image: &str, settings: &Value, reason: &str) -> String {
    let e = evaluate(host(), &create_pod(&[image]), settings);
    let m = message(&e);
    assert!(!e.response.accepted, "admitted, expected {reason}");
    assert!(m.contains(reason), "expected {reason} in: {m}");
    m
}

#[test]
fn crls_outside_the_certificates_scope_do_not_admit_a_revoked_leaf() {
    let pki = TestPki::builder(KeyKind::P256)
        .name("module-crl-partition")
        .leaf_crl_url(PART_A)
        .build()
        .unwrap();
    let settings = strict_settings(&pki);
    let inter = &pki.intermediate;
    let leaf = &pki.leaf.cert;
    let envelope = sign_jws(
        &pki.credentials(),
        &image_descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .unwrap();

    // Control: the leaf's own partition, not listing it, admits.
    let own = crl_staple(
        inter,
        crl(inter, &[], 1, CrlScope::partition(PART_A)),
        PART_A,
    );
    let image = publish("application/jose+json", &envelope, vec![own]);
    let e = evaluate(host(), &create_pod(&[&image]), &settings);
    assert!(e.response.accepted, "{}", message(&e));

    // Another partition's CRL says nothing about the leaf.
    let other = crl_staple(
        inter,
        crl(inter, &[], 5, CrlScope::partition(PART_B)),
        PART_B,
    );
    let image = publish("application/jose+json", &envelope, vec![other.clone()]);
    let m = denied_with(&image, &settings, "REVOCATION_UNKNOWN");
    assert!(m.contains(PART_B), "{m}");

    // A CRL of CA certificates only says nothing about a leaf either.
    let ca_only = CrlScope {
        only_ca_certs: true,
        ..CrlScope::default()
    };
    let image = publish(
        "application/jose+json",
        &envelope,
        vec![crl_staple(inter, crl(inter, &[], 6, ca_only), PART_A)],
    );
    denied_with(&image, &settings, "REVOCATION_UNKNOWN");

    // The revoking partition stapled next to a newer one that does not
    // list the leaf: the revocation wins.
    let revoking = crl_staple(
        inter,
        crl(inter, &[leaf], 1, CrlScope::partition(PART_A)),
        PART_A,
    );
    let image = publish("application/jose+json", &envelope, vec![other, revoking]);
    denied_with(&image, &settings, "REVOKED");
}

#[test]
fn an_ocsp_staple_without_next_update_is_not_fresh() {
    let pki = TestPki::builder(KeyKind::P256)
        .name("module-ocsp-no-next-update")
        .leaf_ocsp_url("http://ocsp.test/")
        .build()
        .unwrap();
    let envelope = sign_cose(
        &pki.credentials(),
        &image_descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .unwrap();
    let staple = |next| Staple {
        kind: StapleKind::Ocsp,
        for_certificate: pki.leaf.cert.sha256_fingerprint(),
        source: "http://ocsp.test/".into(),
        der: ocsp_response(
            &pki.intermediate,
            &pki.leaf.cert,
            CertificateStatus::Good,
            Utc::now() - Duration::minutes(10),
            next,
        )
        .unwrap(),
    };
    let image = publish(
        "application/cose",
        &envelope,
        vec![staple(Some(Utc::now() + Duration::days(1)))],
    );
    let e = evaluate(host(), &create_pod(&[&image]), &strict_settings(&pki));
    assert!(e.response.accepted, "{}", message(&e));
    let image = publish("application/cose", &envelope, vec![staple(None)]);
    let m = denied_with(&image, &strict_settings(&pki), "REVOCATION_UNKNOWN");
    assert!(m.contains("no nextUpdate"), "{m}");
}

#[test]
fn signed_json_that_go_reads_by_folded_names_is_denied() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let settings = strict_settings(&pki);
    let d = image_descriptor();
    let artifact = format!(
        r#"{{"mediaType":"{}","digest":"{}","size":{}}}"#,
        d.media_type, d.digest, d.size
    );
    let with_capital_digest = artifact.replace(
        '}',
        r#","Digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#,
    );
    let payloads = [
        format!(r#"{{"targetArtifact":{with_capital_digest}}}"#),
        format!(r#"{{"targetArtifact":{artifact},"TargetArtifact":{artifact}}}"#),
    ];
    for payload in payloads {
        let opts = SignOptions::at(Utc::now()).with_payload(payload.clone().into_bytes());
        for (media_type, envelope) in [
            (
                "application/jose+json",
                sign_jws(&pki.credentials(), &d, &opts).unwrap(),
            ),
            (
                "application/cose",
                sign_cose(&pki.credentials(), &d, &opts).unwrap(),
            ),
        ] {
            let image = publish(media_type, &envelope, Vec::new());
            let m = denied_with(&image, &settings, "MALFORMED_ENVELOPE");
            assert!(m.contains("same name"), "{media_type} {payload}: {m}");
        }
    }
    let expired = (Utc::now() - Duration::days(1)).to_rfc3339();
    for (name, value) in [
        ("io.cncf.notary.Expiry", json!(expired)),
        ("Cty", json!("application/vnd.cncf.notary.payload.v1+json")),
    ] {
        let opts = SignOptions::at(Utc::now()).with_jws_protected(name, value);
        let envelope = sign_jws(&pki.credentials(), &d, &opts).unwrap();
        let image = publish("application/jose+json", &envelope, Vec::new());
        let m = denied_with(&image, &settings, "MALFORMED_ENVELOPE");
        assert!(m.contains(name), "{name}: {m}");
    }
}

#[test]
fn a_trust_policy_with_a_member_go_would_fold_is_refused_by_settings_validation() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let mut settings = strict_settings(&pki);
    settings["trustPolicy"]["trustPolicies"][0]["signatureVerification"] =
        json!({"level": "permissive", "Override": {"revocation": "enforce"}});
    let v = host()
        .validate_settings(&settings)
        .expect("the policy answers");
    assert_eq!(v["valid"], json!(false), "accepted \"Override\": {v}");
    let m = v["message"].as_str().unwrap_or_default();
    assert!(m.contains("Override"), "{m}");
}
