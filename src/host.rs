//! The registry and the cluster, as the policy reaches them: the two OCI
//! host capabilities, and `kubernetes/get_resource` for trust stores kept
//! in ConfigMaps and Secrets.
//!
//! Kept to exactly what crosses the wasm boundary (a reference string out, a
//! digest or a manifest JSON back) so that unit tests fake it with a map and
//! the integration host in `tests/` implements the same calls.

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
    /// `kubernetes/get_resource`: a namespaced `v1` object (ConfigMap or
    /// Secret) as the API returns it.
    fn get_resource(&self, kind: &str, namespace: &str, name: &str) -> Result<Value, HostError>;
}

/// The SDK's `host_capabilities::kubernetes::GetResourceRequest` (0.17.3),
/// spelled here because the SDK exposes it only with its `cluster-context`
/// feature, which compiles k8s-openapi into the module for one struct.
#[derive(serde::Serialize)]
struct GetResourceRequest<'a> {
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: Option<&'a str>,
    /// The host caches reads for a few seconds: a rotated certificate is
    /// seen within seconds without a read per admission request.
    disable_cache: bool,
    field_masks: Option<Vec<&'a str>>,
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
    fn get_resource(&self, kind: &str, namespace: &str, name: &str) -> Result<Value, HostError> {
        const OP: &str = "kubernetes/get_resource";
        let fail = |message: String| HostError {
            operation: OP,
            reference: format!("{kind} {namespace}/{name}"),
            message,
        };
        let request = GetResourceRequest {
            api_version: "v1",
            kind,
            name,
            namespace: Some(namespace),
            disable_cache: false,
            // Only the data: a Secret's other fields are none of our business.
            field_masks: Some(vec!["data", "binaryData"]),
        };
        let payload = serde_json::to_vec(&request).map_err(|e| fail(e.to_string()))?;
        let bytes = kubewarden_policy_sdk::wapc_guest::host_call(
            "kubewarden",
            "kubernetes",
            "get_resource",
            &payload,
        )
        .map_err(|e| fail(one_line(&e.to_string())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("unexpected answer from the host: {e}")))
    }

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
        /// `kubernetes/get_resource` answers by `"Kind namespace/name"`.
        pub resources: HashMap<String, Value>,
        pub calls: RefCell<Vec<(String, String)>>,
    }

    impl Registry for FakeRegistry {
        fn get_resource(
            &self,
            kind: &str,
            namespace: &str,
            name: &str,
        ) -> Result<Value, HostError> {
            let key = format!("{kind} {namespace}/{name}");
            self.calls
                .borrow_mut()
                .push(("get_resource".into(), key.clone()));
            self.resources.get(&key).cloned().ok_or(HostError {
                operation: "kubernetes/get_resource",
                reference: key,
                message: "not found".into(),
            })
        }

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
