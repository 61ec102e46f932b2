//! Acceptance: the built policy module in a real waPC host (wapc +
//! wasmtime-provider, as Kubewarden runs it) against a real registry holding
//! images signed by the Notation CLI's own e2e suite.

mod common;

use common::*;
use serde_json::json;

#[test]
fn a_signed_image_is_admitted_and_pinned_with_three_registry_calls() {
    let host = host();
    let repo = signed("e2e-valid-signature");
    let image = format!("{repo}:v1");
    let e = evaluate(host, &create_pod(&[&image]), &settings());
    assert!(e.response.accepted, "{}", message(&e));
    let mutated = e
        .response
        .mutated_object
        .as_ref()
        .expect("the image is pinned");
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("{image}@{IMAGE_DIGEST}")
    );
    let calls = e.capabilities();
    assert_eq!(
        calls,
        vec![
            "oci/v1/manifest_digest",
            "oci/v1/oci_manifest",
            "oci/v1/oci_manifest"
        ],
        "{calls:?}"
    );
    let audit = e.response.audit_annotations.clone().unwrap_or_default();
    let entry = audit
        .values()
        .next()
        .expect("an audit annotation per image");
    assert!(
        entry.contains("CN=e2e") && entry.contains(IMAGE_DIGEST),
        "{entry}"
    );
}

#[test]
fn a_digest_reference_needs_no_digest_lookup_and_is_not_mutated() {
    let host = host();
    let repo = signed("e2e-valid-signature");
    let image = format!("{repo}@{IMAGE_DIGEST}");
    let e = evaluate(host, &create_pod(&[&image]), &settings());
    assert!(e.response.accepted, "{}", message(&e));
    assert!(e.response.mutated_object.is_none());
    // The bundle, then the image manifest (for its media type).
    assert_eq!(
        e.capabilities(),
        vec!["oci/v1/oci_manifest", "oci/v1/oci_manifest"]
    );
    assert_eq!(e.calls[1].payload, format!("\"{image}\""));
}

#[test]
fn without_pinning_the_object_is_left_alone() {
    let host = host();
    let repo = signed("e2e-valid-signature");
    let s = with(settings(), "modifyImagesWithDigest", json!(false));
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
    assert!(
        e.response.accepted && e.response.mutated_object.is_none(),
        "{}",
        message(&e)
    );
}

#[test]
fn unsigned_images_are_denied_with_what_to_do() {
    let host = host();
    let repo = push("e2e");
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &settings());
    assert!(!e.response.accepted);
    let m = message(&e);
    assert!(
        m.contains("NO_SIGNATURE") && m.contains("vns attach"),
        "{m}"
    );
}

#[test]
fn warn_mode_admits_and_reports() {
    let host = host();
    let repo = push("e2e");
    let s = with(settings(), "enforcement", json!("warn"));
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
    assert!(e.response.accepted, "{}", message(&e));
    assert!(
        warnings(&e).iter().any(|w| w.contains("NO_SIGNATURE")),
        "{:?}",
        warnings(&e)
    );
}

#[test]
fn notation_verdicts_hold_inside_the_sandbox() {
    let host = host();
    for (layout, reason) in [
        ("e2e-expired-signature", "EXPIRED_SIGNATURE"),
        ("e2e-with-expired-cert", "CERT_EXPIRED_NO_TIMESTAMP"),
    ] {
        let repo = signed(layout);
        let mut s = settings();
        s["trustStores"]["ca"]["e2e"] = json!(format!(
            "{}\n{}",
            e2e_cert("upstream/e2e.crt"),
            e2e_cert("upstream/expired_e2e.crt")
        ));
        let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
        assert!(!e.response.accepted, "{layout}");
        assert!(message(&e).contains(reason), "{layout}: {}", message(&e));
    }
}

#[test]
fn an_untrusted_signer_names_the_subject_and_the_allowed_identities() {
    let host = host();
    let repo = signed("e2e-valid-signature");
    let mut s = settings();
    s["trustPolicy"]["trustPolicies"][0]["trustedIdentities"] =
        json!(["x509.subject: C=US, ST=WA, O=Someone Else"]);
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
    assert!(!e.response.accepted);
    let m = message(&e);
    assert!(m.contains("CN=e2e") && m.contains("Someone Else"), "{m}");

    let mut s = settings();
    s["trustStores"]["ca"]["e2e"] = json!(e2e_cert("upstream/new_e2e.crt"));
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
    assert!(message(&e).contains("UNTRUSTED_SIGNER"), "{}", message(&e));
}

#[test]
fn rotation_keeps_old_and_new_keys_trusted() {
    let host = host();
    let repo = signed("e2e-valid-multiple-signatures");
    let mut s = settings();
    s["trustStores"]["ca"]["e2e"] = json!(format!(
        "{}\n{}",
        e2e_cert("derived/testcert11.pem"),
        e2e_cert("upstream/e2e.crt")
    ));
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &s);
    assert!(e.response.accepted, "{}", message(&e));
}

#[test]
fn exceptions_admit_until_they_expire() {
    let host = host();
    let repo = push("e2e");
    let image = format!("{repo}:v1");
    let live = with(
        settings(),
        "exceptions",
        json!([{"image": format!("{repo}:*"), "expires": "2999-12-31", "reason": "CHG-42"}]),
    );
    let e = evaluate(host, &create_pod(&[&image]), &live);
    assert!(e.response.accepted, "{}", message(&e));
    assert!(
        warnings(&e)
            .iter()
            .any(|w| w.contains("CHG-42") && w.contains("days left")),
        "{:?}",
        warnings(&e)
    );
    assert!(
        e.calls.is_empty(),
        "an excepted image needs no registry call"
    );

    let expired = with(
        settings(),
        "exceptions",
        json!([{"image": format!("{repo}:*"), "expires": "2020-01-01", "reason": "CHG-1"}]),
    );
    let e = evaluate(host, &create_pod(&[&image]), &expired);
    assert!(!e.response.accepted);
    let all = format!("{} {:?}", message(&e), warnings(&e));
    assert!(all.contains("no longer applies"), "{all}");
}

#[test]
fn tampered_and_forged_bundles_are_denied() {
    let host = host();
    let repo = signed("e2e-valid-signature");
    let tag = format!("{}.notation", IMAGE_DIGEST.replacen(':', "-", 1));
    let bundle = testkit::publish::get_json(&repo, &tag).unwrap().unwrap();

    // The envelope copy edited: it no longer matches its layer digest.
    let mut tampered = bundle.clone();
    let env = tampered["layers"][0]["annotations"]["dev.vns.notation.envelope"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = format!(
        "{}{}",
        &env[..10],
        if &env[10..11] == "A" { "B" } else { "A" }
    ) + &env[11..];
    tampered["layers"][0]["annotations"]["dev.vns.notation.envelope"] = json!(flipped);
    testkit::publish::put_json(&repo, &tag, &tampered).unwrap();
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &settings());
    assert!(!e.response.accepted);
    assert!(message(&e).contains("INVALID_BUNDLE"), "{}", message(&e));

    // A bundle whose subject names another image.
    let mut forged = bundle.clone();
    forged["subject"]["digest"] = json!(format!("sha256:{}", "0".repeat(64)));
    testkit::publish::put_json(&repo, &tag, &forged).unwrap();
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &settings());
    assert!(!e.response.accepted);
    assert!(message(&e).contains("INVALID_BUNDLE"), "{}", message(&e));

    // Not a bundle at all (another artifact type under the tag).
    let mut other_type = bundle.clone();
    other_type["artifactType"] = json!("application/vnd.example.other");
    testkit::publish::put_json(&repo, &tag, &other_type).unwrap();
    let e = evaluate(host, &create_pod(&[&format!("{repo}:v1")]), &settings());
    assert!(!e.response.accepted);
    assert!(message(&e).contains("INVALID_BUNDLE"), "{}", message(&e));

    // A bundle copied into a repository that lacks the envelope blobs is
    // refused by the registry itself (layers must exist in the repository).
    let other = push("e2e");
    let refused = testkit::publish::put_json(&other, &tag, &bundle).unwrap_err();
    assert!(
        refused.to_string().contains("MANIFEST_BLOB_UNKNOWN"),
        "{refused}"
    );
}

#[test]
fn registry_failures_fail_closed_naming_the_registry() {
    let host = host();
    let e = evaluate(
        host,
        &create_pod(&["127.0.0.1:1/nothing/here:v1"]),
        &settings(),
    );
    assert!(!e.response.accepted);
    let m = message(&e);
    assert!(
        m.contains("REGISTRY_ERROR") && m.contains("127.0.0.1:1"),
        "{m}"
    );

    let repo = push("e2e");
    let e = evaluate(
        host,
        &create_pod(&[&format!("{repo}:missing-tag")]),
        &settings(),
    );
    assert!(!e.response.accepted);
    assert!(message(&e).contains("missing-tag"), "{}", message(&e));
}

#[test]
fn bad_settings_are_refused_naming_the_field() {
    let host = host();
    let v = host.validate_settings(&json!({})).unwrap();
    assert_eq!(v["valid"], false);
    assert!(
        v["message"].as_str().unwrap().contains("trustPolicy"),
        "{v}"
    );
    let mut s = settings();
    s["trustPolicy"]["trustPolicies"][0]["trustStores"] = json!(["ca:missing"]);
    let v = host.validate_settings(&s).unwrap();
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["message"].as_str().unwrap().contains("missing"), "{v}");
    let v = host
        .validate_settings(&with(settings(), "enforcment", json!("warn")))
        .unwrap();
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["message"].as_str().unwrap().contains("enforcment"), "{v}");
    assert_eq!(host.validate_settings(&settings()).unwrap()["valid"], true);
}

#[test]
fn each_distinct_image_is_verified_once() {
    let host = host();
    let repo = signed("e2e-valid-signature");
    let image = format!("{repo}:v1");
    let e = evaluate(host, &create_pod(&[&image, &image, &image]), &settings());
    assert!(e.response.accepted, "{}", message(&e));
    assert_eq!(e.registry_calls().len(), 3);
}
