//! Hostile bundles and envelopes through the built module: each ends in a
//! clean denial with a reason (no trap, no unbounded work). Host answers come
//! from memory so that only the guest's work is measured.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use notation_verifier::bundle;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::host::{HostOptions, MemoryBackend, PolicyHost};

const REPO: &str = "registry.example.com/hostile/app";

fn descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

/// The module with a bundle `manifest` for REPO:v1.
fn host_with(manifest: &Value) -> PolicyHost {
    let memory = Arc::new(MemoryBackend::new());
    memory
        .set_digest(&format!("{REPO}:v1"), IMAGE_DIGEST)
        .unwrap();
    let tag = format!("{REPO}:{}", bundle::bundle_tag(IMAGE_DIGEST).unwrap());
    memory.put_manifest(&tag, manifest).unwrap();
    let options = HostOptions {
        cache_dir: Some(
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache"),
        ),
        ..HostOptions::default()
    };
    PolicyHost::load_with(&policy_wasm(), &options)
        .unwrap()
        .with_backend(memory)
}

fn envelope_layers(envelopes: &[Vec<u8>]) -> Value {
    let layers: Vec<_> = envelopes
        .iter()
        .map(|e| {
            bundle::layer_for(
                "application/jose+json",
                e.clone(),
                "sha256:5555555555555555555555555555555555555555555555555555555555555555",
                None,
            )
        })
        .collect();
    bundle::build_manifest(&descriptor(), &layers, chrono::Utc::now())
}

/// Denied, with `reason` in the message, within `limit`.
fn denied(manifest: &Value, reason: &str, limit: Duration) {
    let host = host_with(manifest);
    let start = Instant::now();
    let e = host
        .validate(&create_pod(&[&format!("{REPO}:v1")]), &settings())
        .expect("a clean answer, not a trap");
    let took = start.elapsed();
    assert!(!e.response.accepted);
    assert!(message(&e).contains(reason), "{}", message(&e));
    assert!(took < limit, "took {took:?}");
}

#[test]
fn a_thousand_layers_are_cut_at_max_signatures() {
    let garbage: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    denied(
        &envelope_layers(&garbage),
        "SIGNATURE_LIMIT_REACHED",
        Duration::from_secs(5),
    );
}

#[test]
fn a_four_mib_envelope_and_deep_json_are_refused() {
    let mut big = b"{\"payload\":\"".to_vec();
    big.resize(4 * 1024 * 1024 + 16, b'A');
    big.extend_from_slice(b"\"}");
    denied(
        &envelope_layers(&[big]),
        "INVALID_BUNDLE",
        Duration::from_secs(10),
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    denied(
        &envelope_layers(&[deep]),
        "MALFORMED_ENVELOPE",
        Duration::from_secs(5),
    );
}

#[test]
fn base64_garbage_duplicates_and_long_chains_are_denied() {
    let mut garbage = envelope_layers(&[b"{}".to_vec()]);
    garbage["layers"][0]["annotations"]["dev.vns.notation.envelope"] =
        json!("%%%% not base64 %%%%");
    denied(&garbage, "INVALID_BUNDLE", Duration::from_secs(5));

    // The same (invalid) envelope a hundred times.
    let dup =
        vec![b"{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\"}".to_vec(); 100];
    denied(
        &envelope_layers(&dup),
        "MALFORMED_ENVELOPE",
        Duration::from_secs(5),
    );

    // A JWS whose x5c holds 50 certificates (the e2e certificate repeated).
    let pem = e2e_cert("upstream/e2e.crt");
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let x5c: Vec<String> = (0..50)
        .map(|_| base64::engine::general_purpose::STANDARD.encode(&der))
        .collect();
    let jws = json!({"protected": "eyJhbGciOiJQUzI1NiJ9", "payload": "e30", "signature": "AAAA", "header": {"x5c": x5c}});
    denied(
        &envelope_layers(&[serde_json::to_vec(&jws).unwrap()]),
        "signature",
        Duration::from_secs(5),
    );
}
