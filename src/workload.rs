//! Where the images of each workload kind live in the raw object: the
//! containers of the three container lists and image volumes.
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

/// One image a Pod uses: a container's `image` or an image volume's
/// `image.reference` (Kubernetes ImageVolume), with its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    pub pointer: String,
    pub image: String,
    /// e.g. `initContainers[0] (setup)` or `volumes[1] (models)`, for messages.
    pub container: String,
    /// Where the image is used, stable across edits of the object: the
    /// container list and container name (`initContainers/setup`) or the
    /// volume (`volumes/models`). On UPDATE an image is skipped only when
    /// the same site already had it.
    pub site: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    #[error("{pointer}: expected {expected}")]
    Shape {
        pointer: String,
        expected: &'static str,
    },
}

fn shape(pointer: String, expected: &'static str) -> WorkloadError {
    WorkloadError::Shape { pointer, expected }
}

/// The items of the array `field` of `spec` (empty when absent or null).
fn items<'a>(
    spec: &'a Value,
    field: &str,
    pointer: &str,
    expected: &'static str,
) -> Result<&'a [Value], WorkloadError> {
    match spec.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(shape(pointer.to_string(), expected)),
    }
}

/// The site key of item `i` named `name` (its index when it has no name,
/// which the API server does not allow anyway).
fn site_key(list: &str, i: usize, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{list}/{n}"),
        None => format!("{list}/#{i}"),
    }
}

/// Every image of the PodSpec at `spec_pointer`: container images and image
/// volumes. A missing PodSpec or list is empty; a present one with the
/// wrong shape is an error (fail closed: we cannot tell which images would
/// run).
pub fn image_sites(object: &Value, spec_pointer: &str) -> Result<Vec<ImageSite>, WorkloadError> {
    let Some(spec) = object.pointer(spec_pointer) else {
        return Ok(Vec::new());
    };
    if spec.is_null() {
        return Ok(Vec::new());
    }
    if !spec.is_object() {
        return Err(shape(spec_pointer.to_string(), "an object (PodSpec)"));
    }
    let mut sites = Vec::new();
    for list in CONTAINER_LISTS {
        let list_pointer = format!("{spec_pointer}/{list}");
        let containers = items(spec, list, &list_pointer, "an array of containers")?;
        for (i, container) in containers.iter().enumerate() {
            let name = container.get("name").and_then(Value::as_str);
            match container.get("image") {
                Some(Value::String(image)) => sites.push(ImageSite {
                    pointer: format!("{list_pointer}/{i}/image"),
                    image: image.clone(),
                    container: format!("{list}[{i}] ({})", name.unwrap_or("?")),
                    site: site_key(list, i, name),
                }),
                // No image: the API server rejects such a Pod itself; a
                // workload template may omit it only if invalid anyway.
                None | Some(Value::Null) => {}
                Some(_) => return Err(shape(format!("{list_pointer}/{i}/image"), "a string")),
            }
        }
    }
    let volumes_pointer = format!("{spec_pointer}/volumes");
    let volumes = items(spec, "volumes", &volumes_pointer, "an array of volumes")?;
    for (i, volume) in volumes.iter().enumerate() {
        let source = match volume.get("image") {
            None | Some(Value::Null) => continue,
            Some(source @ Value::Object(_)) => source,
            Some(_) => {
                return Err(shape(
                    format!("{volumes_pointer}/{i}/image"),
                    "an object (ImageVolumeSource)",
                ))
            }
        };
        let name = volume.get("name").and_then(Value::as_str);
        let pointer = format!("{volumes_pointer}/{i}/image/reference");
        match source.get("reference") {
            Some(Value::String(image)) => sites.push(ImageSite {
                pointer,
                image: image.clone(),
                container: format!("volumes[{i}] ({})", name.unwrap_or("?")),
                site: site_key("volumes", i, name),
            }),
            // An image volume without a reference is invalid (the API
            // server requires one for a Pod); nothing would be pulled.
            None | Some(Value::Null) => {}
            Some(_) => return Err(shape(pointer, "a string")),
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
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}},
                        {"name": "models", "image": {"reference": "reg.io/models:4", "pullPolicy": "IfNotPresent"}}]
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
                [
                    "reg.io/app:1",
                    "reg.io/side:2",
                    "reg.io/init:3",
                    "busybox",
                    "reg.io/models:4"
                ],
                "{kind}"
            );
            let keys: Vec<_> = sites.iter().map(|s| s.site.as_str()).collect();
            assert_eq!(
                keys,
                [
                    "containers/app",
                    "containers/side",
                    "initContainers/init",
                    "ephemeralContainers/debug",
                    "volumes/models"
                ],
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

    /// An image volume is an image the Pod pulls: a wrong shape is an
    /// error like a container's, never a volume silently left out.
    #[test]
    fn image_volume_shapes() {
        let sites = |volumes: Value| image_sites(&json!({"spec": {"volumes": volumes}}), "/spec");
        let e = sites(json!({"v": 1})).unwrap_err();
        assert!(
            e.to_string().contains("/spec/volumes: expected an array"),
            "{e}"
        );
        let e = sites(json!([{"name": "m", "image": "reg.io/m:1"}])).unwrap_err();
        assert!(
            e.to_string()
                .contains("/spec/volumes/0/image: expected an object"),
            "{e}"
        );
        let e = sites(json!([{"name": "m", "image": {"reference": 7}}])).unwrap_err();
        assert!(
            e.to_string().contains("/spec/volumes/0/image/reference"),
            "{e}"
        );
        assert!(sites(json!([{"name": "m", "image": {}}]))
            .unwrap()
            .is_empty());
        let s = sites(json!([{"image": {"reference": "reg.io/m:1"}}])).unwrap();
        assert_eq!(
            (s[0].site.as_str(), s[0].container.as_str()),
            ("volumes/#0", "volumes[0] (?)")
        );
    }
}
