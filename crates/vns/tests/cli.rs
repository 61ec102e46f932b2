//! `vns` end to end: the real binary against a real registry (Debian's
//! docker-registry on loopback) holding images signed by the Notation CLI's
//! own e2e suite.

mod common;

use common::{policy_host, text, vns};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout, PushedLayout};
use testkit::registry::TestRegistry;

fn push(registry: &TestRegistry, layout: &str) -> (String, PushedLayout) {
    let repo = registry.unique_repository(layout);
    let pushed = push_layout(&e2e_layout(layout), &repo).expect("push layout");
    (repo, pushed)
}

fn cert(path: &str) -> String {
    std::fs::read_to_string(testdata::path("notation-e2e/certs").join(path)).unwrap()
}

/// Settings trusting `certs` (files under notation-e2e/certs) for every repository.
fn settings_file(dir: &tempfile::TempDir, certs: &[&str], extra: Value) -> PathBuf {
    let pem: String = certs.iter().map(|c| cert(c)).collect::<Vec<_>>().join("\n");
    let mut settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": pem}},
    });
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let path = dir.path().join("settings.yaml");
    std::fs::write(&path, serde_json::to_string_pretty(&settings).unwrap()).unwrap();
    path
}

fn manifest(reference: &str) -> Result<Value, u16> {
    let (host_repo, tag) = reference.rsplit_once(':').unwrap();
    let (host, repo) = host_repo.split_once('/').unwrap();
    match ureq::get(&format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
    {
        Ok(r) => Ok(r.into_json().unwrap()),
        Err(ureq::Error::Status(code, _)) => Err(code),
        Err(e) => panic!("{e}"),
    }
}

fn verify_json(image: &str, settings: &std::path::Path) -> (i32, Value) {
    let o = vns(&[
        "verify",
        image,
        "--settings",
        settings.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    (o.status.code().unwrap(), report[0].clone())
}

#[test]
fn attach_publishes_the_bundle_once_and_the_policy_contract_holds() {
    let registry = TestRegistry::start().unwrap();
    let (repo, pushed) = push(&registry, "e2e-valid-signature");
    let digest = pushed.digest_of("v1").unwrap().to_string();
    let image = format!("{repo}:v1");

    let first = vns(&["attach", &image]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).starts_with("bundled"), "{}", text(&first));

    let tag = format!("{repo}:{}", digest.replace(':', "-") + ".notation");
    let bundle = manifest(&tag).expect("bundle tag exists");
    assert_eq!(
        bundle["artifactType"],
        "application/vnd.vns.notation-bundle.v1"
    );
    assert_eq!(bundle["subject"]["digest"], digest.as_str());
    assert_eq!(
        bundle["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layers = bundle["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/jose+json");
    // The layer names the very blob of the Notation signature manifest.
    let sig_manifest = layers[0]["annotations"]["dev.vns.notation.signature-manifest"]
        .as_str()
        .unwrap();
    let sig = manifest(&format!("{repo}:{sig_manifest}").replacen(":sha256", "@sha256", 0));
    let _ = sig; // fetched by digest below
    let (host, path) = repo.split_once('/').unwrap();
    let sig: Value = ureq::get(&format!("http://{host}/v2/{path}/manifests/{sig_manifest}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(sig["layers"][0]["digest"], layers[0]["digest"]);

    // The policy's own reader accepts it.
    let contents = notation_verifier::bundle::read_bundle(&bundle, &digest, 10).unwrap();
    assert!(contents.envelopes[0].is_ok());

    let second = vns(&["attach", &image]);
    assert!(second.status.success());
    assert!(text(&second).starts_with("unchanged"), "{}", text(&second));
}

#[test]
fn unsigned_images_get_no_bundle_and_a_failing_exit() {
    let registry = TestRegistry::start().unwrap();
    let (repo, pushed) = push(&registry, "e2e");
    let digest = pushed.digest_of("v1").unwrap().to_string();
    let o = vns(&["attach", &format!("{repo}:v1")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unsigned"));
    assert_eq!(
        manifest(&format!("{repo}:{}.notation", digest.replace(':', "-"))),
        Err(404)
    );
}

#[test]
fn verify_decides_like_notation_on_the_e2e_images() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trusted = settings_file(&dir, &["upstream/e2e.crt"], json!({}));
    for (layout, want_code, want_reason) in [
        ("e2e-valid-signature", 0, None),
        ("e2e-invalid-signature", 1, Some("MALFORMED_ENVELOPE")),
        ("e2e-expired-signature", 1, Some("EXPIRED_SIGNATURE")),
        ("e2e", 1, Some("NO_SIGNATURE")),
    ] {
        let (repo, _) = push(&registry, layout);
        let (code, report) = verify_json(&format!("{repo}:v1"), &trusted);
        assert_eq!(code, want_code, "{layout}: {report}");
        match want_reason {
            None => {
                assert_eq!(report["status"], "verified", "{layout}: {report}");
                assert_eq!(report["signer"], "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
            }
            Some(reason) => assert_eq!(report["reason"], reason, "{layout}: {report}"),
        }
    }
}

#[test]
fn rotation_any_trusted_key_verifies_and_untrusted_ones_do_not() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (repo, _) = push(&registry, "e2e-valid-multiple-signatures");
    let image = format!("{repo}:v1");
    let o = vns(&["attach", &image]);
    assert!(text(&o).contains("2 signature(s)"), "{}", text(&o));
    // Old and new key trusted during a rotation: the bundle carries both
    // signatures and the one that passes decides.
    let both = settings_file(
        &dir,
        &["upstream/e2e.crt", "derived/testcert11.pem"],
        json!({}),
    );
    let (code, report) = verify_json(&image, &both);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["signaturesFound"], 2, "{report}");
    // testcert11 alone: its certificate expired on 2025-02-18 and the
    // signature has no timestamp, so it no longer verifies.
    let (code, report) = verify_json(
        &image,
        &settings_file(&dir, &["derived/testcert11.pem"], json!({})),
    );
    assert_eq!(code, 1, "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("CERT_EXPIRED_NO_TIMESTAMP"),
        "{report}"
    );
    let (code, report) = verify_json(
        &image,
        &settings_file(&dir, &["upstream/new_e2e.crt"], json!({})),
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["reason"], "UNTRUSTED_SIGNER", "{report}");
}

#[test]
fn warn_mode_and_exceptions_exit_zero_with_a_report() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (repo, _) = push(&registry, "e2e");
    let image = format!("{repo}:v1");
    let warn = settings_file(&dir, &["upstream/e2e.crt"], json!({"enforcement": "warn"}));
    let (code, report) = verify_json(&image, &warn);
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("failed")),
        "{report}"
    );
    let excepted = settings_file(
        &dir,
        &["upstream/e2e.crt"],
        json!({"exceptions": [{"image": format!("{repo}:*"), "expires": "2999-01-01", "reason": "CHG-9"}]}),
    );
    let (code, report) = verify_json(&image, &excepted);
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("excepted")),
        "{report}"
    );
    assert!(report["message"].as_str().unwrap().contains("CHG-9"));
}

#[test]
fn bad_input_gets_the_documented_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "trustPolicy: {version: '1.0', trustPolicies: []}\n").unwrap();
    let o = vns(&[
        "verify",
        "127.0.0.1:1/x:v1",
        "--settings",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("zero trust policy statements"),
        "{}",
        text(&o)
    );

    let o = vns(&["attach", "Not A Reference"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("invalid image reference"), "{}", text(&o));

    let good = settings_file(&dir, &["upstream/e2e.crt"], json!({}));
    let o = vns(&[
        "verify",
        "127.0.0.1:1/x:v1",
        "--settings",
        good.to_str().unwrap(),
        "--retry-seconds",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("127.0.0.1:1"), "{}", text(&o));
}

#[test]
fn sync_bundles_every_signed_tag_and_reports_the_rest() {
    let registry = TestRegistry::start().unwrap();
    let repo = registry.unique_repository("sync");
    push_layout(&e2e_layout("e2e-valid-signature"), &repo).unwrap();
    // A second, unsigned tag in the same repository.
    let unsigned = push_layout(&e2e_layout("e2e"), &format!("{repo}-tmp")).unwrap();
    let (host, path) = repo.split_once('/').unwrap();
    let digest = unsigned.digest_of("v1").unwrap();
    let body = ureq::get(&format!("http://{host}/v2/{path}-tmp/manifests/{digest}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let _ = body;
    let o = vns(&["sync", &repo, "--output", "json"]);
    let summary: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(summary["bundled"], 1, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    let again = vns(&["sync", &repo, "--output", "json"]);
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (summary["bundled"].as_u64(), summary["unchanged"].as_u64()),
        (Some(0), Some(1)),
        "{summary}"
    );
}

#[test]
fn scan_reports_posture_per_image_and_fails_on_request() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(&dir, &["upstream/e2e.crt"], json!({}));
    let (bundled, _) = push(&registry, "e2e-valid-signature");
    assert!(vns(&["attach", &format!("{bundled}:v1")]).status.success());
    let (not_bundled, _) = push(&registry, "e2e-valid-signature");
    let (unsigned, _) = push(&registry, "e2e");
    let (untrusted, _) = push(&registry, "e2e-valid-multiple-signatures");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(
        manifests.join("app.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: a}}\nspec:\n  template:\n    spec:\n      containers:\n        - {{name: a, image: \"{bundled}:v1\"}}\n        - {{name: b, image: \"{not_bundled}:v1\"}}\n      initContainers:\n        - {{name: c, image: \"{unsigned}:v1\"}}\n"
        ),
    )
    .unwrap();
    let list = dir.path().join("images.txt");
    std::fs::write(&list, format!("# extra\n{untrusted}:v1\n")).unwrap();
    let o = vns(&[
        "scan",
        "--settings",
        settings.to_str().unwrap(),
        "--manifests",
        manifests.to_str().unwrap(),
        "--images-file",
        list.to_str().unwrap(),
        "--output",
        "json",
        "--fail-on",
        "unsigned",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    let posture = |image: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["image"] == image)
            .map(|r| r["posture"].clone())
            .unwrap_or_default()
    };
    assert_eq!(posture(&format!("{bundled}:v1")), "verified", "{rows}");
    assert_eq!(
        posture(&format!("{not_bundled}:v1")),
        "bundle-missing",
        "{rows}"
    );
    assert_eq!(posture(&format!("{unsigned}:v1")), "unsigned", "{rows}");
    // Only e2e.crt is trusted; both signatures exist, the e2e one verifies.
    assert_eq!(
        posture(&format!("{untrusted}:v1")),
        "bundle-missing",
        "{rows}"
    );

    // The same images from kubectl JSON on stdin, as a table.
    let kubectl = json!({"kind": "List", "items": [{"kind": "Pod", "spec": {"containers": [{"name": "x", "image": format!("{unsigned}:v1")}]}}]});
    let mut child = Command::new(env!("CARGO_BIN_EXE_vns"))
        .args(["scan", "--settings", settings.to_str().unwrap()])
        .env("DOCKER_CONFIG", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        kubectl.to_string().as_bytes(),
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("POSTURE") && table.contains("unsigned"),
        "{table}"
    );
}

#[test]
fn vns_verify_and_the_policy_agree_on_every_fixture_through_the_bundle_vns_wrote() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings_path = settings_file(
        &dir,
        &["upstream/e2e.crt", "upstream/expired_e2e.crt"],
        json!({}),
    );
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings_path).unwrap()).unwrap();
    for layout in [
        "e2e-valid-signature",
        "e2e-valid-multiple-signatures",
        "e2e-expired-signature",
        "e2e-with-expired-cert",
        "e2e-invalid-signature",
        "e2e",
    ] {
        let (repo, _) = push(&registry, layout);
        let image = format!("{repo}:v1");
        let _ = vns(&["attach", &image]);
        let (code, report) = verify_json(&image, &settings_path);
        let request = json!({
            "uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": {"containers": [{"name": "c", "image": image}]}}});
        let e = policy_host().validate(&request, &settings).unwrap();
        assert_eq!(
            e.response.accepted,
            code == 0,
            "{layout}: vns {report} vs policy {:?}",
            e.response.message
        );
        if code != 0 {
            // The policy reads the bundle, which skips non-envelope layers:
            // an unusable signature looks unsigned to it.
            let reason = report["reason"].as_str().unwrap();
            let reason = if reason == "MALFORMED_ENVELOPE" {
                "NO_SIGNATURE"
            } else {
                reason
            };
            let message = e.response.message.clone().unwrap_or_default();
            assert!(
                message.contains(reason),
                "{layout}: vns says {reason}, policy says {message}"
            );
        }
    }
}
