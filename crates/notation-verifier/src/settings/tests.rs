//! Unit tests of the settings: validation, exceptions, lazy stores, and the
//! canonical registry names the policy and the exceptions share.

use super::*;
use crate::reference::ImageRef;
use crate::trust_store::StoreType;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn compiled(exceptions: Vec<ExceptionDoc>) -> Vec<Exception> {
    exceptions
        .iter()
        .enumerate()
        .map(|(i, e)| compile_exception(i, e).unwrap())
        .collect()
}

fn exc(image: &str, expires: &str) -> ExceptionDoc {
    ExceptionDoc {
        image: image.into(),
        expires: Some(expires.into()),
        reason: Some("CHG-1".into()),
    }
}

#[test]
fn globs_follow_the_contract() {
    let m = |glob: &str, image: &str| {
        compile_exception(0, &exc(glob, "2030-01-01"))
            .unwrap()
            .matcher
            .is_match(image)
    };
    assert!(m(
        "myregistry.azurecr.io/legacy/**",
        "myregistry.azurecr.io/legacy/a/b:1"
    ));
    assert!(m(
        "myregistry.azurecr.io/legacy/*",
        "myregistry.azurecr.io/legacy/a:1"
    ));
    assert!(!m(
        "myregistry.azurecr.io/legacy/*",
        "myregistry.azurecr.io/legacy/a/b:1"
    ));
    assert!(m(
        "docker.io/library/nginx:1.2?",
        "docker.io/library/nginx:1.25"
    ));
    assert!(!m(
        "docker.io/library/nginx:1.2?",
        "docker.io/library/nginx:1.250"
    ));
    assert!(!m("*", "docker.io/library/nginx:latest"));
}

#[test]
fn dates_last_through_the_day_and_datetimes_are_exact() {
    assert_eq!(parse_expiry("2027-03-31"), Some(at("2027-04-01T00:00:00Z")));
    assert_eq!(
        parse_expiry("2027-03-31T12:00:00+02:00"),
        Some(at("2027-03-31T10:00:00Z"))
    );
    assert_eq!(parse_expiry("31/03/2027"), None);
    assert_eq!(parse_expiry("2027-02-30"), None);
}

#[test]
fn live_exceptions_report_days_left_and_expired_ones_say_so() {
    let v = ValidatedSettings {
        verifier: Verifier::new(TrustPolicy { statements: vec![] }, TrustStores::default()),
        enforcement: Enforcement::Deny,
        modify_images_with_digest: true,
        exceptions: compiled(vec![
            exc("reg.io/old/**", "2026-11-20"),
            exc("reg.io/live/**", "2026-12-01"),
        ]),
        limits: Limits::default(),
        bundle_locations: Vec::new(),
    };
    let now = at("2026-11-24T12:00:00Z");
    match v.exception_for("reg.io/live/app:1", now) {
        ExceptionMatch::Active {
            days_left,
            exception,
            ..
        } => {
            assert_eq!(exception, "reg.io/live/**");
            assert_eq!(days_left, 7);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        v.exception_for("reg.io/old/app:1", now),
        ExceptionMatch::Expired { .. }
    ));
    assert_eq!(
        v.exception_for("reg.io/other/app:1", now),
        ExceptionMatch::None
    );
}

#[test]
fn exception_errors_name_the_field() {
    let e = compile_exception(
        2,
        &ExceptionDoc {
            image: "a/**".into(),
            expires: None,
            reason: None,
        },
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("exceptions[2].expires:"), "{e}");
    let e = compile_exception(0, &exc("a/**", "tomorrow")).unwrap_err();
    assert!(e.to_string().contains("exceptions[0].expires"), "{e}");
    let e = compile_exception(0, &exc("a/[", "2030-01-01")).unwrap_err();
    assert!(e.to_string().contains("exceptions[0].image"), "{e}");
}

/// Two statements: `app` names the valid `ca:good`, `legacy` names
/// `ca:broken` (not a certificate).
fn two_store_settings() -> Settings {
    let root = std::fs::read_to_string(testdata::path(
        "notation/synthetic/truststore/x509/ca/synthetic-root/root.pem",
    ))
    .unwrap();
    serde_json::from_value(serde_json::json!({
        "trustPolicy": {
            "version": "1.0",
            "trustPolicies": [
                {
                    "name": "app",
                    "registryScopes": ["reg.io/app"],
                    "signatureVerification": {"level": "strict"},
                    "trustStores": ["ca:good"],
                    "trustedIdentities": ["*"]
                },
                {
                    "name": "legacy",
                    "registryScopes": ["reg.io/legacy"],
                    "signatureVerification": {"level": "strict"},
                    "trustStores": ["ca:broken"],
                    "trustedIdentities": ["*"]
                }
            ]
        },
        "trustStores": {"ca": {
            "good": root,
            "broken": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        }}
    }))
    .unwrap()
}

#[test]
fn validation_rejects_any_invalid_store_but_requests_parse_only_the_statements_stores() {
    let settings = two_store_settings();
    let eager = settings.validate().unwrap_err();
    assert!(
        matches!(&eager, SettingsError::TrustStore(TrustStoreError::Invalid { name, .. }) if name == "broken"),
        "{eager:?}"
    );
    let lazy = settings.compile().unwrap();
    let stores = &lazy.verifier.stores;
    assert!(!stores.is_parsed(StoreType::Ca, "good"));
    assert!(!stores.is_parsed(StoreType::Ca, "broken"));

    // A request for reg.io/app parses ca:good only, and once.
    let app = lazy.verifier.policy.statement_for("reg.io/app").unwrap();
    assert_eq!(lazy.verifier.load_statement_stores(app), Ok(()));
    assert!(stores.is_parsed(StoreType::Ca, "good"));
    assert!(!stores.is_parsed(StoreType::Ca, "broken"));
    let first = stores.get(StoreType::Ca, "good").unwrap().as_ptr();
    assert_eq!(
        stores.get(StoreType::Ca, "good").unwrap().as_ptr(),
        first,
        "parsed once"
    );

    // A request for reg.io/legacy meets the broken store, with the
    // message that settings validation gives.
    let legacy = lazy.verifier.policy.statement_for("reg.io/legacy").unwrap();
    assert_eq!(
        lazy.verifier.load_statement_stores(legacy),
        Err(eager.to_string())
    );
    assert!(stores.is_parsed(StoreType::Ca, "broken"));
    assert!(stores.get(StoreType::Ca, "broken").is_none());
    assert!(stores.contains(StoreType::Ca, "broken"));
}

#[test]
fn lazy_and_eager_stores_fail_alike() {
    for (store_type, text) in [
        (StoreType::Ca, ""),
        (StoreType::Ca, "not pem"),
        (
            StoreType::Tsa,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ),
    ] {
        let mut pem = TrustStoresPem::default();
        let map = match store_type {
            StoreType::Ca => &mut pem.ca,
            StoreType::SigningAuthority => &mut pem.signing_authority,
            StoreType::Tsa => &mut pem.tsa,
        };
        map.insert("s".into(), text.into());
        let eager = TrustStores::from_pem(&pem).unwrap_err();
        let lazy = TrustStores::from_pem_lazy(&pem);
        assert_eq!(lazy.load(store_type, "s").unwrap_err(), eager, "{text:?}");
    }
    assert_eq!(
        TrustStores::from_pem_lazy(&TrustStoresPem::default())
            .load(StoreType::Ca, "none")
            .unwrap_err()
            .to_string(),
        "the trust store \"none\" of type \"ca\" does not exist"
    );
}

#[test]
fn unknown_fields_and_enforcement_values_are_rejected() {
    let e = serde_json::from_str::<Settings>(r#"{"enforcment":"warn"}"#).unwrap_err();
    assert!(e.to_string().contains("enforcment"), "{e}");
    let e = serde_json::from_str::<Settings>(r#"{"enforcement":"audit"}"#).unwrap_err();
    assert!(e.to_string().contains("audit"), "{e}");
    let s: Settings = serde_json::from_str("{}").unwrap();
    assert!(s.modify_images_with_digest);
    assert_eq!(s.max_signatures, 10);
    assert_eq!(s.validate().unwrap_err(), SettingsError::MissingTrustPolicy);
}

/// The trust policy and the exceptions see one registry, however the
/// image and the settings spell it.
#[test]
fn statements_and_exceptions_follow_the_canonical_name() {
    let policy = TrustPolicy::from_json(
        r#"{"version": "1.0", "trustPolicies": [
            {"name": "app", "registryScopes": ["REGISTRY.example.com:443/app"],
             "signatureVerification": {"level": "audit"},
             "trustStores": ["ca:x"], "trustedIdentities": ["*"]},
            {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}"#,
    )
    .unwrap();
    for image in [
        "registry.example.com/app:1",
        "REGISTRY.EXAMPLE.COM/app:1",
        "registry.example.com:443/app:1",
    ] {
        let repo = ImageRef::parse(image).unwrap().repository_path();
        assert_eq!(policy.statement_for(&repo).unwrap().name, "app", "{image}");
    }
    assert_eq!(
        policy
            .statement_for("Registry.Example.com/app")
            .unwrap()
            .name,
        "app"
    );
    let other = ImageRef::parse("registry.example.com:80/app:1").unwrap();
    assert_eq!(
        policy.statement_for(&other.repository_path()).unwrap().name,
        "rest"
    );

    let duplicate = TrustPolicy::from_json(
        r#"{"version": "1.0", "trustPolicies": [
            {"name": "a", "registryScopes": ["registry.example.com/app"], "signatureVerification": {"level": "skip"}},
            {"name": "b", "registryScopes": ["registry.example.com:443/app"], "signatureVerification": {"level": "skip"}}]}"#,
    )
    .unwrap_err();
    assert!(
        duplicate.to_string().contains("present in multiple"),
        "{duplicate}"
    );

    let settings: Settings = serde_json::from_value(serde_json::json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [
            {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]},
        "exceptions": [{"image": "REGISTRY.example.com:443/legacy/**", "expires": "2099-01-01"}]
    }))
    .unwrap();
    let settings = settings.validate().unwrap();
    let now = parse_expiry("2030-01-01").unwrap();
    for image in ["registry.example.com/legacy/a/b:1", "Registry.example.com:443/legacy/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"] {
        let normalized = ImageRef::parse(image).unwrap().normalized();
        assert!(
            matches!(settings.exception_for(&normalized, now), ExceptionMatch::Active { .. }),
            "{image}"
        );
    }
}
