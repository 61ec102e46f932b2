//! The test PKI, TSA and signer, checked with the real verifier as the
//! oracle: if `notation-verifier` (which follows notation-go) accepts what
//! testkit signs, and rejects it for the right reason when the PKI or the
//! options say it should, integration tests can rely on testkit envelopes.
//!
//! Most cases use P-256 and RSA-2048 to stay fast; one test covers all six
//! key kinds.

use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use notation_verifier::cert::{eku, Certificate};
use notation_verifier::chain::{validate_code_signing_chain, validate_timestamping_chain};
use notation_verifier::envelope::{parse_and_verify, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS};
use notation_verifier::revocation::RevocationMaterial;
use notation_verifier::trust_policy::TrustPolicy;
use notation_verifier::trust_store::{TrustStores, TrustStoresPem};
use notation_verifier::verdict::{Outcome, ReasonCode, Verdict};
use notation_verifier::verify::{Descriptor, Limits, Signature, VerificationInput, Verifier};
use testkit::pki::{KeyKind, PrivateKey, TestPki, TsaPki};
use testkit::signer::{
    sha256_digest, sign_cose, sign_jws, signature_manifest, SignOptions, OCI_EMPTY_CONFIG,
    OCI_EMPTY_DIGEST, THUMBPRINT_ANNOTATION,
};
use testkit::tsa::{TestTsa, TimestampOptions};

const REPOSITORY: &str = "registry.example.com/testkit/app";
const MEDIA_TYPES: [&str; 2] = [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE];

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// Inside the default validity (2020-2099) of every certificate.
fn now() -> DateTime<Utc> {
    at(2030, 1, 1)
}

fn image() -> Descriptor {
    let manifest =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: sha256_digest(manifest),
        size: manifest.len() as u64,
    }
}

fn sign(media_type: &str, pki: &TestPki, options: &SignOptions<'_>) -> Vec<u8> {
    match media_type {
        MEDIA_TYPE_JWS => sign_jws(&pki.credentials(), &image(), options).unwrap(),
        _ => sign_cose(&pki.credentials(), &image(), options).unwrap(),
    }
}

/// A strict policy for REPOSITORY trusting the `ca` store `signer` (holding
/// `ca_root`), and, when given, the `tsa` store `timestamper`.
fn verifier(
    ca_root: &str,
    tsa_root: Option<&str>,
    verify_timestamp: Option<&str>,
    identity: &str,
) -> Verifier {
    let mut stores = vec!["ca:signer"];
    let mut pem = TrustStoresPem::default();
    pem.ca.insert("signer".into(), ca_root.into());
    if let Some(root) = tsa_root {
        stores.push("tsa:timestamper");
        pem.tsa.insert("timestamper".into(), root.into());
    }
    let mut verification = serde_json::json!({ "level": "strict" });
    if let Some(v) = verify_timestamp {
        verification["verifyTimestamp"] = v.into();
    }
    let policy = serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "testkit",
            "registryScopes": [REPOSITORY],
            "signatureVerification": verification,
            "trustStores": stores,
            "trustedIdentities": [identity],
        }]
    });
    Verifier::new(
        TrustPolicy::from_json(&policy.to_string()).unwrap(),
        TrustStores::from_pem(&pem).unwrap(),
    )
}

const IDENTITY: &str = "x509.subject: C=US, ST=WA, O=Notation Test";

fn ca_verifier(pki: &TestPki) -> Verifier {
    verifier(pki.root_pem(), None, None, IDENTITY)
}

fn verify(verifier: &Verifier, media_type: &str, envelope: &[u8], time: DateTime<Utc>) -> Verdict {
    verify_for(verifier, media_type, envelope, time, &image())
}

fn verify_for(
    verifier: &Verifier,
    media_type: &str,
    envelope: &[u8],
    time: DateTime<Utc>,
    descriptor: &Descriptor,
) -> Verdict {
    let material = RevocationMaterial::default();
    let signatures = [Signature {
        media_type,
        envelope,
    }];
    verifier.verify(&VerificationInput {
        repository: REPOSITORY,
        descriptor,
        signatures: &signatures,
        time,
        revocation: &material,
        limits: Limits::default(),
    })
}

fn assert_verified(verdict: &Verdict, what: &str) {
    assert_eq!(
        verdict.outcome,
        Outcome::Verified,
        "{what}: {:?}",
        verdict.failure
    );
    let passing = verdict.passing_signature().unwrap();
    assert_eq!(
        passing.logged_failures().count(),
        0,
        "{what}: {:?}",
        passing.validations
    );
}

fn assert_failed(verdict: &Verdict, reason: ReasonCode, what: &str) {
    assert_eq!(verdict.outcome, Outcome::Failed, "{what}");
    let failure = verdict.failure.as_ref().unwrap();
    assert_eq!(failure.reason, reason, "{what}: {}", failure.message);
}

#[test]
fn every_key_kind_signs_jws_and_cose_that_verify() {
    // The leaf kind decides the envelope algorithm; the CAs of the two big
    // RSA kinds are P-256 because generating RSA-3072/4096 keys takes
    // minutes in a debug build (once: keys are cached under target/).
    // Chains are built in parallel for the same reason.
    let pkis: Vec<TestPki> = std::thread::scope(|scope| {
        let handles: Vec<_> = KeyKind::ALL
            .into_iter()
            .map(|kind| {
                scope.spawn(move || {
                    let started = Instant::now();
                    let ca_kind = match kind {
                        KeyKind::Rsa3072 | KeyKind::Rsa4096 => KeyKind::P256,
                        other => other,
                    };
                    let pki = TestPki::builder(kind).ca_key_kind(ca_kind).build().unwrap();
                    println!("{kind}: PKI ready in {:?}", started.elapsed());
                    pki
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (kind, pki) in KeyKind::ALL.into_iter().zip(&pkis) {
        assert_eq!(pki.kind(), kind);
        assert_eq!(pki.leaf_key().kind(), kind);
        let signing_time = Utc.with_ymd_and_hms(2029, 5, 6, 7, 8, 9).unwrap();
        let options = SignOptions::at(signing_time);
        for media_type in MEDIA_TYPES {
            let envelope = sign(media_type, pki, &options);
            let env = parse_and_verify(media_type, &envelope)
                .unwrap_or_else(|e| panic!("{kind} {media_type}: {e}"));
            assert_eq!(
                env.algorithm.jws_name(),
                kind.jws_alg(),
                "{kind} {media_type}"
            );
            assert_eq!(
                env.algorithm.cose_id(),
                kind.cose_alg(),
                "{kind} {media_type}"
            );
            assert_eq!(env.payload.target, image(), "{kind} {media_type}");
            assert!(env.payload.annotations.is_empty());
            assert_eq!(env.signing_time, signing_time);
            assert_eq!(env.expiry, None);
            assert_eq!(env.timestamp_token, None);
            let chain: Vec<&[u8]> = env.chain.iter().map(|c| c.der()).collect();
            let expected: Vec<&[u8]> = pki.chain().iter().map(|c| c.der()).collect();
            assert_eq!(chain, expected, "{kind} {media_type}: chain leaf first");
            // ECDSA signatures are raw R || S of the curve's width.
            let width = match kind {
                KeyKind::P256 => Some(64),
                KeyKind::P384 => Some(96),
                KeyKind::P521 => Some(132),
                _ => None,
            };
            if let Some(width) = width {
                assert_eq!(env.signature.len(), width, "{kind} {media_type}");
            }
            let verdict = verify(&ca_verifier(pki), media_type, &envelope, now());
            assert_verified(&verdict, &format!("{kind} {media_type}"));
        }
    }
}

#[test]
fn certificates_follow_the_notary_project_profiles() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let chain: Vec<Certificate> = pki
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.der()).unwrap())
        .collect();
    validate_code_signing_chain(&chain).unwrap();
    let [leaf, intermediate, root] = [&chain[0], &chain[1], &chain[2]];
    for ca in [intermediate, root] {
        let bc = ca.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca, "{}", ca.subject());
        let ku = ca.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.key_cert_sign && ku.value.crl_sign);
        assert!(!ku.value.digital_signature);
    }
    assert!(root.is_self_signed() && root.is_self_issued());
    assert_eq!(
        intermediate
            .basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len,
        Some(0)
    );
    let bc = leaf.basic_constraints().unwrap().unwrap();
    assert!(!bc.value.ca);
    let ku = leaf.key_usage().unwrap().unwrap();
    assert!(ku.critical && ku.value.digital_signature);
    assert!(!ku.value.key_cert_sign && !ku.value.crl_sign && !ku.value.key_encipherment);
    let leaf_eku = leaf.extended_key_usage().unwrap().unwrap();
    assert_eq!(leaf_eku.value, vec![eku::CODE_SIGNING]);
    assert!(leaf.unhandled_critical_extensions().is_empty());
    assert!(leaf.subject().contains("CN=testkit"), "{}", leaf.subject());
    assert!(
        leaf.subject().contains("O=Notation Test"),
        "{}",
        leaf.subject()
    );

    let tsa = TsaPki::new(KeyKind::P256).unwrap();
    let tsa_chain: Vec<Certificate> = tsa
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.der()).unwrap())
        .collect();
    validate_timestamping_chain(&tsa_chain).unwrap();
    let tsa_eku = tsa_chain[0].extended_key_usage().unwrap().unwrap();
    assert!(tsa_eku.critical, "TSA EKU must be critical");
    assert_eq!(tsa_eku.value, vec![eku::TIME_STAMPING]);
    let tsa_ku = tsa_chain[0].key_usage().unwrap().unwrap();
    assert!(tsa_ku.critical && tsa_ku.value.digital_signature);
    assert!(tsa_chain[0].unhandled_critical_extensions().is_empty());
    // Both roots are accepted by the trust store rules (tsa stores are strictest).
    let mut pem = TrustStoresPem::default();
    pem.ca.insert("signer".into(), pki.root_pem().into());
    pem.tsa.insert("timestamper".into(), tsa.root_pem().into());
    TrustStores::from_pem(&pem).unwrap();

    // PEM and DER agree, the chain PEM holds the three certificates in order.
    let parsed = Certificate::parse_pem_bundle(&pki.chain_pem()).unwrap();
    let ders: Vec<&[u8]> = parsed.iter().map(|c| c.der()).collect();
    assert_eq!(
        ders,
        pki.chain_der()
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        pki.leaf.cert.sha256_fingerprint(),
        chain[0].sha256_fingerprint()
    );
    // The private keys round-trip through PKCS#8 (DER and PEM).
    let der = pki.leaf.key.pkcs8_der().unwrap();
    assert_eq!(
        PrivateKey::from_pkcs8_der(&der).unwrap().kind(),
        KeyKind::P256
    );
    assert!(pki
        .root
        .key
        .pkcs8_pem()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn pki_is_deterministic() {
    let a = TestPki::new(KeyKind::P256).unwrap();
    let b = TestPki::new(KeyKind::P256).unwrap();
    assert_eq!(a.chain_der(), b.chain_der());
    let k1 = PrivateKey::generate(KeyKind::P384, 42).unwrap();
    let k2 = PrivateKey::generate(KeyKind::P384, 42).unwrap();
    let k3 = PrivateKey::generate(KeyKind::P384, 43).unwrap();
    assert_eq!(k1.pkcs8_der().unwrap(), k2.pkcs8_der().unwrap());
    assert_ne!(k1.pkcs8_der().unwrap(), k3.pkcs8_der().unwrap());
    // Another name is another PKI: unrelated keys and root.
    let other = TestPki::builder(KeyKind::P256)
        .name("other")
        .build()
        .unwrap();
    assert_ne!(a.root.cert.der(), other.root.cert.der());
    assert_ne!(
        a.root.key.public_key_der().unwrap(),
        other.root.key.public_key_der().unwrap()
    );
}

#[test]
fn untrusted_root_fails_authenticity() {
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let pki = TestPki::new(kind).unwrap();
        let other = TestPki::builder(KeyKind::P256)
            .name("other")
            .build()
            .unwrap();
        for media_type in MEDIA_TYPES {
            let envelope = sign(media_type, &pki, &SignOptions::at(now()));
            let verdict = verify(&ca_verifier(&other), media_type, &envelope, now());
            assert_failed(
                &verdict,
                ReasonCode::UntrustedSigner,
                &format!("{kind} {media_type}"),
            );
        }
    }
}

#[test]
fn leaf_subject_is_settable_and_matched_by_identities() {
    let pki = TestPki::builder(KeyKind::P256)
        .name("custom")
        .leaf_subject("C=DE, ST=Berlin, L=Berlin, O=Elsewhere GmbH, OU=Build, CN=ci-signer")
        .build()
        .unwrap();
    let leaf = Certificate::from_der(pki.leaf.cert.der()).unwrap();
    let dn = leaf.subject_dn().unwrap();
    assert_eq!(dn.get("O").map(String::as_str), Some("Elsewhere GmbH"));
    assert_eq!(dn.get("CN").map(String::as_str), Some("ci-signer"));
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &SignOptions::at(now()));
        let good = verifier(
            pki.root_pem(),
            None,
            None,
            "x509.subject: C=DE, ST=Berlin, O=Elsewhere GmbH, CN=ci-signer",
        );
        assert_verified(&verify(&good, media_type, &envelope, now()), media_type);
        let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::IdentityMismatch, media_type);
    }
}

#[test]
fn expired_leaf_without_timestamp_fails() {
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let pki = TestPki::builder(kind)
            .leaf_validity(at(2021, 1, 1), at(2022, 1, 1))
            .build()
            .unwrap();
        for media_type in MEDIA_TYPES {
            let envelope = sign(media_type, &pki, &SignOptions::at(at(2021, 6, 1)));
            let what = format!("{kind} {media_type}");
            // Integrity does not look at time; the envelope itself is fine.
            parse_and_verify(media_type, &envelope).unwrap();
            let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
            assert_failed(&verdict, ReasonCode::CertExpiredNoTimestamp, &what);
            // Inside the leaf's validity the same envelope verifies.
            let verdict = verify(&ca_verifier(&pki), media_type, &envelope, at(2021, 7, 1));
            assert_verified(&verdict, &what);
        }
    }
}

#[test]
fn expiry_header_is_written_and_enforced() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let options = SignOptions::at(at(2029, 1, 1)).with_expiry(at(2029, 6, 1));
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &options);
        let env = parse_and_verify(media_type, &envelope).unwrap();
        assert_eq!(env.expiry, Some(at(2029, 6, 1)));
        let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::ExpiredSignature, media_type);
        let verdict = verify(&ca_verifier(&pki), media_type, &envelope, at(2029, 2, 1));
        assert_verified(&verdict, media_type);
    }
}

#[test]
fn timestamp_rescues_an_expired_leaf() {
    let leaf_from = at(2021, 1, 1);
    let leaf_until = at(2022, 1, 1);
    for (kind, tsa_kind) in [
        (KeyKind::P256, KeyKind::Rsa2048),
        (KeyKind::Rsa2048, KeyKind::P256),
    ] {
        let pki = TestPki::builder(kind)
            .leaf_validity(leaf_from, leaf_until)
            .build()
            .unwrap();
        let tsa = TestTsa::new(tsa_kind).unwrap();
        let signed_at = at(2021, 6, 1);
        for media_type in MEDIA_TYPES {
            let what = format!("{kind} signer, {tsa_kind} TSA, {media_type}");
            let options = SignOptions::at(signed_at).with_timestamp(&tsa, signed_at);
            let envelope = sign(media_type, &pki, &options);
            let env = parse_and_verify(media_type, &envelope).unwrap();
            assert!(env.timestamp_token.is_some(), "{what}");
            for verify_timestamp in ["afterCertExpiry", "always"] {
                let v = verifier(
                    pki.root_pem(),
                    Some(tsa.root_pem()),
                    Some(verify_timestamp),
                    IDENTITY,
                );
                let verdict = verify(&v, media_type, &envelope, now());
                assert_verified(&verdict, &format!("{what}, {verify_timestamp}"));
                let report = verdict.passing_signature().unwrap();
                assert_eq!(report.timestamp_time, Some(signed_at), "{what}");
            }
            // Without the tsa store the timestamp is not considered.
            let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
            assert_failed(&verdict, ReasonCode::CertExpiredNoTimestamp, &what);
            // A TSA with another root is not trusted.
            let other_tsa = TsaPki::builder(KeyKind::P256)
                .name("other")
                .build()
                .unwrap();
            let v = verifier(
                pki.root_pem(),
                Some(other_tsa.root_pem()),
                Some("afterCertExpiry"),
                IDENTITY,
            );
            let verdict = verify(&v, media_type, &envelope, now());
            assert_failed(&verdict, ReasonCode::TimestampInvalid, &what);
        }
    }
}

#[test]
fn timestamp_outside_leaf_validity_fails() {
    let pki = TestPki::builder(KeyKind::P256)
        .leaf_validity(at(2021, 1, 1), at(2022, 1, 1))
        .build()
        .unwrap();
    let tsa = TestTsa::new(KeyKind::P256).unwrap();
    let v = verifier(
        pki.root_pem(),
        Some(tsa.root_pem()),
        Some("afterCertExpiry"),
        IDENTITY,
    );
    for media_type in MEDIA_TYPES {
        // Stamped after the leaf expired: the timestamp proves nothing.
        let options = SignOptions::at(at(2021, 6, 1)).with_timestamp(&tsa, at(2023, 1, 1));
        let envelope = sign(media_type, &pki, &options);
        let verdict = verify(&v, media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::TimestampInvalid, media_type);
        // Within 1 s (the token's accuracy) of the leaf's notAfter: also fails.
        let options = SignOptions::at(at(2021, 6, 1)).with_timestamp(&tsa, at(2022, 1, 1));
        let envelope = sign(media_type, &pki, &options);
        let verdict = verify(&v, media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::TimestampInvalid, media_type);
    }
}

#[test]
fn tsa_policy_always_requires_a_timestamp() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let tsa = TestTsa::new(KeyKind::P256).unwrap();
    let v = verifier(pki.root_pem(), Some(tsa.root_pem()), None, IDENTITY);
    for media_type in MEDIA_TYPES {
        let plain = sign(media_type, &pki, &SignOptions::at(now()));
        assert_failed(
            &verify(&v, media_type, &plain, now()),
            ReasonCode::TimestampInvalid,
            media_type,
        );
        let stamped = sign(
            media_type,
            &pki,
            &SignOptions::at(now()).with_timestamp(&tsa, now()),
        );
        assert_verified(&verify(&v, media_type, &stamped, now()), media_type);
    }
}

#[test]
fn tsa_tokens_verify_for_every_ec_kind_and_option() {
    for kind in [
        KeyKind::P256,
        KeyKind::P384,
        KeyKind::P521,
        KeyKind::Rsa2048,
    ] {
        let tsa = TestTsa::new(kind).unwrap();
        let root = Certificate::from_der(tsa.pki().root.cert.der()).unwrap();
        let message = b"raw signature bytes";
        let gen_time = Utc.with_ymd_and_hms(2024, 2, 29, 12, 34, 56).unwrap();
        let token = tsa.timestamp(message, gen_time).unwrap();
        let ts = notation_verifier::timestamp::verify_token(&token, message, &[&root])
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ts.gen_time, gen_time);
        assert_eq!(ts.accuracy, chrono::Duration::seconds(1));
        assert_eq!(ts.tsa_chain.len(), 2, "{kind}: TSA leaf then trusted root");
        // The imprint binds the message.
        assert!(
            notation_verifier::timestamp::verify_token(&token, b"other", &[&root]).is_err(),
            "{kind}"
        );
        // Other imprint hashes, no accuracy, root included in the token.
        for imprint_hash in [
            testkit::pki::HashKind::Sha384,
            testkit::pki::HashKind::Sha512,
        ] {
            let options = TimestampOptions {
                imprint_hash,
                accuracy_seconds: None,
                include_root: true,
                ..TimestampOptions::default()
            };
            let token = tsa.timestamp_with(message, gen_time, &options).unwrap();
            let ts = notation_verifier::timestamp::verify_token(&token, message, &[&root])
                .unwrap_or_else(|e| panic!("{kind} {imprint_hash:?}: {e}"));
            assert_eq!(ts.accuracy, chrono::Duration::zero());
        }
    }
}

#[test]
fn annotations_go_into_the_signed_payload() {
    let pki = TestPki::new(KeyKind::Rsa2048).unwrap();
    let options = SignOptions::at(now())
        .with_annotation("io.wabbit-networks.buildId", "123")
        .with_annotation("team", "platform");
    for media_type in MEDIA_TYPES {
        let env = parse_and_verify(media_type, &sign(media_type, &pki, &options)).unwrap();
        assert_eq!(env.payload.annotations.len(), 2);
        assert_eq!(
            env.payload
                .annotations
                .get("io.wabbit-networks.buildId")
                .map(String::as_str),
            Some("123")
        );
        assert_eq!(
            env.signing_agent.as_deref(),
            Some(testkit::signer::DEFAULT_SIGNING_AGENT)
        );
    }
}

#[test]
fn payload_names_the_signed_descriptor() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let mut other = image();
    other.size += 1;
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &SignOptions::at(now()));
        let verdict = verify_for(&ca_verifier(&pki), media_type, &envelope, now(), &other);
        assert_failed(&verdict, ReasonCode::DigestMismatch, media_type);
    }
}

#[test]
fn alg_override_makes_an_integrity_failure() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let credentials = pki.credentials();
    for alg in ["ES384", "PS256", "none"] {
        let envelope = sign_jws(
            &credentials,
            &image(),
            &SignOptions::at(now()).with_jws_alg(alg),
        )
        .unwrap();
        let err = parse_and_verify(MEDIA_TYPE_JWS, &envelope).unwrap_err();
        println!("JWS alg {alg}: {} ({})", err.message, err.reason);
    }
    for alg in [-35, -37, -8] {
        let envelope = sign_cose(
            &credentials,
            &image(),
            &SignOptions::at(now()).with_cose_alg(alg),
        )
        .unwrap();
        let err = parse_and_verify(MEDIA_TYPE_COSE, &envelope).unwrap_err();
        println!("COSE alg {alg}: {} ({})", err.message, err.reason);
    }
    // Writing the key's own algorithm explicitly changes nothing.
    let envelope = sign_jws(
        &credentials,
        &image(),
        &SignOptions::at(now()).with_jws_alg("ES256"),
    )
    .unwrap();
    parse_and_verify(MEDIA_TYPE_JWS, &envelope).unwrap();
    let envelope = sign_cose(
        &credentials,
        &image(),
        &SignOptions::at(now()).with_cose_alg(-7),
    )
    .unwrap();
    parse_and_verify(MEDIA_TYPE_COSE, &envelope).unwrap();
}

#[test]
fn signature_manifest_follows_the_oci_layout() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let signed_at = Utc.with_ymd_and_hms(2029, 3, 4, 5, 6, 7).unwrap();
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &SignOptions::at(signed_at));
        let (manifest, blob) = signature_manifest(&envelope, media_type, &image()).unwrap();
        assert_eq!(blob, envelope);
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(m["schemaVersion"], 2);
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(m["artifactType"], "application/vnd.cncf.notary.signature");
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(m["config"]["digest"], OCI_EMPTY_DIGEST);
        assert_eq!(
            m["config"]["digest"],
            sha256_digest(OCI_EMPTY_CONFIG).as_str()
        );
        assert_eq!(m["config"]["size"], 2);
        let layers = m["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], media_type);
        assert_eq!(layers[0]["digest"], sha256_digest(&envelope).as_str());
        assert_eq!(layers[0]["size"], envelope.len());
        let subject: Descriptor = serde_json::from_value(m["subject"].clone()).unwrap();
        assert_eq!(subject, image());
        let thumbprints: Vec<String> =
            serde_json::from_str(m["annotations"][THUMBPRINT_ANNOTATION].as_str().unwrap())
                .unwrap();
        let expected: Vec<String> = pki.chain().iter().map(|c| c.sha256_fingerprint()).collect();
        assert_eq!(thumbprints, expected);
        assert!(thumbprints.iter().all(|t| t.len() == 64
            && t.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())));
        assert_eq!(
            m["annotations"]["org.opencontainers.image.created"],
            "2029-03-04T05:06:07Z"
        );
    }
    // A malformed envelope still gets a manifest (negative tests push them).
    let (manifest, _) = signature_manifest(b"not an envelope", MEDIA_TYPE_JWS, &image()).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["annotations"][THUMBPRINT_ANNOTATION], "[]");
}
