//! `vns inspect`: the same vectors as the browser inspector's test
//! (web/test/cases.json, outcomes from the Notation vectors' expected.json),
//! then images in a real registry, directly and through the bundle that
//! `vns attach` published.

mod common;

use std::path::{Path, PathBuf};

use common::{text, vns};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

fn synthetic() -> PathBuf {
    testdata::path("notation/synthetic")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The synthetic trust policy and stores as policy settings (as the browser
/// test builds them).
fn synthetic_settings(dir: &Path) -> PathBuf {
    let stores = |kind: &str| -> Value {
        let root = synthetic().join("truststore/x509").join(kind);
        let mut out = serde_json::Map::new();
        for store in std::fs::read_dir(&root).unwrap() {
            let store = store.unwrap().path();
            let mut files: Vec<_> = std::fs::read_dir(&store)
                .unwrap()
                .map(|f| f.unwrap().path())
                .collect();
            files.sort();
            let pem: Vec<String> = files
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap())
                .collect();
            out.insert(
                store.file_name().unwrap().to_string_lossy().into(),
                Value::String(pem.join("\n")),
            );
        }
        Value::Object(out)
    };
    let settings = json!({
        "trustPolicy": read_json(&synthetic().join("trustpolicy.oci.json")),
        "trustStores": {"ca": stores("ca"), "signingAuthority": stores("signingAuthority"), "tsa": stores("tsa")},
    });
    let path = dir.join("settings.json");
    std::fs::write(&path, settings.to_string()).unwrap();
    path
}

fn json_of(args: &[&str]) -> (i32, Value, String) {
    let o = vns(args);
    let value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap(), value, text(&o))
}

#[test]
fn inspect_gives_the_browser_inspectors_verdicts_on_the_shared_cases() {
    let cases =
        read_json(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/test/cases.json"));
    let expected = read_json(&synthetic().join("expected.json"));
    let time = expected["verification_time"]
        .as_str()
        .unwrap()
        .replace("+00:00", "Z");
    let dir = tempfile::tempdir().unwrap();
    let settings = synthetic_settings(dir.path());
    let descriptor = synthetic().join("artifact/descriptor.json");
    let cases = cases["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 3,
        "one valid, one tampered, one untrusted at least"
    );
    for case in cases {
        let envelope = synthetic()
            .join("envelopes")
            .join(case["envelope"].as_str().unwrap());
        let statement = case["statement"].as_str().unwrap();
        let want = expected["results"][case["envelope"].as_str().unwrap()][statement]
            .as_str()
            .unwrap();
        let reference = format!("registry.example.com/synthetic/{statement}");
        let args = [
            "inspect",
            envelope.to_str().unwrap(),
            "--settings",
            settings.to_str().unwrap(),
            "--reference",
            &reference,
            "--descriptor",
            descriptor.to_str().unwrap(),
            "--time",
            &time,
        ];
        let (code, answer, all) = json_of(&[&args[..], &["--output", "json"]].concat());
        let summary = &answer["report"]["summary"];
        let name = case["name"].as_str().unwrap();
        if want == "pass" {
            assert_eq!(code, 0, "{name}: {all}");
            assert_eq!(summary["outcome"], "verified", "{name}: {all}");
            assert_eq!(summary["admission"], "admit");
            assert!(summary["reason"].is_null());
        } else {
            let validation = want
                .strip_prefix("fail:")
                .and_then(|w| w.split(':').next())
                .unwrap();
            assert_eq!(code, 1, "{name}: {all}");
            assert_eq!(summary["outcome"], "failed", "{name}: {all}");
            assert_eq!(summary["admission"], "deny");
            assert_eq!(summary["reason"], case["reason"], "{name}: {all}");
            let failed = answer["report"]["verdict"]["signatures"][0]["validations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["outcome"] == "failed")
                .cloned()
                .unwrap_or(Value::Null);
            assert_eq!(failed["kind"], validation, "{name}: {all}");
            assert_eq!(failed["reason"], case["reason"], "{name}");
        }
        // The envelope facts the page shows are in the report too.
        let envelope_report = &answer["report"]["envelopes"][0];
        assert!(
            envelope_report["certificates"].as_array().unwrap().len() >= 2,
            "{name}"
        );
        // The terminal rendering says the same.
        let human = text(&vns(&args));
        if want == "pass" {
            assert!(human.starts_with("VERIFIED"), "{name}: {human}");
        } else {
            let reason = case["reason"].as_str().unwrap();
            assert!(
                human.starts_with(&format!("FAILED  {reason}")),
                "{name}: {human}"
            );
            assert!(human.contains("what to do"), "{name}: {human}");
        }
        assert!(human.contains("certificate chain (leaf first)"), "{name}");
    }
}

#[test]
fn without_settings_inspect_checks_integrity_only() {
    let intact = synthetic().join("envelopes/valid/cose-ec384-ES384.cose");
    let tampered = synthetic().join("envelopes/integrity/jws-tampered-payload.jws");
    let (code, answer, all) = json_of(&["inspect", intact.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 0, "{all}");
    let envelope = &answer["envelopes"][0];
    assert_eq!(envelope["format"], "COSE");
    assert_eq!(envelope["algorithm"], "ES384");
    assert_eq!(envelope["integrity"]["passed"], true);
    assert_eq!(envelope["certificates"][0]["publicKey"], "ECDSA P-384");

    let (code, answer, all) = json_of(&[
        "inspect",
        intact.to_str().unwrap(),
        tampered.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 1, "one envelope fails integrity: {all}");
    assert_eq!(answer["envelopes"][1]["integrity"]["passed"], false);
    assert!(answer["envelopes"][1]["integrity"]["reason"].is_string());
}

#[test]
fn inspect_usage_errors_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let settings = synthetic_settings(dir.path());
    let envelope = synthetic().join("envelopes/valid/jws-rsa2048-PS256.jws");
    let o = vns(&[
        "inspect",
        envelope.to_str().unwrap(),
        "--settings",
        settings.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--reference is needed"), "{}", text(&o));
    let o = vns(&["inspect", envelope.to_str().unwrap(), "--time", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("RFC 3339"));
    let o = vns(&["inspect", envelope.to_str().unwrap(), "no/such/file.jws"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no/such/file.jws"), "{}", text(&o));
}

fn e2e_settings(dir: &Path) -> PathBuf {
    let pem =
        std::fs::read_to_string(testdata::path("notation-e2e/certs/upstream/e2e.crt")).unwrap();
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": pem}},
    });
    let path = dir.join("e2e-settings.json");
    std::fs::write(&path, settings.to_string()).unwrap();
    path
}

#[test]
fn inspect_reads_images_from_the_registry_and_bundles_from_files() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = e2e_settings(dir.path());
    let settings = settings.to_str().unwrap();

    let repo = registry.unique_repository("inspect-signed");
    let pushed = push_layout(&e2e_layout("e2e-valid-signature"), &repo).unwrap();
    let image = format!("{repo}:v1");
    let digest = pushed
        .tags
        .iter()
        .find(|(tag, _)| tag == "v1")
        .map(|(_, d)| d.clone())
        .expect("the layout tags v1");
    let (code, answer, all) = json_of(&[
        "inspect",
        &image,
        "--settings",
        settings,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{all}");
    let summary = &answer["report"]["summary"];
    assert_eq!(summary["outcome"], "verified", "{all}");
    assert_eq!(summary["signer"], "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
    assert_eq!(answer["report"]["descriptor"]["digest"], digest.as_str());

    // Without settings: what the registry holds, integrity only.
    let (code, answer, all) = json_of(&["inspect", &image, "--output", "json"]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(answer["digest"], digest.as_str());
    assert_eq!(answer["envelopes"][0]["integrity"]["passed"], true);

    // The bundle `vns attach` published, saved to a file: same verdict.
    let o = vns(&["attach", &image]);
    assert!(o.status.success(), "{}", text(&o));
    let tag = digest.replace(':', "-") + ".notation";
    let (host, path) = repo.split_once('/').unwrap();
    let bundle: Value = ureq::get(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let bundle_file = dir.path().join("bundle.json");
    std::fs::write(&bundle_file, bundle.to_string()).unwrap();
    let (code, from_bundle, all) = json_of(&[
        "inspect",
        bundle_file.to_str().unwrap(),
        "--settings",
        settings,
        "--reference",
        &repo,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        from_bundle["report"]["summary"],
        answer_summary(&image, settings)
    );
    // The bundle names its subject (no fallback to the payload), and the
    // report says that the subject is not signed.
    let notes = from_bundle["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = notes[0].as_str().unwrap();
    assert!(
        note.contains("bundle's subject") && note.contains("not signed") && note.contains(&digest),
        "{note}"
    );

    // An unsigned image: denied with the reason, exit 1.
    let unsigned = registry.unique_repository("inspect-unsigned");
    push_layout(&e2e_layout("e2e"), &unsigned).unwrap();
    let (code, answer, all) = json_of(&[
        "inspect",
        &format!("{unsigned}:v1"),
        "--settings",
        settings,
        "--output",
        "json",
    ]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(answer["report"]["summary"]["reason"], "NO_SIGNATURE");

    // A registry that is not there: exit 3.
    let o = vns(&[
        "inspect",
        "127.0.0.1:9/none/such:v1",
        "--retry-seconds",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

fn answer_summary(image: &str, settings: &str) -> Value {
    let (_, answer, _) = json_of(&["inspect", image, "--settings", settings, "--output", "json"]);
    answer["report"]["summary"].clone()
}
