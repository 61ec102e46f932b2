//! Settings errors through the built module's `validate_settings`: each
//! names the field's path, the value found and what is allowed (the unit
//! tests in notation-verifier's settings module cover every field; these
//! check that the module the policy server loads says the same).

mod common;

use common::{host, settings, with};
use serde_json::{json, Value};

fn refused(settings: &Value) -> String {
    let verdict = host()
        .validate_settings(settings)
        .expect("validate_settings answers");
    assert_eq!(verdict["valid"], false, "{verdict}");
    verdict["message"].as_str().unwrap_or_default().to_string()
}

fn assert_names(settings: Value, fragments: &[&str]) {
    let message = refused(&settings);
    for f in fragments {
        assert!(message.contains(f), "expected {f:?} in: {message}");
    }
}

#[test]
fn the_built_module_names_the_field_the_value_and_what_is_allowed() {
    assert_names(
        with(settings(), "enforcement", json!("block")),
        &["enforcement: unknown variant `block`", "`deny` or `warn`"],
    );
    assert_names(
        with(settings(), "modifyImagesWithDigest", json!("yes")),
        &["modifyImagesWithDigest:", "\"yes\"", "boolean"],
    );
    assert_names(
        with(settings(), "maxSignatures", json!(-3)),
        &["maxSignatures:", "-3", "whole number from 1 to 100"],
    );
    assert_names(
        with(settings(), "maxSignatures", json!(500)),
        &["maxSignatures:", "between 1 and 100", "got 500"],
    );
    assert_names(
        with(
            settings(),
            "exceptions",
            json!([{"image": "reg.io/**", "expires": "next week"}]),
        ),
        &["exceptions[0].expires:", "\"next week\"", "RFC 3339"],
    );
    let mut s = settings();
    s["trustPolicy"]["trustPolicies"][0]["signatureVerification"]["level"] = json!("paranoid");
    assert_names(
        s,
        &[
            "trustPolicy.trustPolicies[0].signatureVerification.level:",
            "\"paranoid\"",
            "strict, permissive, audit, skip",
        ],
    );
    let mut s = settings();
    s["trustStores"]["x509"] = json!({});
    assert_names(s, &["trustStores.x509:", "`ca`, `signingAuthority`, `tsa`"]);
    assert_eq!(
        host().validate_settings(&settings()).unwrap()["valid"],
        true
    );
}

#[test]
fn stores_by_reference_and_bundle_locations_are_checked_for_shape_by_the_module() {
    let store = |value: Value| {
        let mut s = settings();
        s["trustStores"]["ca"]["e2e"] = value;
        s
    };
    assert_names(
        store(json!({"configMap": {"name": "roots"}})),
        &["trustStores.ca.e2e.configMap.namespace: is required"],
    );
    assert_names(
        store(json!({"secret": {"namespace": "kw"}})),
        &["trustStores.ca.e2e.secret.name: is required"],
    );
    assert_names(
        store(
            json!({"configMap": {"namespace": "kw", "name": "a"}, "secret": {"namespace": "kw", "name": "b"}}),
        ),
        &["trustStores.ca.e2e:", "not both"],
    );
    assert_names(
        store(json!({})),
        &["trustStores.ca.e2e:", "configMap", "secret"],
    );
    assert_names(
        store(json!({"secret": {"namespace": "kw", "name": "b", "keys": "x"}})),
        &["trustStores.ca.e2e.secret", "unknown field `keys`"],
    );
    // The shape is all that validate_settings checks: the object is read per request.
    let valid = store(json!({"secret": {"namespace": "kw", "name": "b", "key": "ca.crt"}}));
    assert_eq!(host().validate_settings(&valid).unwrap()["valid"], true);

    let locations = |value: Value| with(settings(), "bundleLocations", value);
    assert_names(
        locations(json!([{"images": "mcr.microsoft.com/**", "repository": "bundles"}])),
        &["bundleLocations[0].repository:", "registry host"],
    );
    assert_names(
        locations(json!([{"images": "mcr.microsoft.com/**", "repository": "r.io/b:v1"}])),
        &["bundleLocations[0].repository:", "tag or digest"],
    );
    assert_names(
        locations(json!([{"repository": "r.io/b"}])),
        &["bundleLocations[0].images: is required"],
    );
    assert_names(
        locations(json!([{"images": "a/**", "repository": "r.io/b", "repo": "x"}])),
        &["bundleLocations[0]", "unknown field `repo`"],
    );
    let valid = locations(json!([{"images": "mcr.microsoft.com/**", "repository": "r.io/b"}]));
    assert_eq!(host().validate_settings(&valid).unwrap()["valid"], true);
}
