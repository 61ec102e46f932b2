//! The images, signatures, bundles, admission requests and settings of
//! `make bench-engine` (scripts/bench-engine.sh), made now in a running
//! registry:
//!
//!   bench_engine_fixtures HOST:PORT OUTDIR
//!
//! Writes `OUTDIR/<row>.request.json` and `OUTDIR/<row>.settings.json` for
//! each row and prints the row names, one a line:
//! - `skip`: one image in a `skip` scope (instantiate, settings, decision);
//! - `rsa2048-e2e`: one image signed by the Notation CLI's e2e suite (its
//!   RSA-2048 self-signed certificate), bundled;
//! - `rsa2048-e2e-5`: five such images in five repositories, same key;
//! - `rsa3072-chain`, `p256-chain`, `p384-chain`: one image signed now by
//!   the test PKI (root -> intermediate -> leaf, all of the kind), JWS;
//! - `calls-1`, `calls-2`: what the host calls cost. One unsigned image
//!   whose bundle tag holds a manifest that is not a bundle, by digest (one
//!   host call: the bundle) and by tag (two: the tag, the bundle). Both are
//!   refused right after the bundle is read, before any signature work;
//!   the host caches both answers (they succeed), as it does for signed
//!   images.
//!
//! The registry must be empty: an image signed by an earlier run would
//! carry two signatures.

use std::path::{Path, PathBuf};

use chrono::Utc;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::pki::{KeyKind, TestPki};
use testkit::publish::{get_json, publish_bundle, push_signature, put_json};
use testkit::signer::{sign_jws, SignOptions};

type Failure = Box<dyn std::error::Error>;

fn pod_request(images: &[String]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"containers": containers}});
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "bench", "namespace": "default", "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": pod,
        "dryRun": false,
    })
}

/// Settings trusting one CA certificate (PEM) for every repository.
fn trusting(ca_pem: &str) -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "bench", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:bench"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"bench": ca_pem}},
    })
}

fn write(out: &Path, row: &str, request: &Value, settings: &Value) -> Result<(), Failure> {
    std::fs::write(
        out.join(format!("{row}.request.json")),
        serde_json::to_vec_pretty(request)?,
    )?;
    std::fs::write(
        out.join(format!("{row}.settings.json")),
        serde_json::to_vec_pretty(settings)?,
    )?;
    println!("{row}");
    Ok(())
}

/// Pushes a Notation e2e layout to `repo` and returns `repo:v1` and its
/// manifest's descriptor.
fn push(layout: &str, repo: &str) -> Result<(String, Descriptor), Failure> {
    let pushed = push_layout(&e2e_layout(layout), repo)?;
    let digest = pushed
        .digest_of("v1")
        .ok_or_else(|| format!("{layout} has no v1 tag"))?
        .to_string();
    let (media_type, size) = pushed
        .manifests
        .iter()
        .find(|(d, _, _)| *d == digest)
        .map(|(_, m, s)| (m.clone(), *s))
        .ok_or_else(|| format!("{layout}: no manifest {digest}"))?;
    Ok((
        format!("{repo}:v1"),
        Descriptor {
            media_type,
            digest,
            size,
        },
    ))
}

/// An image signed by the e2e suite, with its bundle published.
/// Returns the image by tag and by digest.
fn e2e_signed(repo: &str) -> Result<(String, String), Failure> {
    let (image, descriptor) = push("e2e-valid-signature", repo)?;
    let (_, signatures) = publish_bundle(&image)?;
    if signatures == 0 {
        return Err(format!("{image}: no signature bundled").into());
    }
    Ok((image, format!("{repo}@{}", descriptor.digest)))
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let [_, registry, out] = args.as_slice() else {
        return Err("usage: bench_engine_fixtures HOST:PORT OUTDIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let e2e_cert = std::fs::read_to_string(testdata::path("notation-e2e/certs/upstream/e2e.crt"))?;

    let (skipped, _) = push("e2e", &format!("{registry}/bench/skip"))?;
    let skip = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "skip", "registryScopes": [format!("{registry}/bench/skip")],
            "signatureVerification": {"level": "skip"}}]},
    });
    write(&out, "skip", &pod_request(&[skipped]), &skip)?;

    let (one, pinned) = e2e_signed(&format!("{registry}/bench/e2e"))?;
    write(
        &out,
        "rsa2048-e2e",
        &pod_request(&[one]),
        &trusting(&e2e_cert),
    )?;
    // The same image by digest, as Pods are once the policy has pinned
    // them: one host call fewer (no tag resolution).
    write(
        &out,
        "rsa2048-e2e-digest",
        &pod_request(&[pinned]),
        &trusting(&e2e_cert),
    )?;

    let five = (0..5)
        .map(|i| e2e_signed(&format!("{registry}/bench/e2e-{i}")).map(|(tagged, _)| tagged))
        .collect::<Result<Vec<_>, _>>()?;
    write(
        &out,
        "rsa2048-e2e-5",
        &pod_request(&five),
        &trusting(&e2e_cert),
    )?;

    for (row, kind) in [
        ("rsa3072-chain", KeyKind::Rsa3072),
        ("p256-chain", KeyKind::P256),
        ("p384-chain", KeyKind::P384),
    ] {
        let pki = TestPki::new(kind)?;
        let repo = format!("{registry}/bench/{row}");
        let (image, descriptor) = push("e2e", &repo)?;
        let envelope = sign_jws(
            &pki.credentials(),
            &descriptor,
            &SignOptions::at(Utc::now()),
        )?;
        push_signature(&repo, &descriptor, "application/jose+json", &envelope)?;
        let (_, signatures) = publish_bundle(&image)?;
        if signatures != 1 {
            return Err(format!(
                "{image}: {signatures} signatures bundled, not 1: the registry already held a signature of this image (from an earlier run?); start from an empty registry"
            )
            .into());
        }
        write(&out, row, &pod_request(&[image]), &trusting(pki.root_pem()))?;
    }

    // The image manifest itself under the bundle tag: read_bundle refuses
    // it at once (no artifactType), so the rows measure the host calls.
    let repo = format!("{registry}/bench/calls");
    let (tagged, descriptor) = push("e2e", &repo)?;
    let manifest = get_json(&repo, &descriptor.digest)?
        .ok_or_else(|| format!("{repo}@{}: not found after the push", descriptor.digest))?;
    let bundle_tag = notation_verifier::bundle::bundle_tag(&descriptor.digest)?;
    put_json(&repo, &bundle_tag, &manifest)?;
    let pinned = format!("{repo}@{}", descriptor.digest);
    write(
        &out,
        "calls-1",
        &pod_request(&[pinned]),
        &trusting(&e2e_cert),
    )?;
    write(
        &out,
        "calls-2",
        &pod_request(&[tagged]),
        &trusting(&e2e_cert),
    )?;
    Ok(())
}
