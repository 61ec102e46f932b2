//! Which workloads use which image: every Pod template of every workload
//! kind the policy checks (and bare Pods), read from `kubectl get ... -o
//! json` or manifests, so that each finding names the teams that must act.
//!
//! An object whose controller is itself in the input (a Pod of a
//! ReplicaSet, a ReplicaSet of a Deployment, a Job of a CronJob) is not
//! counted again: `kubectl get deploy,rs,pods -A -o json` lists one
//! workload per Deployment, not three. A controlled object whose owner is
//! not in the input (only Pods were listed) counts as itself.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use verify_notation_signatures::workload::{image_sites, pod_spec_pointer};

/// One use of an image: the workload and where in its Pod template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    /// Empty for cluster-scoped input without a namespace (manifests often
    /// leave it to `kubectl apply -n`).
    pub namespace: String,
    pub kind: String,
    pub name: String,
    /// `containers/app`, `initContainers/setup` or `volumes/models`.
    pub site: String,
}

impl WorkloadRef {
    /// `namespace/kind/name`, the identity of the workload.
    pub fn workload_key(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Flattens Lists (kubectl's `{"kind": "List", "items": [...]}`) into objects.
fn objects(docs: &[Value]) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = docs.iter().rev().collect();
    while let Some(doc) = stack.pop() {
        if let Some(items) = doc.get("items").and_then(Value::as_array) {
            stack.extend(items.iter().rev());
        } else {
            out.push(doc);
        }
    }
    out
}

/// Image reference -> the workloads that use it, in input order per image.
pub fn workloads_by_image(docs: &[Value]) -> BTreeMap<String, Vec<WorkloadRef>> {
    let objects = objects(docs);
    let present: BTreeSet<(String, String, String)> = objects
        .iter()
        .map(|o| {
            (
                str_at(o, "/metadata/namespace").to_string(),
                str_at(o, "/kind").to_string(),
                str_at(o, "/metadata/name").to_string(),
            )
        })
        .collect();
    let mut out: BTreeMap<String, Vec<WorkloadRef>> = BTreeMap::new();
    for object in objects {
        let kind = str_at(object, "/kind");
        let Some(pointer) = pod_spec_pointer(kind) else {
            continue;
        };
        let namespace = str_at(object, "/metadata/namespace");
        let controlled_by_listed = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            .any(|r| {
                present.contains(&(
                    namespace.to_string(),
                    str_at(r, "/kind").to_string(),
                    str_at(r, "/name").to_string(),
                ))
            });
        if controlled_by_listed {
            continue;
        }
        // A malformed PodSpec is skipped here: `vns scan` reports images,
        // and the policy itself refuses such an object at admission.
        let Ok(sites) = image_sites(object, pointer) else {
            continue;
        };
        for site in sites {
            let entry = out.entry(site.image).or_default();
            let workload = WorkloadRef {
                namespace: namespace.to_string(),
                kind: kind.to_string(),
                name: str_at(object, "/metadata/name").to_string(),
                site: site.site,
            };
            if !entry.contains(&workload) {
                entry.push(workload);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn workloads_name_namespace_kind_and_site_and_skip_listed_controllers() {
        let list = json!({"kind": "List", "items": [
            {"kind": "Deployment", "metadata": {"namespace": "shop", "name": "api"},
             "spec": {"template": {"spec": {
                "containers": [{"name": "api", "image": "reg.example/api:1"}],
                "volumes": [{"name": "models", "image": {"reference": "reg.example/models:3"}}]}}}},
            {"kind": "ReplicaSet", "metadata": {"namespace": "shop", "name": "api-7f",
              "ownerReferences": [{"kind": "Deployment", "name": "api", "controller": true}]},
             "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "reg.example/api:1"}]}}}},
            {"kind": "Pod", "metadata": {"namespace": "shop", "name": "api-7f-x",
              "ownerReferences": [{"kind": "ReplicaSet", "name": "api-7f", "controller": true}]},
             "spec": {"containers": [{"name": "api", "image": "reg.example/api:1"}]}},
            {"kind": "Pod", "metadata": {"namespace": "batch", "name": "orphan",
              "ownerReferences": [{"kind": "Job", "name": "gone", "controller": true}]},
             "spec": {"initContainers": [{"name": "setup", "image": "reg.example/api:1"}]}},
            {"kind": "ConfigMap", "metadata": {"namespace": "shop", "name": "c"}, "data": {"image": "x:1"}}
        ]});
        let map = workloads_by_image(&[list]);
        let api: Vec<String> = map["reg.example/api:1"]
            .iter()
            .map(|w| format!("{} {}", w.workload_key(), w.site))
            .collect();
        assert_eq!(
            api,
            vec![
                "shop/Deployment/api containers/api",
                "batch/Pod/orphan initContainers/setup"
            ]
        );
        assert_eq!(map["reg.example/models:3"][0].site, "volumes/models");
        assert_eq!(map.len(), 2, "{map:?}");
    }
}
