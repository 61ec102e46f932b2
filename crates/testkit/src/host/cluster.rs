//! `kubernetes/get_resource`, answered from objects the test provides: the
//! host side of trust stores kept in ConfigMaps and Secrets. A test can
//! change an object between two evaluations (a certificate rotation) and
//! see the next evaluation read the new one, as the real host does once
//! its few-second cache expires.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The kinds the policy's metadata declares in `contextAwareResources`;
/// policy-server refuses the others.
pub const CONTEXT_AWARE_RESOURCES: [(&str, &str); 2] = [("v1", "ConfigMap"), ("v1", "Secret")];

/// The SDK's `GetResourceRequest`, as the guest sends it.
#[derive(Debug, Deserialize)]
struct GetResourceRequest {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // The test host has no cache to bypass.
    disable_cache: bool,
    #[serde(default)]
    field_masks: Option<Vec<String>>,
}

/// Cluster objects by (apiVersion, kind, namespace, name).
#[derive(Debug, Default)]
pub struct ClusterObjects {
    objects: Mutex<BTreeMap<(String, String, String, String), Value>>,
}

impl ClusterObjects {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an object (it must carry apiVersion, kind and
    /// metadata.namespace / metadata.name).
    pub fn put(&self, object: Value) {
        let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let key = (
            field(&object["apiVersion"]),
            field(&object["kind"]),
            field(&object["metadata"]["namespace"]),
            field(&object["metadata"]["name"]),
        );
        self.lock().insert(key, object);
    }

    /// Removes an object; a later read is "not found".
    pub fn remove(&self, kind: &str, namespace: &str, name: &str) {
        self.lock()
            .remove(&("v1".into(), kind.into(), namespace.into(), name.into()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String, String, String), Value>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer the guest receives for a `get_resource` payload, or the
    /// error text it receives.
    pub(super) fn get_resource(&self, payload: &[u8]) -> Result<Vec<u8>, String> {
        let request: GetResourceRequest = serde_json::from_slice(payload)
            .map_err(|e| format!("invalid get_resource request: {e}"))?;
        if !CONTEXT_AWARE_RESOURCES.contains(&(request.api_version.as_str(), request.kind.as_str()))
        {
            return Err(format!(
                "Policy has not been granted access to Kubernetes {}/{} resources. The violation has been reported.",
                request.api_version, request.kind
            ));
        }
        let namespace = request.namespace.clone().unwrap_or_default();
        let object = self
            .lock()
            .get(&(
                request.api_version.clone(),
                request.kind.clone(),
                namespace.clone(),
                request.name.clone(),
            ))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "Callback evaluation failure: Cannot find {}/{} named '{}' inside of namespace '{namespace}'",
                    request.api_version, request.kind, request.name
                )
            })?;
        let object = match &request.field_masks {
            Some(masks) if !masks.is_empty() => prune(&object, masks),
            _ => object,
        };
        serde_json::to_vec(&object).map_err(|e| e.to_string())
    }
}

/// Keeps only the dot-separated paths in `masks` (objects only: the
/// policy's masks name no arrays).
fn prune(object: &Value, masks: &[String]) -> Value {
    let mut out = Value::Object(Map::new());
    for mask in masks {
        let parts: Vec<&str> = mask.split('.').collect();
        let mut source = object;
        let mut found = true;
        for part in &parts {
            match source.get(part) {
                Some(v) => source = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        let mut target = &mut out;
        for (i, part) in parts.iter().enumerate() {
            let Some(map) = target.as_object_mut() else {
                break;
            };
            if i + 1 == parts.len() {
                map.insert((*part).to_string(), source.clone());
                break;
            }
            target = map
                .entry((*part).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    out
}

/// A ConfigMap as the API returns it.
pub fn config_map(namespace: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"namespace": namespace, "name": name}, "data": data})
}

/// A Secret as the API returns it (values base64).
pub fn secret(namespace: &str, name: &str, data: &[(&str, &[u8])]) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(b64.encode(v))))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"namespace": namespace, "name": name}, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str, namespace: &str, name: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"api_version": "v1", "kind": kind, "name": name,
            "namespace": namespace, "disable_cache": false, "field_masks": ["data"]}))
        .unwrap()
    }

    #[test]
    fn objects_are_served_pruned_replaced_and_refused() {
        let cluster = ClusterObjects::new();
        cluster.put(config_map("kw", "roots", &[("a.pem", "A")]));
        let answer: Value = serde_json::from_slice(
            &cluster
                .get_resource(&request("ConfigMap", "kw", "roots"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(answer, json!({"data": {"a.pem": "A"}}));
        cluster.put(config_map("kw", "roots", &[("a.pem", "B")]));
        let answer: Value = serde_json::from_slice(
            &cluster
                .get_resource(&request("ConfigMap", "kw", "roots"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(answer["data"]["a.pem"], "B");
        cluster.remove("ConfigMap", "kw", "roots");
        let e = cluster
            .get_resource(&request("ConfigMap", "kw", "roots"))
            .unwrap_err();
        assert!(e.contains("Cannot find v1/ConfigMap named 'roots'"), "{e}");
        let e = cluster
            .get_resource(&request("Pod", "kw", "p"))
            .unwrap_err();
        assert!(e.contains("has not been granted"), "{e}");
        cluster.put(secret("kw", "s", &[("tls.crt", b"C")]));
        let answer: Value =
            serde_json::from_slice(&cluster.get_resource(&request("Secret", "kw", "s")).unwrap())
                .unwrap();
        assert_eq!(answer, json!({"data": {"tls.crt": "Qw=="}}));
    }
}
