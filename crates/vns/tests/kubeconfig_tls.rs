//! Trust stores read from the cluster of the current kubeconfig context
//! over real HTTPS: the API server's certificate is checked against the
//! kubeconfig's certificate authority (inline or a file), and the user
//! authenticates with a bearer token or a client certificate.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::text;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::pki::TlsCa;
use testkit::registry::TestRegistry;

const SECRET_PATH: &str = "/api/v1/namespaces/kubewarden/secrets/notation-trust-store";

fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// An HTTPS Kubernetes API on loopback serving the trust store Secret to
/// requests with `token`, or to any request when a client certificate
/// from `client_ca` is required. Returns the URL and the request heads
/// it saw.
fn https_api(
    server_ca: &TlsCa,
    client_ca: Option<&TlsCa>,
    token: Option<&'static str>,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let leaf = server_ca.server(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
    let chain = vec![CertificateDer::from(leaf.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.pkcs8_der().unwrap()));
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let der = testkit::pki::Cert::from_der(&pem_der(ca.pem())).unwrap();
            roots.add(CertificateDer::from(der.der().to_vec())).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    }
    .with_single_cert(chain, key)
    .unwrap();
    let config = Arc::new(config);
    let store = cert("upstream/e2e.crt");
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"namespace": "kubewarden", "name": "notation-trust-store"},
        "data": {"ca.crt": b64(store)}})
    .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut head = String::new();
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            let mut failed = None;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => head.push_str(&line),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                log.lock().unwrap().push(format!("TLS error: {e}"));
                continue;
            }
            let authorised = match token {
                Some(t) => head
                    .to_ascii_lowercase()
                    .contains(&format!("authorization: bearer {t}")),
                None => true,
            };
            let (status, body) = if head.starts_with(&format!("GET {SECRET_PATH} ")) && authorised {
                ("200 OK", secret.clone())
            } else {
                (
                    "403 Forbidden",
                    r#"{"kind":"Status","message":"forbidden"}"#.to_string(),
                )
            };
            log.lock().unwrap().push(head);
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(response.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (url, seen)
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn cert(path: &str) -> String {
    std::fs::read_to_string(testdata::path("notation-e2e/certs").join(path)).unwrap()
}

fn settings_file(dir: &std::path::Path) -> std::path::PathBuf {
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e":
            {"secret": {"namespace": "kubewarden", "name": "notation-trust-store"}}}},
    });
    let path = dir.join("settings.json");
    std::fs::write(&path, settings.to_string()).unwrap();
    path
}

fn kubeconfig(dir: &std::path::Path, cluster: &str, user: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\ncontexts:\n- name: test\n  context: {{cluster: local, user: me}}\nclusters:\n- name: local\n  cluster: {cluster}\nusers:\n- name: me\n  user: {user}\n"
        ),
    )
    .unwrap();
    path
}

fn verify(
    image: &str,
    dir: &std::path::Path,
    kubeconfig: &std::path::Path,
) -> (i32, Value, Output) {
    let settings = settings_file(dir);
    let o = Command::new(env!("CARGO_BIN_EXE_vns"))
        .args([
            "verify",
            image,
            "--settings",
            settings.to_str().unwrap(),
            "--output",
            "json",
        ])
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
fn ca_data_and_a_bearer_token() {
    let registry = TestRegistry::start().unwrap();
    let image = signed_image(&registry);
    let ca = TlsCa::new("kube-api-ca").unwrap();
    let (server, seen) = https_api(&ca, None, Some("s3cr3t"));
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(
        dir.path(),
        &format!(
            "{{server: '{server}', certificate-authority-data: {}}}",
            b64(ca.pem())
        ),
        "{token: s3cr3t}",
    );
    let (code, report, o) = verify(&image, dir.path(), &config);
    assert_eq!(code, 0, "{report} {}", text(&o));
    assert_eq!(report["status"], "verified");
    let heads = seen.lock().unwrap().clone();
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with(&format!("GET {SECRET_PATH} "))),
        "{heads:?}"
    );
}

#[test]
fn ca_file_and_a_client_certificate() {
    let registry = TestRegistry::start().unwrap();
    let image = signed_image(&registry);
    let ca = TlsCa::new("kube-api-ca").unwrap();
    let client_ca = TlsCa::new("kube-client-ca").unwrap();
    let (server, seen) = https_api(&ca, Some(&client_ca), None);
    let dir = tempfile::tempdir().unwrap();
    // A relative path: kubectl reads it beside the kubeconfig.
    std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
    let client = client_ca.client("vns-test").unwrap();

    // Without the client certificate the server refuses the handshake.
    let config = kubeconfig(
        dir.path(),
        &format!("{{server: '{server}', certificate-authority: ca.crt}}"),
        "{}",
    );
    let (code, report, o) = verify(&image, dir.path(), &config);
    assert_eq!(code, 1, "{report} {}", text(&o));
    assert_eq!(report["reason"], "TRUST_STORE_ERROR", "{report}");
    let m = report["message"].as_str().unwrap();
    assert!(
        m.contains("client certificate") && m.contains("user \"me\""),
        "{m}"
    );

    let config = kubeconfig(
        dir.path(),
        &format!("{{server: '{server}', certificate-authority: ca.crt}}"),
        &format!(
            "{{client-certificate-data: {}, client-key-data: {}}}",
            b64(client.cert.pem()),
            b64(client.key.pkcs8_pem().unwrap())
        ),
    );
    let (code, report, o) = verify(&image, dir.path(), &config);
    assert_eq!(code, 0, "{report} {}", text(&o));
    assert_eq!(report["status"], "verified");
    let heads = seen.lock().unwrap().clone();
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with(&format!("GET {SECRET_PATH} "))),
        "{heads:?}"
    );
}

#[test]
fn a_ca_that_does_not_match_is_a_clear_error() {
    let registry = TestRegistry::start().unwrap();
    let image = signed_image(&registry);
    let ca = TlsCa::new("kube-api-ca").unwrap();
    let other = TlsCa::new("some-other-ca").unwrap();
    let (server, _) = https_api(&ca, None, Some("s3cr3t"));
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(
        dir.path(),
        &format!(
            "{{server: '{server}', certificate-authority-data: {}}}",
            b64(other.pem())
        ),
        "{token: s3cr3t}",
    );
    let (code, report, o) = verify(&image, dir.path(), &config);
    assert_eq!(code, 1, "{report} {}", text(&o));
    assert_eq!(report["reason"], "TRUST_STORE_ERROR", "{report}");
    let m = report["message"].as_str().unwrap();
    // Names the context, cluster and server, and says what to do.
    assert!(
        m.contains(&server) && m.contains("context \"test\"") && m.contains("cluster \"local\""),
        "{m}"
    );
    assert!(
        m.contains("certificate-authority") && m.contains("--trust-store-dir"),
        "{m}"
    );
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
}
