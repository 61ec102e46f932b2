//! A private `TestRegistry` stops with the process that started it, even
//! when it is never dropped (test fixtures keep one in a `static`, and a
//! `static` is not dropped): plain `cargo test` must not leave registries
//! running.
//!
//! The test runs this binary again as a child, whose only test starts a
//! registry, keeps it in a `static`, prints its address and returns; the
//! child process then exits. The parent checks that the address stops
//! answering.

use std::net::TcpStream;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testkit::registry::TestRegistry;

const CHILD: &str = "VNS_REGISTRY_LIFETIME_CHILD";

#[test]
#[ignore = "run only as the child of registry_in_a_static_stops_when_the_process_exits"]
fn child_keeps_a_registry_in_a_static() {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let registry = REGISTRY.get_or_init(|| TestRegistry::spawn().expect("registry"));
    println!("registry-address={}", registry.address());
}

/// Says so and skips when docker-registry is missing.
fn registry_installed() -> bool {
    let installed = Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_ok();
    if !installed {
        eprintln!("SKIPPED: docker-registry is not installed (run `bash scripts/setup.sh`)");
    }
    installed
}

#[test]
fn registry_in_a_static_stops_when_the_process_exits() {
    if !registry_installed() {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_keeps_a_registry_in_a_static",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    let address = stdout
        .lines()
        // The harness prints it on the line that names the test.
        .find_map(|l| l.split("registry-address=").nth(1))
        .map(str::trim)
        .unwrap_or_else(|| panic!("the child printed no address: {stdout}"))
        .to_string();
    // The child has exited; its registry follows within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&address).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the registry of an exited process still answers on {address} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dropped_registry_stops_at_once() {
    if !registry_installed() {
        return;
    }
    let registry = TestRegistry::spawn().unwrap();
    let address = registry.address().to_string();
    assert!(
        TcpStream::connect(&address).is_ok(),
        "not listening before the drop"
    );
    drop(registry);
    // Drop waits for the supervisor, which waits for the registry.
    assert!(
        TcpStream::connect(&address).is_err(),
        "still answering on {address} after the drop"
    );
}
