//! `vns verify` and `vns inspect IMAGE` read the image manifest's bytes, so
//! the signed descriptor is compared exactly with them: media type, digest
//! and length (issue 14, item 5), as `notation verify` does.

mod common;

use chrono::Utc;
use common::{text, vns};
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::pki::{KeyKind, TestPki};
use testkit::registry::TestRegistry;
use testkit::signer::{sign_cose, sign_jws, SignOptions};

const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn registry() -> &'static TestRegistry {
    static REGISTRY: std::sync::OnceLock<TestRegistry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| TestRegistry::start().expect("start the test registry"))
}

/// The e2e image, unsigned, in a fresh repository; and its descriptor.
fn push_image() -> (String, Descriptor) {
    let repo = registry().unique_repository("descriptor");
    let pushed = push_layout(&e2e_layout("e2e"), &repo).expect("push layout");
    let digest = pushed
        .tags
        .iter()
        .find(|(tag, _)| tag == "v1")
        .map(|(_, d)| d.clone())
        .expect("v1");
    // The bytes as the registry serves them.
    let (host, path) = repo.split_once('/').unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut ureq::get(&format!("http://{host}/v2/{path}/manifests/{digest}"))
            .set("Accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .expect("GET manifest")
            .into_reader(),
        &mut bytes,
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let descriptor = Descriptor {
        media_type: body["mediaType"].as_str().unwrap().to_string(),
        digest,
        size: bytes.len() as u64,
    };
    (repo, descriptor)
}

fn settings(dir: &tempfile::TempDir, pki: &TestPki) -> String {
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "test-pki", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
            "trustStores": ["ca:test"],
            "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Notation Test"]}]},
        "trustStores": {"ca": {"test": pki.root_pem()}},
    });
    let path = dir.path().join("settings.json");
    std::fs::write(&path, settings.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// (`vns verify` exit code and report, `vns inspect` outcome) for `image`.
fn verdicts(image: &str, settings: &str) -> (i32, Value, Value) {
    let o = vns(&["verify", image, "--settings", settings, "--output", "json"]);
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    let i = vns(&["inspect", image, "--settings", settings, "--output", "json"]);
    let answer: Value =
        serde_json::from_slice(&i.stdout).unwrap_or_else(|_| panic!("{}", text(&i)));
    (
        o.status.code().unwrap(),
        report[0].clone(),
        answer["report"]["summary"]["outcome"].clone(),
    )
}

#[test]
fn the_signed_descriptor_must_match_the_registrys_bytes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(KeyKind::P256).expect("pki");
    let settings = settings(&dir, &pki);
    let opts = SignOptions::at(Utc::now());

    // Control: signed for exactly what the registry serves.
    let (repo, real) = push_image();
    let envelope = sign_jws(&pki.credentials(), &real, &opts).unwrap();
    testkit::publish::push_signature(&repo, &real, "application/jose+json", &envelope).unwrap();
    let (code, report, outcome) = verdicts(&format!("{repo}:v1"), &settings);
    assert_eq!(
        (code, &report["status"], &outcome),
        (0, &json!("verified"), &json!("verified")),
        "{report}"
    );

    let other_type = Descriptor {
        media_type: DOCKER_V2.into(),
        ..real.clone()
    };
    let other_size = Descriptor {
        size: real.size + 1,
        ..real.clone()
    };
    for (what, signed_for, envelope, media_type) in [
        (
            "media type",
            &other_type,
            sign_jws(&pki.credentials(), &other_type, &opts).unwrap(),
            "application/jose+json",
        ),
        (
            "size",
            &other_size,
            sign_cose(&pki.credentials(), &other_size, &opts).unwrap(),
            "application/cose",
        ),
    ] {
        let (repo, _) = push_image();
        // The signature manifest's subject is the real image (so it is found).
        testkit::publish::push_signature(&repo, &real, media_type, &envelope).unwrap();
        let (code, report, outcome) = verdicts(&format!("{repo}:v1"), &settings);
        assert_eq!(code, 1, "{what}: {report}");
        assert_eq!(report["status"], "failed", "{what}: {report}");
        assert_eq!(report["reason"], "DIGEST_MISMATCH", "{what}: {report}");
        let expected = format!("{} bytes", signed_for.size);
        let message = report["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&signed_for.media_type) && message.contains(&expected),
            "{what}: {message}"
        );
        assert_eq!(outcome, "failed", "{what}: inspect");
    }
}
