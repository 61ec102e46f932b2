//! Regressions of issue 14, items 4-6: registry spellings, the signed
//! descriptor against the registry's answer, image volumes and UPDATE sites.

use super::*;

const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn audit(r: &kubewarden_policy_sdk::response::ValidationResponse, n: usize) -> Value {
    let audit = r.audit_annotations.as_ref().expect("audit annotations");
    serde_json::from_str(&audit[&format!("image-{n}")]).unwrap()
}

/// The synthetic statement plus a `*` skip statement, into which an
/// unmatched spelling would fall.
fn settings_with_skip_rest() -> Value {
    let mut s = settings();
    s["trustPolicy"]["trustPolicies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}));
    s
}

const SPELLINGS: [&str; 4] = [
    "REGISTRY.EXAMPLE.COM/synthetic/strict:v1",
    "registry.example.com:443/synthetic/strict:v1",
    "Registry.Example.Com:0443/synthetic/strict:v1",
    "registry.example.com./synthetic/strict:v1",
];

#[test]
fn every_spelling_of_the_registry_selects_the_same_statement() {
    // Signed: verified under "synthetic", pinned as written.
    for image in &SPELLINGS[..3] {
        let registry = registry_with_signed_image();
        let r = validate_payload(
            &create_pod(&[image], settings_with_skip_rest()),
            &registry,
            now(),
        );
        assert!(r.accepted, "{image}: {:?}", r.message);
        let a = audit(&r, 1);
        assert_eq!(
            (a["outcome"].as_str(), a["statement"].as_str()),
            (Some("verified"), Some("synthetic")),
            "{image}"
        );
        assert_eq!(
            r.mutated_object.unwrap()["spec"]["containers"][0]["image"],
            format!("{image}@{DIGEST}")
        );
    }
    // Unsigned: denied, never skipped by the `*` statement.
    for image in &SPELLINGS[..3] {
        let mut registry = FakeRegistry::default();
        registry.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
        let r = validate_payload(
            &create_pod(&[image], settings_with_skip_rest()),
            &registry,
            now(),
        );
        assert!(!r.accepted, "{image}");
        assert!(r.message.unwrap().contains("NO_SIGNATURE"), "{image}");
    }
    // A trailing dot is not a valid reference (nor for the runtime).
    let registry = FakeRegistry::default();
    let r = validate_payload(
        &create_pod(&[SPELLINGS[3]], settings_with_skip_rest()),
        &registry,
        now(),
    );
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("INVALID_REFERENCE"));
}

#[test]
fn scopes_and_exceptions_are_matched_in_canonical_form() {
    // A scope spelled another way still covers the image.
    let mut s = settings_with_skip_rest();
    s["trustPolicy"]["trustPolicies"][0]["registryScopes"] =
        json!(["REGISTRY.example.com:443/synthetic/strict"]);
    let registry = registry_with_signed_image();
    let r = validate_payload(&create_pod(&[IMAGE], s), &registry, now());
    assert!(r.accepted, "{:?}", r.message);
    assert_eq!(audit(&r, 1)["statement"], "synthetic");

    // Two spellings of one scope in two statements are the same scope.
    let mut s = settings_with_skip_rest();
    s["trustPolicy"]["trustPolicies"][1]["registryScopes"] =
        json!(["registry.example.com:443/synthetic/strict"]);
    let v = crate::settings::validate_settings_payload(&serde_json::to_vec(&s).unwrap());
    assert!(!v.valid);
    assert!(v.message.unwrap().contains("present in multiple"));

    // An exception matches every spelling, whichever it was written in.
    for (glob, image) in [
        ("registry.example.com/synthetic/**", SPELLINGS[0]),
        ("REGISTRY.example.com:443/synthetic/**", IMAGE),
        ("registry.example.com/synthetic/**", SPELLINGS[1]),
    ] {
        let s = with(
            settings(),
            "exceptions",
            json!([{"image": glob, "expires": "2099-01-01"}]),
        );
        let registry = FakeRegistry::default();
        let r = validate_payload(&create_pod(&[image], s), &registry, now());
        assert!(r.accepted, "{glob} {image}: {:?}", r.message);
        assert_eq!(audit(&r, 1)["outcome"], "excepted", "{glob} {image}");
        assert!(registry.calls.borrow().is_empty());
    }
}

/// A registry whose image manifest answer says `media_type` (or nothing),
/// with a bundle whose subject repeats `subject` for one `envelope`.
fn registry_for(
    envelope: Vec<u8>,
    media_type: &str,
    subject: Descriptor,
    answer: Value,
) -> FakeRegistry {
    let mut r = FakeRegistry::default();
    r.digests.insert(IMAGE.into(), Ok(DIGEST.into()));
    r.manifests.insert(
        bundle_ref(REPO),
        Ok(bundle::build_manifest(
            &subject,
            &[layer(envelope, media_type)],
            now(),
        )),
    );
    r.manifests.insert(format!("{REPO}@{DIGEST}"), Ok(answer));
    r
}

#[test]
fn the_signed_media_type_is_compared_with_the_registrys() {
    let other = read("envelopes/payload/jws-other-mediatype.jws");
    let forged = Descriptor {
        media_type: DOCKER_V2.into(),
        ..descriptor()
    };
    // The bundle repeats the signed (wrong) media type; the registry says OCI.
    let registry = registry_for(
        other.clone(),
        "application/jose+json",
        forged.clone(),
        image_manifest(),
    );
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    let m = r.message.unwrap();
    assert!(
        m.contains("DIGEST_MISMATCH") && m.contains(DOCKER_V2),
        "{m}"
    );
    assert!(registry
        .calls
        .borrow()
        .iter()
        .any(|(op, r)| op == "oci_manifest" && r == &format!("{REPO}@{DIGEST}")));

    // Control: where the registry does serve that media type, it verifies.
    let mut docker = image_manifest();
    docker["mediaType"] = json!(DOCKER_V2);
    let registry = registry_for(other, "application/jose+json", forged, docker);
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(r.accepted, "{:?}", r.message);

    // No mediaType member: an OCI manifest, or an OCI index when it lists manifests.
    let good = read("envelopes/valid/jws-rsa2048-PS256.jws");
    let mut bare = image_manifest();
    bare.as_object_mut().unwrap().remove("mediaType");
    let registry = registry_for(good.clone(), "application/jose+json", descriptor(), bare);
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(r.accepted, "{:?}", r.message);
    let index = json!({"schemaVersion": 2, "manifests": []});
    let registry = registry_for(good.clone(), "application/jose+json", descriptor(), index);
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    assert!(r
        .message
        .unwrap()
        .contains("application/vnd.oci.image.index.v1+json"));

    // The registry cannot say: fail closed.
    let mut registry = registry_for(good, "application/jose+json", descriptor(), json!({}));
    registry.manifests.remove(&format!("{REPO}@{DIGEST}"));
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains("REGISTRY_ERROR"));
}

/// The size is the bundle's (the host cannot give the manifest's byte
/// length): an honest bundle catches a payload signed for another size.
#[test]
fn a_payload_signed_for_another_size_fails_against_an_honest_bundle() {
    let other = read("envelopes/payload/cose-other-size.cose");
    let registry = registry_for(other, "application/cose", descriptor(), image_manifest());
    let r = validate_payload(&create_pod(&[IMAGE], settings()), &registry, now());
    assert!(!r.accepted);
    let m = r.message.unwrap();
    assert!(
        m.contains("DIGEST_MISMATCH") && m.contains("247 bytes"),
        "{m}"
    );
}

fn pod_with_volume(containers: &[&str], volume: &str) -> Value {
    let mut p = pod(containers);
    p["spec"]["volumes"] = json!([{"name": "cfg", "emptyDir": {}},
        {"name": "models", "image": {"reference": volume, "pullPolicy": "IfNotPresent"}}]);
    p
}

#[test]
fn image_volumes_are_verified_and_pinned() {
    let unsigned = "registry.example.com/synthetic/strict:unsigned";
    let r = validate_payload(
        &create_pod_object(pod_with_volume(&[IMAGE], unsigned)),
        &registry_with_signed_image(),
        now(),
    );
    assert!(!r.accepted);
    assert!(r.message.unwrap().contains(unsigned));

    let r = validate_payload(
        &create_pod_object(pod_with_volume(&["busybox"], IMAGE)),
        &registry_with_signed_image(),
        now(),
    );
    assert!(r.accepted, "{:?}", r.message);
    let mutated = r.mutated_object.unwrap();
    assert_eq!(
        mutated.pointer("/spec/volumes/1/image/reference"),
        Some(&json!(format!("{IMAGE}@{DIGEST}")))
    );
    assert_eq!(
        mutated["spec"]["volumes"][1]["image"]["pullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(mutated["spec"]["containers"][0]["image"], "busybox");
}

fn create_pod_object(object: Value) -> Vec<u8> {
    request("Pod", "CREATE", object, Value::Null, settings())
}

#[test]
fn on_update_a_known_image_at_a_new_site_is_verified() {
    let unsigned = "registry.example.com/synthetic/strict:unsigned";
    let old = pod(&[unsigned]);
    // A new ephemeral container reusing the running (unsigned) image.
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": unsigned}]);
    let registry = FakeRegistry::default();
    let r = validate_payload(
        &request("Pod", "UPDATE", new, old.clone(), settings()),
        &registry,
        now(),
    );
    assert!(!r.accepted, "a new site must be verified");
    assert!(r.message.unwrap().contains(unsigned));

    // The same image moved into an image volume: a new site too.
    let new = pod_with_volume(&[unsigned], unsigned);
    let r = validate_payload(
        &request("Pod", "UPDATE", new, old.clone(), settings()),
        &registry,
        now(),
    );
    assert!(!r.accepted);

    // Unchanged sites (containers and volumes) are not verified again.
    let old = pod_with_volume(&[unsigned], unsigned);
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"edited": "yes"});
    let registry = FakeRegistry::default();
    let r = validate_payload(
        &request("Pod", "UPDATE", new, old, settings()),
        &registry,
        now(),
    );
    assert!(r.accepted, "{:?}", r.message);
    assert!(registry.calls.borrow().is_empty());
}

#[test]
fn on_update_only_verified_sites_are_pinned() {
    let old = pod(&[IMAGE]);
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": IMAGE}]);
    let registry = registry_with_signed_image();
    let r = validate_payload(
        &request("Pod", "UPDATE", new, old, settings()),
        &registry,
        now(),
    );
    assert!(r.accepted, "{:?}", r.message);
    let mutated = r.mutated_object.unwrap();
    assert_eq!(
        mutated["spec"]["ephemeralContainers"][0]["image"],
        format!("{IMAGE}@{DIGEST}")
    );
    // The running container keeps its image string (a change would restart it).
    assert_eq!(mutated["spec"]["containers"][0]["image"], IMAGE);
}
