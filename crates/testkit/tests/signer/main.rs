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

mod payload;
mod pki;
mod timestamps;

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
