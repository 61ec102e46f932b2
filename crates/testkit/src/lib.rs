//! Test support for the policy, `vns` and benchmarks: a real local registry,
//! OCI layout pushing, and (feature `host`) the waPC host that runs the
//! built policy module.
//!
//! Modules, in the order a test builds its world: [`pki`] (keys and
//! certificate chains), [`tsa`] (RFC 3161 tokens), [`revocation`] (CRLs,
//! OCSP responses and a responder), [`signer`] (JWS/COSE envelopes and
//! signature manifests), [`registry`] (a real local registry, optionally with
//! token authentication from [`token_service`]), [`layout`]
//! (pushing OCI layouts), [`publish`] (signature bundles as `vns attach`
//! writes them), and `host` (feature `host`: the waPC host that runs the
//! policy module against a registry).

#[cfg(feature = "host")]
pub mod host;
pub mod layout;
pub mod pki;
pub mod publish;
pub mod registry;
pub mod revocation;
pub mod signer;
pub mod token_service;
pub mod tsa;

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first file `tool` in a directory of PATH.
pub fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// The policy module under test: the newer of `make policy.wasm` (wasm-opt'd)
/// and the cargo release build, so a test never runs a stale module.
/// `None` when neither is built (`make policy.wasm`).
pub fn policy_wasm() -> Option<PathBuf> {
    let root = workspace_dir();
    [
        root.join("policy.wasm"),
        root.join("target/wasm32-wasip1/release/verify_notation_signatures.wasm"),
    ]
    .into_iter()
    .filter(|p| p.is_file())
    .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}
