//! The warn phase both Kubewarden ways, in Kubewarden's own policy server
//! (policy-server and kwctl found on PATH; skipped with a message when
//! absent): the built module, annotated by kwctl as `make annotate` does,
//! loaded from policies.yml `mode: protect` and `mode: monitor`, both
//! with `enforcement: deny`, plus `enforcement: warn` in protect mode, asked
//! about the same unsigned image in a real local registry over the policy
//! server's HTTP API.

mod common;

use std::time::{Duration, Instant};

use common::policy_server::{
    annotated_module, kubewarden_tools, policy, scratch_dir, PolicyServer,
};
use common::{create_pod, push, settings, with};
use serde_json::json;

#[test]
fn monitor_mode_admits_and_logs_what_protect_mode_rejects() {
    let Some((binary, kwctl)) = kubewarden_tools("monitor_mode") else {
        return;
    };
    let repo = push("e2e"); // an image without signatures
    let registry = repo.split('/').next().unwrap().to_string();
    let image = format!("{repo}:v1");
    let dir = scratch_dir("policy-server");
    let module = annotated_module(&kwctl, &dir);
    // A cluster-wide policy may call every host capability; policies.yml
    // says so per policy.
    let deny = with(settings(), "enforcement", json!("deny"));
    let warn = with(settings(), "enforcement", json!("warn"));
    let policies = json!({
        "protect-deny": policy(&module, "protect", &deny),
        "monitor-deny": policy(&module, "monitor", &deny),
        "protect-warn": policy(&module, "protect", &warn),
    });
    let server = PolicyServer::start(&binary, &dir, &policies, &[registry], None);
    let request = create_pod(&[&image]);

    let protect = server.review("protect-deny", &request);
    assert_eq!(protect["allowed"], false, "{protect}");
    let reason = protect["status"]["message"].as_str().unwrap_or_default();
    assert!(reason.contains("NO_SIGNATURE"), "{protect}");

    // Monitor: the same evaluation, admitted, and the would-be rejection logged.
    let monitor = server.review("monitor-deny", &request);
    assert_eq!(monitor["allowed"], true, "{monitor}");
    assert!(
        monitor["patch"].is_null(),
        "monitor mode never mutates: {monitor}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_text().contains("monitor-deny") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = server.log_text();
    let logged = log.lines().any(|l| {
        l.contains("monitor mode") && l.contains("monitor-deny") && l.contains("NO_SIGNATURE")
    });
    assert!(
        logged,
        "the policy server logs the would-be rejection:\n{log}"
    );

    // enforcement: warn: admitted, the failure in the warnings and audit annotations.
    let warned = server.review("protect-warn", &request);
    assert_eq!(warned["allowed"], true, "{warned}");
    let warnings = warned["warnings"].to_string();
    assert!(warnings.contains("NO_SIGNATURE"), "{warned}");
    let annotations = warned["auditAnnotations"].to_string();
    assert!(annotations.contains("NO_SIGNATURE"), "{warned}");
}
