use super::*;
use serde_json::json;

fn source(v: Value) -> Result<TrustStoreSource, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn reference(v: Value) -> StoreReference {
    match source(v).unwrap() {
        TrustStoreSource::Reference(doc) => doc.check().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_store_is_text_or_a_reference_and_round_trips() {
    assert_eq!(
        source(json!("-----BEGIN CERTIFICATE-----")).unwrap(),
        TrustStoreSource::Inline("-----BEGIN CERTIFICATE-----".into())
    );
    let doc =
        json!({"secret": {"namespace": "kubewarden", "name": "public-tsa", "key": "tls.crt"}});
    let parsed = source(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), doc);
    let r = reference(doc);
    assert_eq!(r.kind, ObjectKind::Secret);
    assert_eq!(r.to_string(), "Secret kubewarden/public-tsa[tls.crt]");
    let r = reference(json!({"configMap": {"namespace": "kw", "name": "roots"}}));
    assert_eq!(r.to_string(), "ConfigMap kw/roots");
    assert_eq!(r.kind.plural(), "configmaps");
}

#[test]
fn unknown_fields_and_wrong_types_are_refused_by_serde() {
    let e = source(json!({"configMap": {"namespace": "a", "name": "b", "keys": "x"}})).unwrap_err();
    assert!(e.contains("unknown field `keys`"), "{e}");
    let e = source(json!({"configmap": {}})).unwrap_err();
    assert!(e.contains("unknown field `configmap`"), "{e}");
    let e = source(json!(42)).unwrap_err();
    assert!(e.contains("PEM certificates"), "{e}");
}

#[test]
fn the_shape_check_names_the_field() {
    let check = |v: Value| match source(v).unwrap() {
        TrustStoreSource::Reference(doc) => doc.check().unwrap_err(),
        other => panic!("{other:?}"),
    };
    let e = check(json!({}));
    assert_eq!(e.field, "");
    let both = json!({"configMap": {"namespace": "a", "name": "b"}, "secret": {"namespace": "a", "name": "b"}});
    assert!(check(both).message.contains("not both"));
    let e = check(json!({"configMap": {"name": "b"}}));
    assert_eq!(e.field, "configMap.namespace");
    assert!(e.message.contains("is required"), "{e:?}");
    let e = check(json!({"secret": {"namespace": "a"}}));
    assert_eq!(e.field, "secret.name");
    let e = check(json!({"secret": {"namespace": "a", "name": "Bad_Name"}}));
    assert_eq!(e.field, "secret.name");
    assert!(e.message.contains("Bad_Name"), "{e:?}");
    let e = check(json!({"secret": {"namespace": "a", "name": "b", "key": ""}}));
    assert_eq!(e.field, "secret.key");
}

const CERT_A: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
const CERT_B: &str = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn without_a_key_every_pem_value_is_taken_in_key_order() {
    let r = reference(json!({"configMap": {"namespace": "kw", "name": "roots"}}));
    let object =
        json!({"kind": "ConfigMap", "data": {"z.pem": CERT_B, "a.pem": CERT_A, "notes": "hello"}});
    let bytes = store_bytes(&r, &object).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        format!("{CERT_A}\n{CERT_B}\n")
    );

    let r = reference(json!({"secret": {"namespace": "kw", "name": "s"}}));
    let object = json!({"kind": "Secret", "data": {"tls.crt": b64(CERT_B), "ca.crt": b64(CERT_A), "tls.key": b64("-----BEGIN PRIVATE KEY-----")}});
    let bytes = store_bytes(&r, &object).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        format!("{CERT_A}\n{CERT_B}\n")
    );
}

#[test]
fn a_key_selects_one_value_and_secrets_are_base64() {
    let r = reference(json!({"secret": {"namespace": "kw", "name": "s", "key": "tls.crt"}}));
    let object = json!({"data": {"tls.crt": b64(CERT_B), "ca.crt": b64(CERT_A)}});
    assert_eq!(store_bytes(&r, &object).unwrap(), CERT_B.as_bytes());
    let e = store_bytes(&r, &json!({"data": {"ca.crt": b64(CERT_A)}})).unwrap_err();
    assert_eq!(e, "has no key \"tls.crt\" (its keys: ca.crt)");
    let e = store_bytes(&r, &json!({"data": {"tls.crt": "%%%"}})).unwrap_err();
    assert!(e.contains("not base64"), "{e}");
    // A ConfigMap's binaryData (base64) counts too, e.g. a DER certificate.
    let r = reference(json!({"configMap": {"namespace": "kw", "name": "c", "key": "root.der"}}));
    let object = json!({"binaryData": {"root.der": b64("DER")}});
    assert_eq!(store_bytes(&r, &object).unwrap(), b"DER");
}

#[test]
fn an_object_without_certificates_says_what_it_holds() {
    let r = reference(json!({"configMap": {"namespace": "kw", "name": "roots"}}));
    let e = store_bytes(&r, &json!({"data": {"readme": "x"}})).unwrap_err();
    assert_eq!(
        e,
        "holds no PEM certificate under any key (its keys: readme)"
    );
    let e = store_bytes(&r, &json!({"metadata": {}})).unwrap_err();
    assert!(e.contains("it has no data"), "{e}");
}
