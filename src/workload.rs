//! Where the images of each workload kind live in the raw object.
//!
//! We read (and later edit) the raw JSON rather than typed k8s-openapi
//! structs: a typed round trip drops fields unknown to our Kubernetes version,
//! and the mutation diff would then delete them.

use serde_json::Value;

/// The JSON pointer of the PodSpec inside an object of `kind`, or None for
/// kinds the policy does not inspect.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// The three container lists of a PodSpec.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// One `image` field: its JSON pointer and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    pub pointer: String,
    pub image: String,
    /// e.g. `initContainers[0] (setup)`, for messages.
    pub container: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    #[error("{pointer}: expected {expected}")]
    Shape {
        pointer: String,
        expected: &'static str,
    },
}

/// Every image field of the PodSpec at `spec_pointer`. A missing PodSpec or
/// container list is empty; a present one with the wrong shape is an error
/// (fail closed: we cannot tell which images would run).
pub fn image_sites(object: &Value, spec_pointer: &str) -> Result<Vec<ImageSite>, WorkloadError> {
    let Some(spec) = object.pointer(spec_pointer) else {
        return Ok(Vec::new());
    };
    if spec.is_null() {
        return Ok(Vec::new());
    }
    if !spec.is_object() {
        return Err(WorkloadError::Shape {
            pointer: spec_pointer.to_string(),
            expected: "an object (PodSpec)",
        });
    }
    let mut sites = Vec::new();
    for list in CONTAINER_LISTS {
        let list_pointer = format!("{spec_pointer}/{list}");
        let containers = match spec.get(list) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(WorkloadError::Shape {
                    pointer: list_pointer,
                    expected: "an array of containers",
                })
            }
        };
        for (i, container) in containers.iter().enumerate() {
            let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            match container.get("image") {
                Some(Value::String(image)) => sites.push(ImageSite {
                    pointer: format!("{list_pointer}/{i}/image"),
                    image: image.clone(),
                    container: format!("{list}[{i}] ({name})"),
                }),
                // No image: the API server rejects such a Pod itself; a
                // workload template may omit it only if invalid anyway.
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(WorkloadError::Shape {
                        pointer: format!("{list_pointer}/{i}/image"),
                        expected: "a string",
                    })
                }
            }
        }
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec() -> Value {
        json!({
            "containers": [{"name": "app", "image": "reg.io/app:1"}, {"name": "side", "image": "reg.io/side:2"}],
            "initContainers": [{"name": "init", "image": "reg.io/init:3"}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}]
        })
    }

    #[test]
    fn every_kind_finds_every_container_list() {
        let cases = [
            ("Pod", json!({"spec": pod_spec()})),
            (
                "Deployment",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "ReplicaSet",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "StatefulSet",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "DaemonSet",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            ("Job", json!({"spec": {"template": {"spec": pod_spec()}}})),
            (
                "ReplicationController",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}}}),
            ),
        ];
        for (kind, object) in cases {
            let ptr = pod_spec_pointer(kind).unwrap();
            let sites = image_sites(&object, ptr).unwrap();
            let images: Vec<_> = sites.iter().map(|s| s.image.as_str()).collect();
            assert_eq!(
                images,
                ["reg.io/app:1", "reg.io/side:2", "reg.io/init:3", "busybox"],
                "{kind}"
            );
            for s in &sites {
                assert_eq!(
                    object.pointer(&s.pointer).and_then(Value::as_str),
                    Some(s.image.as_str()),
                    "{kind}"
                );
            }
        }
    }

    #[test]
    fn other_kinds_are_not_inspected() {
        for kind in ["Service", "ConfigMap", "PodTemplate", ""] {
            assert_eq!(pod_spec_pointer(kind), None);
        }
    }

    #[test]
    fn missing_spec_is_empty_and_wrong_shapes_are_errors() {
        assert!(image_sites(&json!({}), "/spec").unwrap().is_empty());
        assert!(image_sites(&json!({"spec": {}}), "/spec")
            .unwrap()
            .is_empty());
        let e = image_sites(&json!({"spec": {"containers": {"a": 1}}}), "/spec").unwrap_err();
        assert!(e.to_string().contains("/spec/containers"), "{e}");
        let e = image_sites(&json!({"spec": {"containers": [{"image": 5}]}}), "/spec").unwrap_err();
        assert!(e.to_string().contains("/spec/containers/0/image"), "{e}");
        assert!(image_sites(&json!({"spec": "x"}), "/spec").is_err());
    }
}
