//! One test per settings field: a wrong value is refused with a message
//! that names the field's path, the value found and what is allowed.

use serde_json::{json, Value};

use crate::settings::Settings;

/// A valid document to break one field of at a time.
fn valid() -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "app", "registryScopes": ["reg.io/app"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:root"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"root": ""}},
    })
}

/// The error for `doc`, from reading or, when it reads, from the load-time
/// checks before any trust store is parsed. YAML reads the same document
/// with the same path in its error (YAML is laxer only where a plain
/// scalar such as `7` may be read as a string).
fn error(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap();
    let yaml = serde_saphyr::to_string(doc).unwrap();
    let yaml_value: Value = serde_saphyr::from_str(&yaml).unwrap();
    let from_yaml = Settings::deserialize_named(yaml_value);
    match Settings::from_json_slice(&bytes) {
        Err(j) => {
            if let Err(y) = from_yaml {
                assert_eq!(j.path, y.path, "JSON and YAML name the same field");
            }
            j.to_string()
        }
        Ok(s) => {
            assert!(
                from_yaml.is_ok(),
                "YAML refused what JSON read: {from_yaml:?}"
            );
            match s.compile() {
                Err(e) => e.to_string(),
                Ok(_) => panic!("accepted: {doc}"),
            }
        }
    }
}

fn set(pointer: &str, value: Value) -> Value {
    let mut doc = valid();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let slot = doc.pointer_mut(parent).unwrap();
    match slot {
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        Value::Object(o) => {
            o.insert(key.to_string(), value);
        }
        _ => panic!("{parent} is not a container"),
    }
    doc
}

/// Asserts that the message starts with the path and contains every fragment.
fn assert_names(doc: Value, path: &str, fragments: &[&str]) {
    let message = error(&doc);
    assert!(
        message.starts_with(&format!("{path}: ")),
        "expected the path {path}: {message}"
    );
    for f in fragments {
        assert!(message.contains(f), "expected {f:?} in: {message}");
    }
}

#[test]
fn the_valid_document_reads_and_compiles() {
    let bytes = serde_json::to_vec(&valid()).unwrap();
    Settings::from_json_slice(&bytes)
        .unwrap()
        .compile()
        .unwrap();
}

#[test]
fn enforcement() {
    assert_names(
        set("/enforcement", json!("block")),
        "enforcement",
        &["`block`", "`deny`", "`warn`"],
    );
}

#[test]
fn modify_images_with_digest() {
    assert_names(
        set("/modifyImagesWithDigest", json!("yes")),
        "modifyImagesWithDigest",
        &["\"yes\"", "boolean"],
    );
}

#[test]
fn max_signatures_type_and_range() {
    assert_names(
        set("/maxSignatures", json!("ten")),
        "maxSignatures",
        &["\"ten\"", "whole number from 1 to 100"],
    );
    assert_names(
        set("/maxSignatures", json!(-1)),
        "maxSignatures",
        &["-1", "whole number from 1 to 100"],
    );
    assert_names(
        set("/maxSignatures", json!(0)),
        "maxSignatures",
        &["between 1 and 100", "got 0"],
    );
}

#[test]
fn exceptions_image_expires_reason() {
    let mut doc = valid();
    doc["exceptions"] = json!([{"image": 7, "expires": "2030-01-01"}]);
    assert_names(doc, "exceptions[0].image", &["integer `7`", "string"]);
    let mut doc = valid();
    doc["exceptions"] = json!([{"image": "a/**", "expires": "soon"}]);
    assert_names(doc, "exceptions[0].expires", &["\"soon\"", "RFC 3339"]);
    let mut doc = valid();
    doc["exceptions"] = json!([{"image": "a/**", "expires": "2030-01-01", "reason": ["x"]}]);
    assert_names(doc, "exceptions[0].reason", &["sequence", "string"]);
    let mut doc = valid();
    doc["exceptions"] = json!([{"image": "a/**", "expiry": "2030-01-01"}]);
    assert_names(doc, "exceptions[0].expiry", &["unknown field", "`expires`"]);
}

#[test]
fn unknown_top_level_field() {
    assert_names(
        set("/enforcment", json!("warn")),
        "enforcment",
        &["unknown field", "`enforcement`", "`maxSignatures`"],
    );
}

#[test]
fn trust_policy_missing_and_version() {
    let mut doc = valid();
    doc.as_object_mut().unwrap().remove("trustPolicy");
    assert_names(doc, "trustPolicy", &["is required", "\"1.0\""]);
    assert_names(
        set("/trustPolicy/version", json!("2.0")),
        "trustPolicy.version",
        &["\"2.0\"", "allowed: \"1.0\""],
    );
    assert_names(
        set("/trustPolicy/version", json!(1.0)),
        "trustPolicy.version",
        &["1.0", "string"],
    );
}

#[test]
fn signature_verification_level() {
    assert_names(
        set(
            "/trustPolicy/trustPolicies/0/signatureVerification/level",
            json!("strictest"),
        ),
        "trustPolicy.trustPolicies[0].signatureVerification.level",
        &[
            "\"strictest\"",
            "statement \"app\"",
            "strict, permissive, audit, skip",
        ],
    );
}

#[test]
fn signature_verification_override() {
    let path = "/trustPolicy/trustPolicies/0/signatureVerification/override";
    assert_names(
        set(path, json!({"revocation": "ignore"})),
        "trustPolicy.trustPolicies[0].signatureVerification.override.revocation",
        &["\"ignore\"", "enforce, log, skip"],
    );
    assert_names(
        set(path, json!({"freshness": "log"})),
        "trustPolicy.trustPolicies[0].signatureVerification.override.freshness",
        &[
            "\"freshness\"",
            "authenticity, authenticTimestamp, expiry, revocation",
        ],
    );
}

#[test]
fn signature_verification_verify_timestamp() {
    assert_names(
        set(
            "/trustPolicy/trustPolicies/0/signatureVerification/verifyTimestamp",
            json!("never"),
        ),
        "trustPolicy.trustPolicies[0].signatureVerification.verifyTimestamp",
        &["\"never\"", "always, afterCertExpiry"],
    );
}

#[test]
fn statement_trust_store_references() {
    assert_names(
        set("/trustPolicy/trustPolicies/0/trustStores/0", json!("root")),
        "trustPolicy.trustPolicies[0].trustStores[0]",
        &["\"root\"", "<type>:<name>", "ca, signingAuthority, tsa"],
    );
    assert_names(
        set(
            "/trustPolicy/trustPolicies/0/trustStores/0",
            json!("x509:root"),
        ),
        "trustPolicy.trustPolicies[0].trustStores[0]",
        &["\"x509\"", "ca, signingAuthority, tsa"],
    );
}

#[test]
fn statement_list_fields_have_types() {
    assert_names(
        set(
            "/trustPolicy/trustPolicies/0/registryScopes",
            json!("reg.io/app"),
        ),
        "trustPolicy.trustPolicies[0].registryScopes",
        &["\"reg.io/app\"", "sequence"],
    );
    assert_names(
        set("/trustPolicy/trustPolicies/0/trustedIdentities", json!(3)),
        "trustPolicy.trustPolicies[0].trustedIdentities",
        &["integer `3`", "sequence"],
    );
}

#[test]
fn trust_store_types_and_pem() {
    assert_names(
        set("/trustStores/x509", json!({})),
        "trustStores.x509",
        &["unknown field", "`ca`", "`signingAuthority`", "`tsa`"],
    );
    assert_names(
        set("/trustStores/ca/root", json!(["pem"])),
        "trustStores.ca.root",
        &["sequence", "string"],
    );
}

#[test]
fn trust_store_pem_names_type_and_store() {
    let doc = set("/trustStores/ca/root", json!("not a certificate"));
    let settings = Settings::from_json_slice(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let message = settings.validate().unwrap_err().to_string();
    assert!(
        message.starts_with("trustStores: trust store \"root\" of type \"ca\""),
        "{message}"
    );
}
