//! Helpers shared by the `vns` end-to-end tests: the real binary, its
//! output, and the built policy module in the waPC host.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use testkit::host::PolicyHost;

/// Runs the `vns` binary with no Docker credentials.
pub fn vns(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vns"))
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .expect("run vns")
}

/// stdout and stderr together, for assertions and failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The built policy module, compiled once per test binary.
pub fn policy_host() -> &'static PolicyHost {
    static HOST: OnceLock<PolicyHost> = OnceLock::new();
    HOST.get_or_init(|| {
        testkit::host::load_policy_for_tests(
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache"),
        )
    })
}
