//! The upstream notation-go vectors, in the contexts their tests use
//! (`testdata/notation/README.md`: ctx-A, ctx-TS, the examples).

mod common;

use chrono::{DateTime, Utc};
use common::{at, load_stores, read, testdata, verify_one};
use notation_verifier::envelope;
use notation_verifier::trust_policy::TrustPolicy;
use notation_verifier::trust_store::StoreType;
use notation_verifier::verdict::{CheckOutcome, Outcome, ReasonCode, ValidationKind, Verdict};
use notation_verifier::verify::{Descriptor, Verifier};
use serde_json::json;

fn now() -> DateTime<Utc> {
    at("2026-11-23T00:00:00Z")
}

const SCOPE_A: &str = "registry.acme-rockets.io/software/net-monitor";

fn descriptor_a() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e".into(),
        size: 528,
    }
}

/// ctx-A: notation-go's dummy OCI policy document at a given level.
fn ctx_a(level: &str, stores: &[&str], identity: &str) -> Verifier {
    let policy = TrustPolicy::from_document(
        &serde_json::from_value(json!({
            "version": "1.0",
            "trustPolicies": [{
                "name": "test-statement-name",
                "registryScopes": [SCOPE_A],
                "signatureVerification": {"level": level},
                "trustStores": stores,
                "trustedIdentities": [identity]
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let root = testdata("notation-go");
    let wanted: Vec<(StoreType, &str)> = stores
        .iter()
        .map(|s| {
            let (t, n) = s.split_once(':').unwrap();
            (StoreType::parse(t).unwrap(), n)
        })
        .collect();
    Verifier::new(policy, load_stores(&root, &wanted))
}

const STORES_A: [&str; 2] = ["ca:valid-trust-store", "signingAuthority:valid-trust-store"];
const IDENTITY_A: &str = "x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US";

fn envelope_a(name: &str) -> Vec<u8> {
    read(&format!("notation-go/envelopes/{name}"))
}

fn decisive(v: &Verdict) -> Option<(ValidationKind, ReasonCode)> {
    v.signatures
        .first()
        .and_then(|s| s.decisive_failure())
        .map(|(k, r, _)| (*k, r))
}

fn logged(v: &Verdict) -> Vec<ValidationKind> {
    v.passing_signature()
        .map(|s| s.logged_failures().map(|f| f.kind).collect())
        .unwrap_or_default()
}

#[test]
fn ctx_a_valid_envelopes_pass_at_every_level() {
    for file in ["ca_valid_sig_env.json", "sa_valid_sig_env.json"] {
        for level in ["strict", "permissive", "audit"] {
            let v = verify_one(
                &ctx_a(level, &STORES_A, IDENTITY_A),
                SCOPE_A,
                &descriptor_a(),
                "application/jose+json",
                &envelope_a(file),
                now(),
            );
            assert_eq!(
                v.outcome,
                Outcome::Verified,
                "{file} {level}: {:?}",
                v.failure
            );
            assert!(logged(&v).is_empty(), "{file} {level}");
        }
    }
}

#[test]
fn ctx_a_expired_signatures_fail_strict_and_are_logged_below() {
    for file in ["ca_expired_sig_env.json", "sa_expired_sig_env.json"] {
        let v = verify_one(
            &ctx_a("strict", &STORES_A, IDENTITY_A),
            SCOPE_A,
            &descriptor_a(),
            "application/jose+json",
            &envelope_a(file),
            now(),
        );
        assert_eq!(
            decisive(&v),
            Some((ValidationKind::Expiry, ReasonCode::ExpiredSignature)),
            "{file}"
        );
        let message = &v.failure.as_ref().unwrap().message;
        assert!(message.contains("2022-07-29T23:59:00Z"), "{message}");
        for level in ["permissive", "audit"] {
            let v = verify_one(
                &ctx_a(level, &STORES_A, IDENTITY_A),
                SCOPE_A,
                &descriptor_a(),
                "application/jose+json",
                &envelope_a(file),
                now(),
            );
            assert_eq!(
                v.outcome,
                Outcome::Verified,
                "{file} {level}: {:?}",
                v.failure
            );
            assert_eq!(logged(&v), vec![ValidationKind::Expiry], "{file} {level}");
        }
    }
}

#[test]
fn ctx_a_broken_and_plugin_envelopes_fail_at_every_level() {
    let cases = [
        ("ca_invalid_sig_env.json", ValidationKind::Integrity),
        ("sa_invalid_sig_env.json", ValidationKind::Integrity),
        ("ca_plugin_sig_env.json", ValidationKind::Integrity),
        ("sa_plugin_sig_env.json", ValidationKind::Integrity),
    ];
    for (file, kind) in cases {
        for level in ["strict", "permissive", "audit"] {
            let v = verify_one(
                &ctx_a(level, &STORES_A, IDENTITY_A),
                SCOPE_A,
                &descriptor_a(),
                "application/jose+json",
                &envelope_a(file),
                now(),
            );
            assert_eq!(v.outcome, Outcome::Failed, "{file} {level}");
            assert_eq!(
                decisive(&v).map(|d| d.0),
                Some(kind),
                "{file} {level}: {:?}",
                v.failure
            );
        }
    }
    let v = verify_one(
        &ctx_a("audit", &STORES_A, IDENTITY_A),
        SCOPE_A,
        &descriptor_a(),
        "application/jose+json",
        &envelope_a("ca_plugin_sig_env.json"),
        now(),
    );
    assert_eq!(
        decisive(&v).map(|d| d.1),
        Some(ReasonCode::UnsupportedPlugin)
    );
}

#[test]
fn plugin_version_envelopes_fail_without_plugin_support() {
    let files = [
        "ca_compatible_pluginver_sig_env_0.0.9.json",
        "ca_compatible_pluginver_sig_env_1.0.0-alpha.json",
        "ca_compatible_pluginver_sig_env_1.0.0-alpha.beta.json",
        "ca_compatible_pluginver_sig_env_1.0.0.json",
        "ca_incompatible_pluginver_sig_env_1.0.1.json",
        "ca_incompatible_pluginver_sig_env_1.0.9.json",
        "ca_incompatible_pluginver_sig_env_1.1.0-alpha.json",
        "ca_incompatible_pluginver_sig_env_1.2.3.json",
    ];
    let scope = "localhost:5000/net-monitor";
    let policy = TrustPolicy::from_document(
        &serde_json::from_value(json!({"version": "1.0", "trustPolicies": [{
            "name": "b", "registryScopes": [scope], "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:valid-trust-store"],
            "trustedIdentities": ["x509.subject: CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"]}]}))
        .unwrap(),
    )
    .unwrap();
    let verifier = Verifier::new(
        policy,
        load_stores(
            &testdata("notation-go"),
            &[(StoreType::Ca, "valid-trust-store")],
        ),
    );
    let descriptor = Descriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:fe7e9333395060c2f5e63cf36a38fba10176f183b4163a5794e081a480abba5f".into(),
        size: 942,
    };
    for file in files {
        let v = verify_one(
            &verifier,
            scope,
            &descriptor,
            "application/jose+json",
            &envelope_a(file),
            now(),
        );
        assert_eq!(
            decisive(&v),
            Some((ValidationKind::Integrity, ReasonCode::UnsupportedPlugin)),
            "{file}: {:?}",
            v.failure
        );
    }
}

#[test]
fn ctx_a_untrusted_store_and_wrong_identity() {
    let file = envelope_a("ca_valid_sig_env.json");
    let untrusted = [
        "ca:valid-trust-store-2",
        "signingAuthority:valid-trust-store-2",
    ];
    for level in ["strict", "permissive"] {
        let v = verify_one(
            &ctx_a(level, &untrusted, IDENTITY_A),
            SCOPE_A,
            &descriptor_a(),
            "application/jose+json",
            &file,
            now(),
        );
        assert_eq!(
            decisive(&v),
            Some((ValidationKind::Authenticity, ReasonCode::UntrustedSigner)),
            "{level}"
        );
    }
    let v = verify_one(
        &ctx_a("audit", &untrusted, IDENTITY_A),
        SCOPE_A,
        &descriptor_a(),
        "application/jose+json",
        &file,
        now(),
    );
    assert_eq!(v.outcome, Outcome::Verified, "audit only logs authenticity");
    assert!(logged(&v).contains(&ValidationKind::Authenticity));

    let wrong = "x509.subject:CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN";
    let v = verify_one(
        &ctx_a("strict", &STORES_A, wrong),
        SCOPE_A,
        &descriptor_a(),
        "application/jose+json",
        &file,
        now(),
    );
    assert_eq!(
        decisive(&v),
        Some((ValidationKind::Authenticity, ReasonCode::IdentityMismatch))
    );
}

#[test]
fn ctx_a_wrong_descriptor_and_unknown_media_type_fail() {
    let file = envelope_a("ca_valid_sig_env.json");
    let mut other = descriptor_a();
    other.size = 529;
    let v = verify_one(
        &ctx_a("audit", &STORES_A, IDENTITY_A),
        SCOPE_A,
        &other,
        "application/jose+json",
        &file,
        now(),
    );
    assert_eq!(decisive(&v).map(|d| d.1), Some(ReasonCode::DigestMismatch));
    let v = verify_one(
        &ctx_a("strict", &STORES_A, IDENTITY_A),
        SCOPE_A,
        &descriptor_a(),
        "application/unsupported+json",
        &file,
        now(),
    );
    assert_eq!(decisive(&v).map(|d| d.0), Some(ValidationKind::Integrity));
    let v = verify_one(
        &ctx_a("strict", &STORES_A, IDENTITY_A),
        "registry.acme-rockets.io/software/other",
        &descriptor_a(),
        "application/jose+json",
        &file,
        now(),
    );
    assert_eq!(v.failure.unwrap().reason, ReasonCode::NoApplicablePolicy);
}

/// The envelope's own payload target: the timestamp vectors' tests only
/// exercise the timestamp step, so any artifact they name will do.
fn own_target(media_type: &str, bytes: &[u8]) -> Descriptor {
    envelope::parse_and_verify(media_type, bytes)
        .unwrap()
        .payload
        .target
}

fn ctx_ts(verify_timestamp: &str, tsa: bool) -> Verifier {
    let mut stores = vec!["ca:valid-trust-store"];
    if tsa {
        stores.push("tsa:test-timestamp");
    }
    let policy = TrustPolicy::from_document(
        &serde_json::from_value(json!({"version": "1.0", "trustPolicies": [{
            "name": "ts", "registryScopes": ["*"],
            // authenticity logged: like notation-go's test, which calls only the
            // timestamp step, the leaf of some vectors is in no store.
            "signatureVerification": {"level": "strict", "verifyTimestamp": verify_timestamp,
                                      "override": {"authenticity": "log"}},
            "trustStores": stores, "trustedIdentities": ["*"]}]}))
        .unwrap(),
    )
    .unwrap();
    let mut wanted = vec![(StoreType::Ca, "valid-trust-store")];
    if tsa {
        wanted.push((StoreType::Tsa, "test-timestamp"));
    }
    Verifier::new(policy, load_stores(&testdata("notation-go"), &wanted))
}

#[test]
fn timestamp_envelopes_offline() {
    let dir = "notation-go/timestamp/sigEnv";
    let check = |file: &str, verifier: &Verifier, want: Result<(), ReasonCode>| {
        let bytes = read(&format!("{dir}/{file}"));
        let mt = if file.starts_with("cose") || file.starts_with("timestampAfter") {
            "application/cose"
        } else {
            "application/jose+json"
        };
        let mt = match envelope::parse_and_verify(mt, &bytes) {
            Ok(_) => mt,
            Err(_) => {
                if mt == "application/cose" {
                    "application/jose+json"
                } else {
                    "application/cose"
                }
            }
        };
        let v = verify_one(
            verifier,
            "example.com/ts",
            &own_target(mt, &bytes),
            mt,
            &bytes,
            now(),
        );
        match want {
            Ok(()) => assert_eq!(v.outcome, Outcome::Verified, "{file}: {:?}", v.failure),
            Err(reason) => {
                assert_eq!(v.outcome, Outcome::Failed, "{file}");
                let ts = v.signatures[0]
                    .validations
                    .iter()
                    .find(|x| x.kind == ValidationKind::AuthenticTimestamp)
                    .map(|x| x.outcome.clone());
                assert!(
                    matches!(&ts, Some(CheckOutcome::Failed { reason: r, .. }) if *r == reason),
                    "{file}: {ts:?}"
                );
            }
        }
    };
    let always = ctx_ts("always", true);
    // GlobalSign's TSA chain names OCSP/CRL locations; offline its status is
    // unknown, and notation-go always checks TSA revocation.
    check(
        "jwsWithTimestamp.sig",
        &always,
        Err(ReasonCode::RevocationUnknown),
    );
    check(
        "coseWithTimestamp.sig",
        &always,
        Err(ReasonCode::RevocationUnknown),
    );
    check(
        "withoutTimestamp.sig",
        &always,
        Err(ReasonCode::TimestampInvalid),
    );
    check(
        "timestampAfterNotAfter.sig",
        &always,
        Err(ReasonCode::TimestampInvalid),
    );
    check(
        "timestampBeforeNotBefore.sig",
        &always,
        Err(ReasonCode::TimestampInvalid),
    );
    // afterCertExpiry: the leaf is valid until 2033, the token is not used.
    let after = ctx_ts("afterCertExpiry", true);
    check("jwsWithTimestamp.sig", &after, Ok(()));
    check("coseWithTimestamp.sig", &after, Ok(()));
    // No tsa store: no countersignature needed while the leaf is valid.
    check("withoutTimestamp.sig", &ctx_ts("always", false), Ok(()));
}

#[test]
fn examples_verify() {
    // Example_localVerify (COSE).
    let policy = TrustPolicy::from_document(
        &serde_json::from_value(json!({"version": "1.0", "trustPolicies": [{
            "name": "example", "registryScopes": ["example/software"],
            "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
            "trustStores": ["ca:valid-trust-store"], "trustedIdentities": ["*"]}]}))
        .unwrap(),
    )
    .unwrap();
    let verifier = Verifier::new(
        policy,
        load_stores(
            &testdata("notation-go/examples/local-verify-cose"),
            &[(StoreType::Ca, "valid-trust-store")],
        ),
    );
    let descriptor = Descriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:c0d488a800e4127c334ad20d61d7bc21b4097540327217dfab52262adc02380c".into(),
        size: 528,
    };
    let bytes = read("notation-go/examples/local-verify-cose/signature.cose");
    let v = verify_one(
        &verifier,
        "example/software",
        &descriptor,
        "application/cose",
        &bytes,
        now(),
    );
    assert_eq!(v.outcome, Outcome::Verified, "{:?}", v.failure);

    // The OCI layout signatures (JWS and COSE over the same manifest).
    let manifest = read("notation-go/oci-layout-signatures/oci-layout/blobs/sha256/19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0");
    let descriptor = Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0".into(),
        size: manifest.len() as u64,
    };
    for (file, mt) in [
        ("jws_signature.sig", "application/jose+json"),
        ("cose_signature.sig", "application/cose"),
    ] {
        let bytes = read(&format!("notation-go/oci-layout-signatures/{file}"));
        let v = verify_one(
            &verifier,
            "example/software",
            &descriptor,
            mt,
            &bytes,
            now(),
        );
        assert_eq!(v.outcome, Outcome::Verified, "{file}: {:?}", v.failure);
    }
}
