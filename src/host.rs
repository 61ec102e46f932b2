//! The registry, as the policy reaches it: the two host capabilities it needs.
//!
//! Kept to exactly what crosses the wasm boundary (a reference string out, a
//! digest or a manifest JSON back) so that unit tests fake it with a map and
//! the integration host in `tests/` implements the same two calls.

use serde::Deserialize;
use serde_json::Value;

/// A host capability failure, with the host's own text (single line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} for {reference} failed: {message}")]
pub struct HostError {
    pub operation: &'static str,
    pub reference: String,
    pub message: String,
}

impl HostError {
    /// The host reports a missing tag only as text ("manifest unknown" from
    /// the registry's OCI error body, or a bare 404): see the guide, §2.8.
    pub fn is_not_found(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        m.contains("manifest unknown")
            || m.contains("manifest_unknown")
            || m.contains("code: 404")
            || m.contains("not found")
    }
}

pub trait Registry {
    /// `oci/v1/manifest_digest`: the digest a reference resolves to.
    fn manifest_digest(&self, reference: &str) -> Result<String, HostError>;
    /// `oci/v1/oci_manifest`: the manifest JSON as the host re-serialises it.
    fn oci_manifest(&self, reference: &str) -> Result<Value, HostError>;
}

/// The production registry: waPC host calls into the Kubewarden policy server.
pub struct WapcRegistry;

#[derive(Deserialize)]
struct DigestAnswer {
    digest: String,
}

/// The host's error strings are multi-line anyhow chains; admission messages
/// want one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl WapcRegistry {
    fn call(operation: &'static str, reference: &str) -> Result<Vec<u8>, HostError> {
        let fail = |message: String| HostError {
            operation,
            reference: reference.to_string(),
            message,
        };
        let payload = serde_json::to_vec(reference).map_err(|e| fail(e.to_string()))?;
        let name = match operation {
            "oci/v1/manifest_digest" => "v1/manifest_digest",
            _ => "v1/oci_manifest",
        };
        kubewarden_policy_sdk::wapc_guest::host_call("kubewarden", "oci", name, &payload)
            .map_err(|e| fail(one_line(&e.to_string())))
    }
}

impl Registry for WapcRegistry {
    fn manifest_digest(&self, reference: &str) -> Result<String, HostError> {
        const OP: &str = "oci/v1/manifest_digest";
        let bytes = Self::call(OP, reference)?;
        serde_json::from_slice::<DigestAnswer>(&bytes)
            .map(|a| a.digest)
            .map_err(|e| HostError {
                operation: OP,
                reference: reference.to_string(),
                message: format!("unexpected answer from the host: {e}"),
            })
    }

    fn oci_manifest(&self, reference: &str) -> Result<Value, HostError> {
        const OP: &str = "oci/v1/oci_manifest";
        let bytes = Self::call(OP, reference)?;
        serde_json::from_slice(&bytes).map_err(|e| HostError {
            operation: OP,
            reference: reference.to_string(),
            message: format!("unexpected answer from the host: {e}"),
        })
    }
}

#[cfg(test)]
pub mod fake {
    //! A map-backed registry for unit tests (no globals, no `#[serial]`).
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    pub struct FakeRegistry {
        pub digests: HashMap<String, Result<String, String>>,
        pub manifests: HashMap<String, Result<Value, String>>,
        pub calls: RefCell<Vec<(String, String)>>,
    }

    impl Registry for FakeRegistry {
        fn manifest_digest(&self, reference: &str) -> Result<String, HostError> {
            self.calls
                .borrow_mut()
                .push(("manifest_digest".into(), reference.into()));
            match self.digests.get(reference) {
                Some(Ok(d)) => Ok(d.clone()),
                Some(Err(m)) => Err(HostError {
                    operation: "oci/v1/manifest_digest",
                    reference: reference.into(),
                    message: m.clone(),
                }),
                None => Err(HostError {
                    operation: "oci/v1/manifest_digest",
                    reference: reference.into(),
                    message: "Registry error: OCI API errors: [OCI API error: manifest unknown]"
                        .into(),
                }),
            }
        }

        fn oci_manifest(&self, reference: &str) -> Result<Value, HostError> {
            self.calls
                .borrow_mut()
                .push(("oci_manifest".into(), reference.into()));
            match self.manifests.get(reference) {
                Some(Ok(v)) => Ok(v.clone()),
                Some(Err(m)) => Err(HostError {
                    operation: "oci/v1/oci_manifest",
                    reference: reference.into(),
                    message: m.clone(),
                }),
                None => Err(HostError {
                    operation: "oci/v1/oci_manifest",
                    reference: reference.into(),
                    message: "Registry error: OCI API errors: [OCI API error: manifest unknown]"
                        .into(),
                }),
            }
        }
    }
}
