//! Hostile bundles and envelopes through the built module: each ends in a
//! clean denial with its reason code, under runtime limits that wasmtime
//! itself enforces (policy-server's 2 s evaluation deadline through epoch
//! interruption, and a 64 MiB cap on the guest's linear memory). Hitting
//! either is a `HostError` (`DeadlineExceeded`, `MemoryLimit`), never a
//! denial, so a case that only "passes" by running out of budget fails
//! here. Host answers come from memory so that only the guest's work counts.
//!
//! The bundle-level forgeries that need a real registry (an edited envelope
//! copy, a subject naming another image, another artifact type, a bundle
//! copied into another repository) are in `tests/admission.rs`.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use notation_verifier::bundle;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::host::{Evaluation, HostError, HostOptions, MemoryBackend, PolicyHost, RuntimeLimits};
use testkit::pki::{default_leaf_subject, unowned_rsa_spki, KeyKind, TestPki};
use testkit::signer::{
    jws_with_signature, sign_jws, SignOptions, SigningCredentials, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS,
};

const REPO: &str = "registry.example.com/hostile/app";
const MIB: usize = 1024 * 1024;

fn descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

/// The policy compiled once per test binary, under the adversarial limits.
fn limited() -> &'static PolicyHost {
    static HOST: OnceLock<PolicyHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let options = HostOptions {
            cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
            ..HostOptions::default()
        };
        PolicyHost::load_limited(&policy_wasm(), &options, RuntimeLimits::adversarial()).unwrap()
    })
}

/// The limited module with a bundle `manifest` for REPO:v1.
fn host_with(manifest: &Value) -> PolicyHost {
    let memory = Arc::new(MemoryBackend::new());
    memory
        .set_digest(&format!("{REPO}:v1"), IMAGE_DIGEST)
        .unwrap();
    let tag = format!("{REPO}:{}", bundle::bundle_tag(IMAGE_DIGEST).unwrap());
    memory.put_manifest(&tag, manifest).unwrap();
    limited().clone().with_backend(memory)
}

fn layers_of(media_type: &str, envelopes: &[Vec<u8>]) -> Value {
    let layers: Vec<_> = envelopes
        .iter()
        .map(|e| {
            bundle::layer_for(
                media_type,
                e.clone(),
                "sha256:5555555555555555555555555555555555555555555555555555555555555555",
                None,
            )
        })
        .collect();
    bundle::build_manifest(&descriptor(), &layers, Utc::now())
}

fn envelope_layers(envelopes: &[Vec<u8>]) -> Value {
    layers_of(MEDIA_TYPE_JWS, envelopes)
}

/// The reason code of the (single) image's denial: the policy writes
/// `- <image>: <CODE>: <detail>` for each image it denies.
fn reason_code(e: &Evaluation) -> String {
    let text = message(e);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("- {REPO}:v1: ")))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default()
        .to_string()
}

/// Denied with reason code `reason`, answered within the runtime limits:
/// a deadline or memory-cap hit fails the test.
fn denied_with(case: &str, manifest: &Value, settings: &Value, reason: &str) -> Evaluation {
    let host = host_with(manifest);
    let start = Instant::now();
    let result = host.validate(&create_pod(&[&format!("{REPO}:v1")]), settings);
    let took = start.elapsed();
    let e = match result {
        Ok(e) => e,
        Err(error @ HostError::DeadlineExceeded { .. }) => {
            panic!("{case}: the runtime deadline fired instead of a denial: {error}")
        }
        Err(error @ HostError::MemoryLimit { .. }) => {
            panic!("{case}: the memory cap was hit instead of a denial: {error}")
        }
        Err(error) => panic!("{case}: a trap or host failure, not a denial: {error}"),
    };
    let text: String = message(&e).chars().take(240).collect();
    eprintln!("{case}: {reason} in {took:?}: {text}");
    assert!(!e.response.accepted, "{case}: admitted");
    assert_eq!(reason_code(&e), reason, "{case}: {}", message(&e));
    assert_eq!(
        e.refused_memory_bytes, None,
        "{case}: the guest ran into the memory cap"
    );
    e
}

fn denied(case: &str, manifest: &Value, reason: &str) -> Evaluation {
    denied_with(case, manifest, &settings(), reason)
}

/// A test PKI (fast P-256 CAs) and settings that trust its root.
fn test_pki() -> (TestPki, Value) {
    let pki = TestPki::builder(KeyKind::P256)
        .name("adversarial")
        .build()
        .unwrap();
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "adversarial", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:adversarial"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"adversarial": pki.root_pem()}},
    });
    (pki, settings)
}

#[test]
fn a_thousand_layers_are_cut_at_max_signatures() {
    let garbage: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    denied(
        "1,000 layers",
        &envelope_layers(&garbage),
        "SIGNATURE_LIMIT_REACHED",
    );
}

#[test]
fn a_four_mib_envelope_and_deep_json_are_refused() {
    let mut big = b"{\"payload\":\"".to_vec();
    big.resize(4 * MIB + 16, b'A');
    big.extend_from_slice(b"\"}");
    denied("4 MiB envelope", &envelope_layers(&[big]), "INVALID_BUNDLE");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    denied(
        "JSON array nested 100,000 deep",
        &envelope_layers(&[deep]),
        "MALFORMED_ENVELOPE",
    );
    // The nesting inside a JWS object, in an unknown header member: skipped
    // without recursion, then the envelope is refused for what it lacks.
    let deep = format!(
        "{{\"payload\":\"e30\",\"protected\":\"e30\",\"signature\":\"AA\",\"header\":{{\"x\":{}{}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    )
    .into_bytes();
    denied(
        "JWS header nested 100,000 deep",
        &envelope_layers(&[deep]),
        "MALFORMED_ENVELOPE",
    );
}

#[test]
fn base64_garbage_duplicates_and_long_chains_are_denied() {
    let mut garbage = envelope_layers(&[b"{}".to_vec()]);
    garbage["layers"][0]["annotations"]["dev.vns.notation.envelope"] =
        json!("%%%% not base64 %%%%");
    denied("base64 garbage", &garbage, "INVALID_BUNDLE");

    // The same (invalid) envelope a hundred times: cut at maxSignatures,
    // each of the ten tried is malformed.
    let dup =
        vec![b"{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\"}".to_vec(); 100];
    let e = denied(
        "100 duplicated layers",
        &envelope_layers(&dup),
        "SIGNATURE_LIMIT_REACHED",
    );
    assert!(
        message(&e).contains("MALFORMED_ENVELOPE"),
        "{}",
        message(&e)
    );

    // A well-formed JWS whose x5c holds 50 certificates (a leaf of the
    // test PKI repeated): refused at the chain-length bound, before any
    // path building.
    let (pki, settings) = test_pki();
    let chain: Vec<&[u8]> = (0..50).map(|_| pki.leaf.cert.der()).collect();
    let jws = jws_with_signature(
        &chain,
        &descriptor(),
        &SignOptions::at(Utc::now()),
        "ES256",
        &[7; 64],
    )
    .unwrap();
    let e = denied_with(
        "50-certificate chain",
        &envelope_layers(&[jws]),
        &settings,
        "INVALID_CERTIFICATE_CHAIN",
    );
    assert!(message(&e).contains("50"), "{}", message(&e));
}

#[test]
fn a_16384_bit_rsa_leaf_is_refused_before_any_arithmetic() {
    let (pki, settings) = test_pki();
    let leaf = pki
        .issue_leaf_for_spki(
            &default_leaf_subject("adversarial 16k"),
            unowned_rsa_spki(16_384, 16_384).unwrap(),
        )
        .unwrap();
    let chain = [leaf.der(), pki.intermediate.cert.der(), pki.root.cert.der()];
    // A 16,384-bit RSA signature is 2,048 bytes; its value is irrelevant.
    let signature: Vec<u8> = (0..2048u32).map(|i| (i * 7 + 1) as u8).collect();
    let jws = jws_with_signature(
        &chain,
        &descriptor(),
        &SignOptions::at(Utc::now()),
        "PS512",
        &signature,
    )
    .unwrap();
    let e = denied_with(
        "16,384-bit RSA leaf",
        &envelope_layers(&[jws]),
        &settings,
        "INVALID_CERTIFICATE_CHAIN",
    );
    assert!(
        message(&e).contains("rsa key size 16384 bits is not supported"),
        "{}",
        message(&e)
    );
}

#[test]
fn an_envelope_signed_for_another_artifact_is_a_digest_mismatch() {
    let (pki, settings) = test_pki();
    let other = Descriptor {
        digest: format!("sha256:{}", "7".repeat(64)),
        ..descriptor()
    };
    let jws = sign_jws(
        &SigningCredentials::from_pki(&pki),
        &other,
        &SignOptions::at(Utc::now()),
    )
    .unwrap();
    // The same envelope signed for the image itself is admitted, so the
    // denial below is the digest and nothing else.
    let good = sign_jws(
        &SigningCredentials::from_pki(&pki),
        &descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .unwrap();
    let e = host_with(&envelope_layers(&[good]))
        .validate(&create_pod(&[&format!("{REPO}:v1")]), &settings)
        .unwrap();
    assert!(e.response.accepted, "{}", message(&e));

    denied_with(
        "payload names another digest",
        &envelope_layers(&[jws]),
        &settings,
        "DIGEST_MISMATCH",
    );
}

#[test]
fn a_layer_digest_that_is_not_its_copy_is_an_invalid_bundle() {
    let (pki, settings) = test_pki();
    let jws = sign_jws(
        &SigningCredentials::from_pki(&pki),
        &descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .unwrap();
    // The copy is intact (and would verify); the layer names other bytes.
    let mut manifest = envelope_layers(&[jws]);
    manifest["layers"][0]["digest"] = json!(format!("sha256:{}", "6".repeat(64)));
    denied_with(
        "layer digest is not the copy's",
        &manifest,
        &settings,
        "INVALID_BUNDLE",
    );
}

#[test]
fn deep_and_huge_cbor_in_a_cose_envelope_is_malformed() {
    // COSE_Sign1 tag, then 100,000 nested one-element arrays.
    let mut deep = vec![0xd2];
    deep.extend(std::iter::repeat_n(0x81, 100_000));
    deep.push(0x00);
    denied(
        "CBOR nested 100,000 deep",
        &layers_of(MEDIA_TYPE_COSE, &[deep]),
        "MALFORMED_ENVELOPE",
    );
    // The nesting inside a well-shaped COSE_Sign1, in the unprotected
    // header, where a decoder has to descend: [h'', {1: [[[...]]]}, h'', h''].
    let mut deep = vec![0xd2, 0x84, 0x40, 0xa1, 0x01];
    deep.extend(std::iter::repeat_n(0x81, 100_000));
    deep.extend([0x00, 0x40, 0x40]);
    denied(
        "COSE header nested 100,000 deep",
        &layers_of(MEDIA_TYPE_COSE, &[deep]),
        "MALFORMED_ENVELOPE",
    );

    // A COSE_Sign1 whose protected header claims 2^64-1 bytes.
    let mut huge_bytes = vec![0xd2, 0x84, 0x5b];
    huge_bytes.extend([0xff; 8]);
    huge_bytes.extend([0u8; 16]);
    denied(
        "CBOR byte string of 2^64-1 bytes",
        &layers_of(MEDIA_TYPE_COSE, &[huge_bytes]),
        "MALFORMED_ENVELOPE",
    );

    // An unprotected header value that claims 2^64-1 elements.
    let mut huge_array = vec![0xd2, 0x84, 0x40, 0xa1, 0x01, 0x9b];
    huge_array.extend([0xff; 8]);
    huge_array.extend([0x00; 16]);
    denied(
        "CBOR array of 2^64-1 elements",
        &layers_of(MEDIA_TYPE_COSE, &[huge_array]),
        "MALFORMED_ENVELOPE",
    );
}

/// The limits are really on: a deadline far below what an evaluation needs
/// interrupts the policy instead of letting it finish.
#[test]
fn the_runtime_deadline_is_enforced_on_the_policy() {
    let options = HostOptions {
        cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
        ..HostOptions::default()
    };
    let limits = RuntimeLimits {
        deadline: Some(Duration::from_millis(1)),
        ..RuntimeLimits::adversarial()
    };
    let host = PolicyHost::load_limited(&policy_wasm(), &options, limits).unwrap();
    let mut big = b"{\"payload\":\"".to_vec();
    big.resize(4 * MIB, b'A');
    big.extend_from_slice(b"\"}");
    let memory = Arc::new(MemoryBackend::new());
    memory
        .set_digest(&format!("{REPO}:v1"), IMAGE_DIGEST)
        .unwrap();
    let tag = format!("{REPO}:{}", bundle::bundle_tag(IMAGE_DIGEST).unwrap());
    memory.put_manifest(&tag, &envelope_layers(&[big])).unwrap();
    let error = host
        .with_backend(memory)
        .validate(&create_pod(&[&format!("{REPO}:v1")]), &settings())
        .unwrap_err();
    assert!(
        matches!(error, HostError::DeadlineExceeded { .. }),
        "{error}"
    );
}
