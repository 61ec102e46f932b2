use crate::settings::Settings;
use crate::trust_store::{StoreType, TrustStoreError};
use serde_json::{json, Value};

fn root() -> String {
    std::fs::read_to_string(testdata::path(
        "notation/synthetic/truststore/x509/ca/synthetic-root/root.pem",
    ))
    .unwrap()
}

fn settings(store: Value, locations: Value) -> Settings {
    Settings::from_json_slice(
        json!({
            "trustPolicy": {"version": "1.0", "trustPolicies": [
                {"name": "app", "registryScopes": ["reg.io/app"],
                 "signatureVerification": {"level": "strict"},
                 "trustStores": ["ca:roots"], "trustedIdentities": ["*"]}]},
            "trustStores": {"ca": {"roots": store}},
            "bundleLocations": locations,
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

fn reference() -> Value {
    json!({"configMap": {"namespace": "kw", "name": "roots", "key": "ca.pem"}})
}

#[test]
fn a_referenced_store_is_unresolved_until_given_its_content_once() {
    for validated in [
        settings(reference(), json!([])).validate().unwrap(),
        settings(reference(), json!([])).compile().unwrap(),
    ] {
        let stores = &validated.verifier.stores;
        let object = stores.unresolved(StoreType::Ca, "roots").unwrap().clone();
        assert_eq!(object.to_string(), "ConfigMap kw/roots[ca.pem]");
        assert_eq!(stores.all_unresolved().len(), 1);
        assert!(matches!(
            stores.load(StoreType::Ca, "roots"),
            Err(TrustStoreError::Unresolved { .. })
        ));
        stores.resolve(StoreType::Ca, "roots", Ok(root().into_bytes()));
        assert_eq!(stores.load(StoreType::Ca, "roots").unwrap().len(), 1);
        assert!(stores.unresolved(StoreType::Ca, "roots").is_none());
        // The first answer stays for the request.
        stores.resolve(StoreType::Ca, "roots", Err("gone".into()));
        assert!(stores.load(StoreType::Ca, "roots").is_ok());
    }
}

#[test]
fn an_unreadable_or_empty_object_fails_the_statement_naming_the_object() {
    let validated = settings(reference(), json!([])).compile().unwrap();
    let app = validated
        .verifier
        .policy
        .statement_for("reg.io/app")
        .unwrap();
    validated.verifier.stores.resolve(
        StoreType::Ca,
        "roots",
        Err("cannot read it: not found".into()),
    );
    assert_eq!(
        validated.verifier.load_statement_stores(app),
        Err("trustStores: trust store \"roots\" of type \"ca\" (ConfigMap kw/roots[ca.pem]): cannot read it: not found".into())
    );
    let validated = settings(reference(), json!([])).compile().unwrap();
    validated.verifier.stores.resolve(
        StoreType::Ca,
        "roots",
        Ok(b"# no certificates here\n".to_vec()),
    );
    let e = validated
        .verifier
        .stores
        .load(StoreType::Ca, "roots")
        .unwrap_err();
    assert!(
        e.to_string().contains("(ConfigMap kw/roots[ca.pem])"),
        "{e}"
    );
    // A store must still hold CA or self-signed certificates.
    let validated = settings(reference(), json!([])).compile().unwrap();
    validated
        .verifier
        .stores
        .resolve(StoreType::Ca, "roots", Ok(Vec::new()));
    assert_eq!(
        validated.verifier.stores.load(StoreType::Ca, "roots").unwrap_err().to_string(),
        "trust store \"roots\" of type \"ca\" (ConfigMap kw/roots[ca.pem]): holds no x509 certificate"
    );
}

#[test]
fn reference_shapes_are_refused_with_the_field_path() {
    let error = |store: Value| {
        settings(store, json!([]))
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error(json!({"secret": {"name": "roots"}})),
        "trustStores.ca.roots.secret.namespace: is required (the Secret namespace)"
    );
    assert!(error(json!({})).starts_with("trustStores.ca.roots: "));
    let e = Settings::from_json_slice(
        br#"{"trustStores": {"ca": {"roots": {"configMap": {"namespace": "kw", "name": "r", "nam": "x"}}}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "trustStores.ca.roots.configMap.nam");
    assert!(e.message.contains("unknown field `nam`"), "{e}");
    // Inline PEM and references round-trip through serde.
    let s = settings(reference(), json!([]));
    let again: Settings = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}

#[test]
fn bundle_locations_match_first_and_normalise_their_repository() {
    let validated = settings(
        json!(root()),
        json!([
            {"images": "MCR.microsoft.com:443/dotnet/**", "repository": "MyRegistry.azurecr.io:443/dotnet"},
            {"images": "mcr.microsoft.com/**", "repository": "localhost:5000/all"},
        ]),
    )
    .validate()
    .unwrap();
    let at = |image: &str| {
        let image = crate::reference::ImageRef::parse(image)
            .unwrap()
            .normalized();
        validated
            .bundle_location_for(&image)
            .map(|l| l.repository.clone())
    };
    assert_eq!(
        at("mcr.microsoft.com/dotnet/runtime:8.0").as_deref(),
        Some("myregistry.azurecr.io/dotnet")
    );
    assert_eq!(at("mcr.microsoft.com/azure-cli@sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268").as_deref(), Some("localhost:5000/all"));
    assert_eq!(at("reg.io/app:1"), None);
}

#[test]
fn bundle_location_errors_name_the_entry() {
    let error = |locations: Value| {
        settings(json!(root()), locations)
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error(json!([{"images": "a/**", "repository": "r.io/b"}, {"images": "", "repository": "r.io/b"}])),
        "bundleLocations[1].images: is required (a glob over the normalised image reference, as for exceptions)"
    );
    assert!(error(json!([{"images": "a/[", "repository": "r.io/b"}]))
        .starts_with("bundleLocations[0].images: invalid glob"));
    assert!(error(json!([{"images": "a/**"}]))
        .starts_with("bundleLocations[0].repository: is required"));
    assert!(error(json!([{"images": "a/**", "repository": "bundles"}])).contains("registry host"));
    assert!(
        error(json!([{"images": "a/**", "repository": "r.io/b@sha256:00"}]))
            .contains("tag or digest")
    );
    assert!(error(json!([{"images": "a/**", "repository": "r.io/B"}]))
        .starts_with("bundleLocations[0].repository: invalid image reference"));
}
