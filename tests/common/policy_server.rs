//! Kubewarden's own policy server running the built module (policy-server
//! and kwctl found on PATH; the tests that use it skip with a message when
//! they are absent), shared by `monitor_mode` and `policy_server_load`.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::on_path;
use testkit::pki::TlsCa;
use testkit::publish::publish_bundle;
use testkit::registry::{RegistryConfig, ServerTls, TestRegistry};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `policy-server` and `kwctl` from PATH, or a printed reason to skip `test`.
pub fn kubewarden_tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    match (on_path("policy-server"), on_path("kwctl")) {
        (Some(server), Some(kwctl)) => Some((server, kwctl)),
        _ => {
            eprintln!(
                "SKIPPED {test}: policy-server or kwctl is not on PATH (Kubewarden's \
                 policy server and CLI; put their directory on PATH to run this test)"
            );
            None
        }
    }
}

/// A fresh directory under the test target directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The built module annotated by kwctl as `make annotate` does (the policy
/// server runs only annotated modules: protocol version, capabilities);
/// returns its `file://` URL.
pub fn annotated_module(kwctl: &Path, dir: &Path) -> String {
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
        .arg(super::policy_wasm())
        .status()
        .expect("run kwctl annotate");
    assert!(status.success(), "kwctl annotate failed");
    format!("file://{}", annotated.display())
}

/// One policies.yml entry: the module in `mode` (protect or monitor) with
/// `settings`, allowed the two OCI host capabilities the policy calls.
pub fn policy(module: &str, mode: &str, settings: &Value) -> Value {
    json!({"module": module, "policyMode": mode, "allowedToMutate": true,
           "hostCapabilities": ["oci/v1/manifest_digest", "oci/v1/oci_manifest"],
           "settings": settings})
}

/// The policy server, killed when dropped.
pub struct PolicyServer {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PolicyServer {
    /// Starts it on loopback HTTP with `policies`, the registries in
    /// `insecure` reachable over plain HTTP, `workers` evaluation workers
    /// (the policy server's default when `None`), and a 10 s evaluation
    /// limit; waits until it is ready.
    pub fn start(
        binary: &Path,
        dir: &Path,
        policies: &Value,
        insecure: &[String],
        workers: Option<usize>,
    ) -> PolicyServer {
        let sources = json!({ "insecure_sources": insecure });
        PolicyServer::start_with_sources(binary, dir, policies, &sources, workers)
    }

    /// As `start`, with `sources` as its sources file (Kubewarden's
    /// sources.yaml: `insecure_sources`, and `source_authorities` keyed by
    /// host:port, each a list of `{"type": "Data", "data": PEM}`).
    pub fn start_with_sources(
        binary: &Path,
        dir: &Path,
        policies: &Value,
        sources: &Value,
        workers: Option<usize>,
    ) -> PolicyServer {
        let policies_file = dir.join("policies.yml");
        std::fs::write(&policies_file, serde_saphyr::to_string(policies).unwrap()).unwrap();
        // JSON is YAML: the policy server reads either.
        let sources_file = dir.join("sources.yml");
        std::fs::write(&sources_file, sources.to_string()).unwrap();
        let (port, ready) = (free_port(), free_port());
        let log = dir.join("policy-server.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(binary);
        command
            .args(["--policies", policies_file.to_str().unwrap()])
            .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
            .args(["--readiness-probe-port", &ready.to_string()])
            .args(["--sources-path", sources_file.to_str().unwrap()])
            .args(["--policies-download-dir", dir.to_str().unwrap()])
            .args([
                "--sigstore-cache-dir",
                dir.join("sigstore").to_str().unwrap(),
            ])
            .args(["--policy-timeout", "10", "--log-no-color"])
            .arg("--ignore-kubernetes-connection-failure")
            .env("NO_COLOR", "1");
        if let Some(workers) = workers {
            command.args(["--workers", &workers.to_string()]);
        }
        let child = command
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The URL of the policy `id`'s validation endpoint.
    pub fn validate_url(&self, id: &str) -> String {
        format!("http://127.0.0.1:{}/validate/{id}", self.port)
    }

    /// The AdmissionResponse for `request` from the policy `id`.
    pub fn review(&self, id: &str, request: &Value) -> Value {
        let answer: Value = ureq::post(&self.validate_url(id))
            .send_json(admission_review(request))
            .unwrap_or_else(|e| panic!("POST /validate/{id}: {e}\n{}", self.log_text()))
            .into_json()
            .expect("an AdmissionReview");
        answer["response"].clone()
    }
}

/// `request` wrapped in an AdmissionReview, as the API server sends it.
pub fn admission_review(request: &Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": request,
    })
}

/// docker-registry over HTTPS on loopback, as Azure Container Registry is
/// reached: a certificate for 127.0.0.1 from a test CA, which the policy
/// server is given in `source_authorities`. It serves the storage of a
/// plain-HTTP registry (the testkit pushes over plain HTTP); two
/// docker-registry processes can serve one storage for reading.
pub struct HttpsRegistry {
    pub registry: TestRegistry,
    ca_pem: String,
    /// The private plain registry the images were pushed into, if any.
    _origin: Option<TestRegistry>,
}

impl HttpsRegistry {
    /// Serves `plain`'s storage. When it has none here (the suite's shared
    /// registry, `VNS_TEST_REGISTRY`), first pushes `images` (repository
    /// path, e2e layout, whether to publish its bundle) into a private
    /// plain registry, at the same paths, and serves that one's.
    pub fn start(plain: &TestRegistry, images: &[(&str, &str, bool)]) -> HttpsRegistry {
        let (storage, origin) = match plain.storage_dir() {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let origin = TestRegistry::spawn().expect("start a private registry");
                for (path, layout, bundle) in images {
                    let repo = format!("{}/{path}", origin.address());
                    push_layout(&e2e_layout(layout), &repo).expect("push layout");
                    if *bundle {
                        publish_bundle(&format!("{repo}:v1")).expect("publish bundle");
                    }
                }
                let dir = origin.storage_dir().expect("a private registry's storage");
                (dir.to_path_buf(), Some(origin))
            }
        };
        let ca = TlsCa::new("policy-server-load").unwrap();
        let leaf = ca.server(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let registry = TestRegistry::spawn_with(&RegistryConfig {
            storage: Some(storage),
            tls: Some(ServerTls {
                certificate_pem: leaf.cert.pem().to_string(),
                key_pem: leaf.key.pkcs8_pem().unwrap(),
            }),
            ..RegistryConfig::default()
        })
        .expect("start docker-registry over HTTPS");
        HttpsRegistry {
            registry,
            ca_pem: ca.pem().to_string(),
            _origin: origin,
        }
    }

    /// The `source_authorities` of a sources file that trusts the test CA
    /// for each of `addresses` (host:port: this registry, or proxies in
    /// front of it; the certificate names 127.0.0.1, any port).
    pub fn authorities(&self, addresses: &[&str]) -> Value {
        let entries: serde_json::Map<String, Value> = addresses
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    json!([{"type": "Data", "data": self.ca_pem}]),
                )
            })
            .collect();
        Value::Object(entries)
    }
}
