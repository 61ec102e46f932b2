//! Every workload kind and every container list, in the built module.

mod common;

use common::*;
use serde_json::{json, Value};

/// `spec` holding a pod template at the path each kind uses.
fn workload(kind: &str, pod_spec: Value) -> Value {
    let template = json!({"metadata": {"labels": {"app": "demo"}}, "spec": pod_spec});
    let spec = match kind {
        "Pod" => pod_spec,
        "CronJob" => {
            json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        _ => json!({"selector": {"matchLabels": {"app": "demo"}}, "template": template}),
    };
    let api = match kind {
        "Pod" | "ReplicationController" => "v1",
        "Job" | "CronJob" => "batch/v1",
        _ => "apps/v1",
    };
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": "demo", "namespace": "default"}, "spec": spec})
}

fn pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

const KINDS: [&str; 8] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

#[test]
fn every_kind_and_container_list_is_verified_and_pinned() {
    let host = host();
    let signed_repo = signed("e2e-valid-signature");
    let unsigned_repo = push("e2e");
    let good = format!("{signed_repo}:v1");
    let bad = format!("{unsigned_repo}:v1");
    for kind in KINDS {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            if list == "ephemeralContainers" && kind != "Pod" {
                continue;
            }
            // The unsigned image in this list (and a signed one elsewhere) is denied.
            let mut spec = json!({"containers": [{"name": "main", "image": good}]});
            spec[list] = json!([{"name": "x", "image": bad}]);
            if list == "containers" {
                spec["containers"] =
                    json!([{"name": "main", "image": good}, {"name": "x", "image": bad}]);
            }
            let e = evaluate(
                host,
                &request(kind, "CREATE", workload(kind, spec.clone()), None),
                &settings(),
            );
            assert!(
                !e.response.accepted,
                "{kind}/{list}: the unsigned image must be found"
            );
            assert!(message(&e).contains(&bad), "{kind}/{list}: {}", message(&e));

            // Signed everywhere: admitted, each site pinned.
            let mut spec = json!({"containers": [{"name": "main", "image": good}]});
            spec[list] = json!([{"name": "x", "image": good}]);
            let e = evaluate(
                host,
                &request(kind, "CREATE", workload(kind, spec), None),
                &settings(),
            );
            assert!(e.response.accepted, "{kind}/{list}: {}", message(&e));
            let mutated = e.response.mutated_object.clone().expect("pinned");
            let pinned = mutated
                .pointer(&format!("{}/{list}/0/image", pointer(kind)))
                .cloned();
            assert_eq!(
                pinned,
                Some(json!(format!("{good}@{IMAGE_DIGEST}"))),
                "{kind}/{list}"
            );
            // Unknown fields survive the raw edit.
            assert_eq!(mutated["metadata"]["name"], "demo");
        }
    }
}

#[test]
fn updates_verify_only_new_images_and_other_kinds_pass() {
    let host = host();
    let unsigned = format!("{}:v1", push("e2e"));
    let old = pod(&[&unsigned]);
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"edited": "true"});
    let e = evaluate(host, &request("Pod", "UPDATE", new, Some(old)), &settings());
    assert!(
        e.response.accepted,
        "a label edit must not be blocked: {}",
        message(&e)
    );
    assert!(e.calls.is_empty());

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": unsigned}});
    let e = evaluate(host, &request("ConfigMap", "CREATE", cm, None), &settings());
    assert!(e.response.accepted && e.calls.is_empty());
}

/// `spec` with a signed container and an image volume of `volume`.
fn with_volume(good: &str, volume: &str) -> Value {
    json!({"containers": [{"name": "main", "image": good}],
           "volumes": [{"name": "scratch", "emptyDir": {}},
                       {"name": "models", "image": {"reference": volume, "pullPolicy": "IfNotPresent"}}]})
}

#[test]
fn image_volumes_are_verified_and_pinned_in_every_kind() {
    let host = host();
    let good = format!("{}:v1", signed("e2e-valid-signature"));
    let bad = format!("{}:v1", push("e2e"));
    for kind in KINDS {
        let e = evaluate(
            host,
            &request(
                kind,
                "CREATE",
                workload(kind, with_volume(&good, &bad)),
                None,
            ),
            &settings(),
        );
        assert!(
            !e.response.accepted,
            "{kind}: an unsigned image volume must be denied"
        );
        assert!(message(&e).contains(&bad), "{kind}: {}", message(&e));

        let e = evaluate(
            host,
            &request(
                kind,
                "CREATE",
                workload(kind, with_volume(&good, &good)),
                None,
            ),
            &settings(),
        );
        assert!(e.response.accepted, "{kind}: {}", message(&e));
        let mutated = e.response.mutated_object.clone().expect("pinned");
        let volume = format!("{}/volumes/1/image", pointer(kind));
        assert_eq!(
            mutated.pointer(&format!("{volume}/reference")),
            Some(&json!(format!("{good}@{IMAGE_DIGEST}"))),
            "{kind}"
        );
        assert_eq!(
            mutated.pointer(&format!("{volume}/pullPolicy")),
            Some(&json!("IfNotPresent")),
            "{kind}"
        );
    }
}

#[test]
fn on_update_an_image_at_a_new_site_is_verified() {
    let host = host();
    let unsigned = format!("{}:v1", push("e2e"));
    let old = pod(&[&unsigned]);

    // A new ephemeral container (kubectl debug) reusing the running image.
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": unsigned}]);
    let e = evaluate(
        host,
        &request("Pod", "UPDATE", new, Some(old.clone())),
        &settings(),
    );
    assert!(!e.response.accepted, "a new site must be verified");
    assert!(
        message(&e).contains("ephemeral") || message(&e).contains(&unsigned),
        "{}",
        message(&e)
    );

    // The same image mounted as a new image volume.
    let mut new = old.clone();
    new["spec"]["volumes"] = json!([{"name": "m", "image": {"reference": unsigned}}]);
    let e = evaluate(host, &request("Pod", "UPDATE", new, Some(old)), &settings());
    assert!(!e.response.accepted, "a new image volume must be verified");

    // Unchanged sites, containers and volumes, are not verified again.
    let mut old = pod(&[&unsigned]);
    old["spec"]["volumes"] = json!([{"name": "m", "image": {"reference": unsigned}}]);
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"edited": "true"});
    let e = evaluate(host, &request("Pod", "UPDATE", new, Some(old)), &settings());
    assert!(e.response.accepted, "{}", message(&e));
    assert!(e.calls.is_empty());
}
