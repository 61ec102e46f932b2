//! The warn phase both Kubewarden ways, in Kubewarden's own policy server
//! (policy-server and kwctl found on PATH; skipped with a message when
//! absent): the built module, annotated by kwctl as `make annotate` does,
//! loaded from policies.yml `mode: protect` and `mode: monitor`, both
//! with `enforcement: deny`, plus `enforcement: warn` in protect mode, asked
//! about the same unsigned image in a real local registry over the policy
//! server's HTTP API.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{create_pod, policy_wasm, push, settings, with};
use serde_json::{json, Value};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn on_path(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// The policy server, killed when dropped.
struct PolicyServer {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PolicyServer {
    fn start(binary: &Path, dir: &Path, policies: &Value, registry: &str) -> PolicyServer {
        let policies_file = dir.join("policies.yml");
        std::fs::write(&policies_file, serde_saphyr::to_string(policies).unwrap()).unwrap();
        let sources = dir.join("sources.yml");
        std::fs::write(&sources, format!("insecure_sources: [\"{registry}\"]\n")).unwrap();
        let (port, ready) = (free_port(), free_port());
        let log = dir.join("policy-server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .args(["--policies", policies_file.to_str().unwrap()])
            .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
            .args(["--readiness-probe-port", &ready.to_string()])
            .args(["--sources-path", sources.to_str().unwrap()])
            .args(["--policies-download-dir", dir.to_str().unwrap()])
            .args([
                "--sigstore-cache-dir",
                dir.join("sigstore").to_str().unwrap(),
            ])
            .args(["--policy-timeout", "10", "--log-no-color"])
            .arg("--ignore-kubernetes-connection-failure")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start policy-server");
        let server = PolicyServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if ureq::get(&format!("http://127.0.0.1:{ready}/readiness"))
                .call()
                .is_ok()
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "policy-server did not become ready:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The AdmissionResponse for `request` from the policy `id`.
    fn review(&self, id: &str, request: &Value) -> Value {
        let review = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": request,
        });
        let answer: Value = ureq::post(&format!("http://127.0.0.1:{}/validate/{id}", self.port))
            .send_json(review)
            .unwrap_or_else(|e| panic!("POST /validate/{id}: {e}\n{}", self.log_text()))
            .into_json()
            .expect("an AdmissionReview");
        answer["response"].clone()
    }
}

#[test]
fn monitor_mode_admits_and_logs_what_protect_mode_rejects() {
    let (Some(binary), Some(kwctl)) = (on_path("policy-server"), on_path("kwctl")) else {
        eprintln!(
            "SKIPPED monitor_mode: policy-server or kwctl is not on PATH (Kubewarden's \
             policy server and CLI; put their directory on PATH to run this test)"
        );
        return;
    };
    let repo = push("e2e"); // an image without signatures
    let registry = repo.split('/').next().unwrap().to_string();
    let image = format!("{repo}:v1");
    let dir = tempfile_dir();
    // The policy server runs only annotated modules (protocol version, capabilities).
    let annotated = dir.join("annotated.wasm");
    let status = Command::new(kwctl)
        .arg("annotate")
        .arg("-m")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policy-metadata/metadata.yml"
        ))
        .arg("-o")
        .arg(&annotated)
        .arg(policy_wasm())
        .status()
        .expect("run kwctl annotate");
    assert!(status.success(), "kwctl annotate failed");
    let module = format!("file://{}", annotated.display());
    // A cluster-wide policy may call every host capability; policies.yml
    // says so per policy.
    let caps = json!(["oci/v1/manifest_digest", "oci/v1/oci_manifest"]);
    let deny = with(settings(), "enforcement", json!("deny"));
    let warn = with(settings(), "enforcement", json!("warn"));
    let policies = json!({
        "protect-deny": {"module": module, "policyMode": "protect", "allowedToMutate": true,
                         "hostCapabilities": caps, "settings": deny},
        "monitor-deny": {"module": module, "policyMode": "monitor", "allowedToMutate": true,
                         "hostCapabilities": caps, "settings": deny},
        "protect-warn": {"module": module, "policyMode": "protect", "allowedToMutate": true,
                         "hostCapabilities": caps, "settings": warn},
    });
    let server = PolicyServer::start(&binary, &dir, &policies, &registry);
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

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("policy-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
