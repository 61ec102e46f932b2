//! Shared by the `vns serve` tests: the real binary serving HTTPS on
//! loopback with certificates made by deploy/gatekeeper/certs.sh, an HTTPS
//! client with its own rustls configuration, settings files, requests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// CA, server (127.0.0.1) and client certificates, by the deploy script.
pub fn make_certs(dir: &Path) {
    let out = Command::new("bash")
        .arg(repo_root().join("deploy/gatekeeper/certs.sh"))
        .arg(dir)
        .args(["IP:127.0.0.1", "DNS:localhost"])
        .output()
        .expect("run certs.sh (needs bash and openssl)");
    assert!(
        out.status.success(),
        "certs.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Provider {
    child: Child,
    pub address: String,
    pub certs: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Provider {
    /// Starts `vns serve` on a free loopback port; waits for its listening
    /// line. `{certs}` in `extra` stands for the certificate directory.
    pub fn start(settings: &Path, extra: &[&str]) -> Provider {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        make_certs(&certs);
        let stderr = dir.path().join("stderr.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vns"))
            .arg("serve")
            .arg("--settings")
            .arg(settings)
            .arg("--listen=127.0.0.1:0")
            .arg("--tls-cert")
            .arg(certs.join("tls.crt"))
            .arg("--tls-key")
            .arg(certs.join("tls.key"))
            .args(
                extra
                    .iter()
                    .map(|a| a.replace("{certs}", &certs.display().to_string())),
            )
            .env("DOCKER_CONFIG", "/nonexistent")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start vns serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let Some(address) = line.trim().strip_prefix("vns serve: listening on https://") else {
            let _ = child.kill();
            panic!(
                "no listening line: {line:?}; stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        Provider {
            address: address.to_string(),
            child,
            certs,
            stderr,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub fn exit_within(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait for vns serve") {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// A TLS 1.3 client trusting the provider's CA, with the client
    /// certificate when `with_cert`.
    pub fn client(&self, with_cert: bool) -> reqwest::blocking::Client {
        client_for(&self.certs, with_cert, &[&rustls::version::TLS13])
    }

    /// POST to an endpoint; the status and the JSON answer.
    pub fn post(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let response = self
            .client(false)
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .expect("HTTPS request");
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, value)
    }

    pub fn validate(&self, keys: &[&str]) -> Value {
        let (status, v) = self.post("/validate", &request(keys));
        assert_eq!(status, 200, "{v}");
        v
    }

    pub fn get(&self, path: &str) -> String {
        self.client(false)
            .get(self.url(path))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Sum of a metric's samples whose line starts with `prefix`.
    pub fn metric(&self, prefix: &str) -> f64 {
        self.get("/metrics")
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client_for(
    certs: &Path,
    with_cert: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::blocking::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certs.join("ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_cert {
        let chain = CertificateDer::pem_file_iter(certs.join("client.crt"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(certs.join("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn request(keys: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": API_VERSION,
        "kind": "ProviderRequest",
        "request": {"keys": keys},
    }))
    .unwrap()
}

pub fn cert(path: &str) -> String {
    std::fs::read_to_string(testdata::path("notation-e2e/certs").join(path)).unwrap()
}

/// Settings for the protocol tests: `skipped` and `untrusted` repositories
/// get their own statements (skip; a store that does not hold the signer),
/// everything else trusts the Notation e2e root; `extra` merges on top.
pub fn settings(skipped: &str, untrusted: &str, extra: Value) -> Value {
    let mut settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [
            {"name": "skipped", "registryScopes": [skipped],
             "signatureVerification": {"level": "skip"}},
            {"name": "untrusted", "registryScopes": [untrusted],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:other"], "trustedIdentities": ["*"]},
            {"name": "e2e", "registryScopes": ["*"],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": cert("upstream/e2e.crt"), "other": cert("upstream/new_e2e.crt")}},
    });
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    settings
}

pub fn write_settings(path: &Path, settings: &Value) {
    // Written aside and renamed, as a ConfigMap update swaps the file whole.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(settings).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The item of `key` in a ProviderResponse.
pub fn item<'a>(response: &'a Value, key: &str) -> &'a Value {
    response["response"]["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["key"] == key))
        .unwrap_or_else(|| panic!("no item for {key}: {response}"))
}
