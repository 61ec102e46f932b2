//! `vns verify` with `enforcement: warn`: the gate reports and never blocks
//! (exit 0 for verification failures and registry errors alike, both
//! printed and in the JSON); only usage errors exit non-zero. The real
//! binary against a real local registry, and an unreachable one.

mod common;

use std::path::{Path, PathBuf};

use common::{text, vns};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

/// Settings trusting the Notation e2e root for every repository.
fn settings_file(dir: &Path, enforcement: &str) -> PathBuf {
    let root =
        std::fs::read_to_string(testdata::path("notation-e2e/certs/upstream/e2e.crt")).unwrap();
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": root}},
        "enforcement": enforcement,
    });
    let path = dir.join(format!("{enforcement}.yaml"));
    std::fs::write(&path, serde_json::to_string_pretty(&settings).unwrap()).unwrap();
    path
}

fn verify(images: &[&str], settings: &Path, json: bool) -> std::process::Output {
    let mut args = vec!["verify", "--retry-seconds", "1", "--settings"];
    args.push(settings.to_str().unwrap());
    if json {
        args.extend(["--output", "json"]);
    }
    args.extend(images);
    vns(&args)
}

#[test]
fn warn_mode_exits_zero_for_failures_and_registry_errors_and_reports_both() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = registry.unique_repository("unsigned");
    push_layout(&e2e_layout("e2e"), &repo).expect("push layout");
    let unsigned = format!("{repo}:v1");
    // Nothing listens on port 1: connection refused, a registry error.
    let unreachable = "127.0.0.1:1/shop/api:v1";
    let warn = settings_file(dir.path(), "warn");
    let deny = settings_file(dir.path(), "deny");

    let o = verify(&[&unsigned, unreachable], &warn, true);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reports: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(reports[0]["status"], "failed", "{reports}");
    assert_eq!(reports[0]["reason"], "NO_SIGNATURE", "{reports}");
    assert_eq!(reports[1]["status"], "registryError", "{reports}");
    assert_eq!(reports[1]["reason"], "REGISTRY_ERROR", "{reports}");
    assert!(
        reports[1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("127.0.0.1:1")),
        "{reports}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("1 image(s) failed verification and 1 could not be read"),
        "{stderr}"
    );

    let o = verify(&[&unsigned, unreachable], &warn, false);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("WARN      {unsigned}")), "{out}");
    assert!(out.contains(&format!("WARN      {unreachable}")), "{out}");
    assert!(
        out.contains("NO_SIGNATURE") && out.contains("REGISTRY_ERROR"),
        "{out}"
    );
    assert!(out.contains("not blocking (exit 0)"), "{out}");

    // The same images with enforcement: deny block the deploy.
    assert_eq!(verify(&[&unsigned], &deny, true).status.code(), Some(1));
    assert_eq!(verify(&[unreachable], &deny, true).status.code(), Some(3));
}

#[test]
fn warn_mode_still_refuses_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let warn = settings_file(dir.path(), "warn");

    let o = verify(&["Not A Reference"], &warn, true);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("Not A Reference"), "{}", text(&o));
    assert!(o.stdout.is_empty(), "no report for a usage error");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "enforcement: block\n").unwrap();
    let o = verify(&["127.0.0.1:1/shop/api:v1"], &bad, true);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("enforcement: unknown variant `block`")
            && t.contains("deny")
            && t.contains("warn"),
        "{t}"
    );

    let o = vns(&["verify", "127.0.0.1:1/shop/api:v1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--settings"), "{}", text(&o));
}
