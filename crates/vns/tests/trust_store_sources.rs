//! `vns verify` with trust stores kept in ConfigMaps and Secrets: read from
//! `--trust-store-dir` files, or from the cluster of the current kubeconfig
//! context (here a local API server that serves one Secret).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

use base64::Engine as _;
use common::text;
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

fn cert(path: &str) -> String {
    std::fs::read_to_string(testdata::path("notation-e2e/certs").join(path)).unwrap()
}

fn settings_file(dir: &std::path::Path, store: Value) -> std::path::PathBuf {
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": store}},
    });
    let path = dir.join("settings.json");
    std::fs::write(&path, settings.to_string()).unwrap();
    path
}

fn verify(
    image: &str,
    settings: &std::path::Path,
    extra: &[&str],
    kubeconfig: &str,
) -> (i32, Value, Output) {
    let o = Command::new(env!("CARGO_BIN_EXE_vns"))
        .args([
            "verify",
            image,
            "--settings",
            settings.to_str().unwrap(),
            "--output",
            "json",
        ])
        .args(extra)
        .env("DOCKER_CONFIG", "/nonexistent")
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run vns");
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    (o.status.code().unwrap(), report[0].clone(), o)
}

fn signed_image(registry: &TestRegistry) -> String {
    let repo = registry.unique_repository("e2e-valid-signature");
    push_layout(&e2e_layout("e2e-valid-signature"), &repo).unwrap();
    format!("{repo}:v1")
}

#[test]
fn trust_store_dir_holds_one_file_per_store() {
    let registry = TestRegistry::start().unwrap();
    let image = signed_image(&registry);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(
        dir.path(),
        json!({"secret": {"namespace": "kubewarden", "name": "notation-trust-store", "key": "ca.crt"}}),
    );
    let stores = dir.path().join("stores");
    std::fs::create_dir_all(stores.join("ca")).unwrap();
    let dir_flag = ["--trust-store-dir", stores.to_str().unwrap()];

    // Missing file: TRUST_STORE_ERROR naming the object and the file.
    let (code, report, _) = verify(&image, &settings, &dir_flag, "/nonexistent");
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["reason"], "TRUST_STORE_ERROR", "{report}");
    let m = report["message"].as_str().unwrap();
    assert!(
        m.contains("Secret kubewarden/notation-trust-store[ca.crt]") && m.contains("ca/e2e.pem"),
        "{m}"
    );

    std::fs::write(stores.join("ca/e2e.pem"), cert("upstream/e2e.crt")).unwrap();
    let (code, report, _) = verify(&image, &settings, &dir_flag, "/nonexistent");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["status"], "verified");

    // Rotated to another key's root: the signer is no longer trusted.
    std::fs::write(stores.join("ca/e2e.pem"), cert("upstream/new_e2e.crt")).unwrap();
    let (code, report, _) = verify(&image, &settings, &dir_flag, "/nonexistent");
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["reason"], "UNTRUSTED_SIGNER", "{report}");

    // Without the flag and without a kubeconfig, the error says what to do.
    let (code, report, _) = verify(&image, &settings, &[], "/nonexistent/config");
    assert_eq!(code, 1, "{report}");
    let m = report["message"].as_str().unwrap();
    assert!(
        m.contains("--trust-store-dir") && m.contains("kubeconfig"),
        "{m}"
    );
}

/// A one-request Kubernetes API on loopback answering `body` for `path`
/// when the bearer token is right; returns the request line it saw.
fn api_server(
    path: &'static str,
    token: &'static str,
    body: String,
) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            head.push_str(&line);
            line.clear();
        }
        let authorised = head
            .to_ascii_lowercase()
            .contains(&format!("authorization: bearer {token}"));
        let (status, body) = if head.starts_with(&format!("GET {path} ")) && authorised {
            ("200 OK", body)
        } else {
            (
                "403 Forbidden",
                r#"{"kind":"Status","message":"forbidden"}"#.to_string(),
            )
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).unwrap();
        head
    });
    (server, handle)
}

#[test]
fn without_a_dir_the_current_kubeconfig_context_is_asked() {
    let registry = TestRegistry::start().unwrap();
    let image = signed_image(&registry);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(
        dir.path(),
        json!({"secret": {"namespace": "kubewarden", "name": "notation-trust-store"}}),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"namespace": "kubewarden", "name": "notation-trust-store"},
        "data": {"ca.crt": b64.encode(cert("upstream/e2e.crt")), "tls.key": b64.encode("secret")}});
    let (server, seen) = api_server(
        "/api/v1/namespaces/kubewarden/secrets/notation-trust-store",
        "s3cr3t",
        secret.to_string(),
    );
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\ncontexts:\n- name: test\n  context: {{cluster: local, user: me}}\nclusters:\n- name: local\n  cluster: {{server: '{server}'}}\nusers:\n- name: me\n  user: {{token: s3cr3t}}\n"
        ),
    )
    .unwrap();
    let (code, report, o) = verify(&image, &settings, &[], kubeconfig.to_str().unwrap());
    assert_eq!(code, 0, "{report} {}", text(&o));
    assert_eq!(report["status"], "verified");
    let head = seen.join().unwrap();
    assert!(
        head.starts_with("GET /api/v1/namespaces/kubewarden/secrets/notation-trust-store "),
        "{head}"
    );
}
