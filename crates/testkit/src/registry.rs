//! A real local registry for tests: Debian's `docker-registry` on loopback.
//!
//! CI starts one for the whole suite and exports `VNS_TEST_REGISTRY`
//! (`host:port`); without it, each `TestRegistry::start` launches its own
//! instance in a temporary directory and stops it on drop. Tests isolate
//! themselves by repository name, not by registry.

use std::net::TcpListener;
use std::path::PathBuf;
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

pub struct TestRegistry {
    address: String,
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
                    child: None,
                    _dir: None,
                });
            }
        }
        Self::spawn()
    }

    /// Always a private instance (for tests that stop or break it).
    pub fn spawn() -> Result<Self, RegistryError> {
        let dir = tempfile::tempdir()?;
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                dir.path().join("storage").display()
            ),
        )?;
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(RegistryError::NotInstalled)?;
        let registry = TestRegistry {
            address: address.clone(),
            child: Some(child),
            _dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ureq::get(&format!("http://{address}/v2/")).call().is_ok() {
                return Ok(registry);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(RegistryError::NoAnswer(address, log_path))
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

impl Drop for TestRegistry {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
