//! A real local registry for tests: Debian's `docker-registry` on loopback.
//!
//! CI starts one for the whole suite and exports `VNS_TEST_REGISTRY`
//! (`host:port`); without it, each `TestRegistry::start` launches its own
//! instance in a temporary directory and stops it on drop. Tests isolate
//! themselves by repository name, not by registry.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("docker-registry is not installed (run `bash scripts/setup.sh`, or set VNS_TEST_REGISTRY=host:port): {0}")]
    NotInstalled(std::io::Error),
    #[error("could not prepare the registry directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("docker-registry did not answer on {0} within 10 s; see {1}")]
    NoAnswer(String, PathBuf),
}

/// How a private instance is configured.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// `storage.delete.enabled` (manifest deletes answer 405 without it).
    pub deletes: bool,
    /// `auth: token`: clients need a Bearer token from this token service.
    pub token_auth: Option<TokenAuth>,
    /// Serve this storage directory (of another instance) instead of a new one.
    pub storage: Option<PathBuf>,
    /// Serve HTTPS with this certificate and key (`http.tls`) instead of
    /// plain HTTP. The testkit's push helpers speak plain HTTP: push through
    /// a plain instance and serve its `storage` over HTTPS from a second one.
    pub tls: Option<ServerTls>,
}

/// A server certificate (PEM, leaf first, as docker-registry reads it) and
/// its private key (PKCS#8 PEM), e.g. from `pki::TlsCa::server`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub certificate_pem: String,
    pub key_pem: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            deletes: true,
            token_auth: None,
            storage: None,
            tls: None,
        }
    }
}

/// The `auth.token` section: who issues tokens and the certificate of the
/// key that signs them.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub root_cert_pem: String,
}

impl TokenAuth {
    pub fn of(service: &crate::token_service::TokenService) -> Self {
        TokenAuth {
            realm: service.realm().to_string(),
            service: service.service().to_string(),
            issuer: service.issuer().to_string(),
            root_cert_pem: service.root_cert_pem().to_string(),
        }
    }
}

pub struct TestRegistry {
    address: String,
    storage: Option<PathBuf>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl TestRegistry {
    /// The suite's registry (`VNS_TEST_REGISTRY`) or a fresh private one.
    pub fn start() -> Result<Self, RegistryError> {
        if let Ok(address) = std::env::var("VNS_TEST_REGISTRY") {
            if !address.trim().is_empty() {
                return Ok(TestRegistry {
                    address: address.trim().to_string(),
                    storage: None,
                    child: None,
                    _dir: None,
                });
            }
        }
        Self::spawn()
    }

    /// Always a private instance (for tests that stop or break it).
    pub fn spawn() -> Result<Self, RegistryError> {
        Self::spawn_with(&RegistryConfig::default())
    }

    /// A private instance configured as `config` says.
    pub fn spawn_with(config: &RegistryConfig) -> Result<Self, RegistryError> {
        let dir = tempfile::tempdir()?;
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let address = format!("127.0.0.1:{port}");
        let storage = config
            .storage
            .clone()
            .unwrap_or_else(|| dir.path().join("storage"));
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {}\nhttp:\n  addr: {address}\n",
            storage.display(),
            config.deletes
        );
        if let Some(tls) = &config.tls {
            let (certificate, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
            std::fs::write(&certificate, &tls.certificate_pem)?;
            std::fs::write(&key, &tls.key_pem)?;
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certificate.display(),
                key.display()
            ));
        }
        if let Some(token) = &config.token_auth {
            let bundle = dir.path().join("token-roots.pem");
            std::fs::write(&bundle, &token.root_cert_pem)?;
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                token.realm,
                token.service,
                token.issuer,
                bundle.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, yaml)?;
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path)?;
        // Found first, so that a missing binary is named as such (the
        // supervisor below is `sh`, which would spawn anyway).
        let binary = crate::on_path("docker-registry").ok_or_else(|| {
            RegistryError::NotInstalled(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not found on PATH",
            ))
        })?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("sh")
            .arg(&binary)
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(RegistryError::NotInstalled)?;
        let mut registry = TestRegistry {
            address: address.clone(),
            storage: Some(storage),
            child: Some(child),
            _dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Exited (a bad configuration, certificate or key): its log says why.
            if let Some(Ok(Some(_))) = registry.child.as_mut().map(Child::try_wait) {
                break;
            }
            let listening = if config.tls.is_some() {
                // The testkit's HTTP client speaks no TLS: an accepted
                // connection means it listens (docker-registry sets up TLS
                // on its listener right after binding it, or exits).
                std::net::TcpStream::connect(&address).is_ok()
            } else {
                // Any HTTP answer (401 included, with token auth) means it listens.
                matches!(
                    ureq::get(&format!("http://{address}/v2/")).call(),
                    Ok(_) | Err(ureq::Error::Status(_, _))
                )
            };
            if listening {
                return Ok(registry);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(RegistryError::NoAnswer(address, log_path))
    }

    /// The storage directory of a private instance (`None` for the suite's
    /// registry): another instance given it serves the same content.
    pub fn storage_dir(&self) -> Option<&Path> {
        self.storage.as_deref()
    }

    /// `127.0.0.1:PORT`
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A repository name unique to this process and call site, so parallel
    /// tests sharing one registry never see each other's tags.
    pub fn unique_repository(&self, stem: &str) -> String {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{}/test-{}-{n}/{stem}", self.address, std::process::id())
    }
}

/// Runs the registry (`$1 serve $2`) until the registry exits or this
/// shell's standard input reaches its end. The test process holds the
/// other end of that pipe: the registry stops when the `TestRegistry` is
/// dropped and also when the process ends without dropping it (a registry
/// kept in a `static`, a test binary killed or aborted), which a plain
/// child process would outlive. The reader takes the pipe as fd 3, because
/// a background job's standard input is /dev/null.
const SUPERVISOR: &str = r#"exec 3<&0
"$1" serve "$2" </dev/null &
registry=$!
{ read -r _ <&3; kill "$registry" 2>/dev/null; } &
wait "$registry"
"#;

impl Drop for TestRegistry {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // End of input: the supervisor stops the registry and exits.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}
