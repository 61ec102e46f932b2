//! Test support for the policy, `vns` and benchmarks: a real local registry,
//! OCI layout pushing, and (feature `host`) the waPC host that runs the
//! built policy module.

#[cfg(feature = "host")]
pub mod host;
pub mod layout;
pub mod pki;
pub mod publish;
pub mod registry;
pub mod revocation;
pub mod signer;
pub mod tsa;

use std::path::PathBuf;

/// `shared/` beside the repository (specs, guides, test vectors).
pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}
