//! `make bench`: one table, measured in one run on this machine.
//!
//! - per algorithm: native time per verify (criterion's estimate from
//!   `cargo bench -p notation-verifier`, else a loop here), the same request
//!   evaluated by the built module in wasmtime (fresh instance per request,
//!   host answers from memory) and natively (same code, same request), with
//!   the ratio wasm/native, and `openssl speed` for the same primitive;
//! - per primitive: the RSA public operation and ECDSA verification, the
//!   crates we replaced against ours, native and in wasm, against openssl;
//! - the policy end to end: Pods with 1, 5 and 20 distinct signed images,
//!   5 images through one all-RSA-3072 chain (and through the synthetic
//!   chain, whose intermediate is P-384) and through 5 chains, peak guest
//!   memory, module size, registry round trips per image on a cold host.

mod fixture;
mod measure;
mod primitives;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use notation_verifier::verify::Descriptor;
use serde_json::json;
use testkit::host::{HostOptions, PolicyHost};

use fixture::{policy_wasm, read, request, settings, synthetic, Fixture};
use measure::{criterion_ns, native_eval, us, wasm_eval};
use primitives::{openssl_verify_us, print_primitive, ECDSA_VERIFY, RSA_PUBLIC};

fn main() {
    let wasm = policy_wasm();
    let module_size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    let mut fixture = Fixture::new();
    let root = synthetic();
    let descriptor: Descriptor =
        serde_json::from_slice(&read(&root.join("artifact/descriptor.json"))).expect("descriptor");
    let ca = String::from_utf8(read(
        &root.join("truststore/x509/ca/synthetic-root/root.pem"),
    ))
    .expect("pem");
    let tsa = String::from_utf8(read(
        &root.join("truststore/x509/tsa/synthetic-tsa/tsa-root.pem"),
    ))
    .expect("pem");
    let cases = [
        (
            "rsa2048-PS256",
            "valid/jws-rsa2048-PS256.jws",
            "rsa2048",
            false,
        ),
        (
            "rsa3072-PS384",
            "valid/jws-rsa3072-PS384.jws",
            "rsa3072",
            false,
        ),
        (
            "rsa4096-PS512",
            "valid/jws-rsa4096-PS512.jws",
            "rsa4096",
            false,
        ),
        (
            "ecdsa-p256",
            "valid/jws-ec256-ES256.jws",
            "ecdsap256",
            false,
        ),
        (
            "ecdsa-p384",
            "valid/jws-ec384-ES384.jws",
            "ecdsap384",
            false,
        ),
        (
            "ecdsa-p521",
            "valid/jws-ec521-ES512.jws",
            "ecdsap521",
            false,
        ),
        (
            "timestamped-jws",
            "timestamp/jws-ts-valid-leaf.jws",
            "rsa2048",
            true,
        ),
    ];
    for (name, file, _, _) in &cases {
        fixture.image(
            &format!("registry.example.com/bench/{}", name.to_lowercase()),
            &descriptor,
            &[(
                "application/jose+json",
                read(&root.join("envelopes").join(file)),
            )],
        );
    }
    let host = PolicyHost::load(&wasm)
        .expect("load")
        .with_backend(fixture.memory.clone());
    let openssl = openssl_verify_us();
    let plain = settings(std::slice::from_ref(&ca), None);
    let stamped = settings(std::slice::from_ref(&ca), Some(tsa));
    let empty = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"}, "operation": "CREATE",
        "userInfo": {}, "object": {"kind": "ConfigMap"}});
    // The first native evaluation in this process pays one-time
    // initialisation, as every wasm evaluation does (fresh instance).
    let first_native = {
        let image = format!(
            "registry.example.com/bench/rsa2048-ps256@{}",
            descriptor.digest
        );
        let payload = serde_json::to_vec(&json!({"request": request(&[image]), "settings": plain}))
            .expect("payload");
        let t = Instant::now();
        let r = verify_notation_signatures::validate_payload(&payload, &fixture.native, Utc::now());
        assert!(r.accepted, "{:?}", r.message);
        us(t.elapsed())
    };
    let wasm_base = us(wasm_eval(&host, &empty, &plain));
    let native_base = us(native_eval(&fixture.native, &empty, &plain));
    let mem_empty = PolicyHost::load_with(
        &wasm,
        &HostOptions {
            measure_memory: true,
            ..Default::default()
        },
    )
    .expect("load")
    .validate(&empty, &plain)
    .expect("evaluation")
    .peak_memory_bytes;

    println!("## Verification per algorithm (3-certificate chain)\n");
    println!("| case | native verify µs (criterion) | openssl verify µs | native / openssl | wasm eval µs | native eval µs | wasm / native | wasm verify µs (eval − empty eval) | wasm verify / openssl |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut worst_vs_openssl: f64 = 0.0;
    let mut worst_wasm_native: f64 = 0.0;
    for (name, _, primitive, timestamped) in &cases {
        let image = format!(
            "registry.example.com/bench/{}@{}",
            name.to_lowercase(),
            descriptor.digest
        );
        let s = if *timestamped { &stamped } else { &plain };
        let req = request(std::slice::from_ref(&image));
        let w = us(wasm_eval(&host, &req, s));
        let n = us(native_eval(&fixture.native, &req, s));
        let crit = criterion_ns(name).map(|ns| ns / 1000.0);
        let ossl = openssl.get(*primitive).copied();
        let fmt = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "n/a".into());
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
            _ => "n/a".into(),
        };
        let wasm_verify = w - wasm_base;
        if let Some(o) = ossl.filter(|_| !*timestamped) {
            worst_vs_openssl = worst_vs_openssl.max(wasm_verify / o);
        }
        worst_wasm_native = worst_wasm_native.max(w / n);
        println!(
            "| {name} | {} | {} | {} | {w:.0} | {n:.0} | {:.1}x | {wasm_verify:.0} | {} |",
            fmt(crit),
            fmt(ossl),
            ratio(crit, ossl),
            w / n,
            ratio(Some(wasm_verify), ossl)
        );
    }
    println!("\nEmpty evaluation (instantiate, parse the settings; no image, so no trust store is parsed): wasm {wasm_base:.0} µs, native {native_base:.0} µs, peak guest memory {} bytes. First native evaluation in a fresh process (rsa2048): {first_native:.0} µs.\n", mem_empty.unwrap_or(0));

    let rsa_wasm_vs_openssl = print_primitive(&RSA_PUBLIC, &openssl);
    let ecdsa_wasm_vs_openssl = print_primitive(&ECDSA_VERIFY, &openssl);

    // End to end: Pods with distinct images (one chain), and 5 chains.
    let mut pods = Fixture::new();
    let rsa2048 = read(&root.join("envelopes/valid/jws-rsa2048-PS256.jws"));
    let rsa3072 = read(&root.join("envelopes/valid/jws-rsa3072-PS384.jws"));
    for i in 0..20 {
        pods.image(
            &format!("registry.example.com/pod/app{i}"),
            &descriptor,
            &[("application/jose+json", rsa2048.clone())],
        );
        pods.image(
            &format!("registry.example.com/pod3072/app{i}"),
            &descriptor,
            &[("application/jose+json", rsa3072.clone())],
        );
    }
    let mut chains = vec![ca.clone()];
    // The scenario: ONE all-RSA-3072 3-certificate chain (root,
    // intermediate and leaf keys RSA-3072) signing 5 distinct images, each
    // with its own envelope signed here.
    let one = testkit::pki::TestPki::builder(testkit::pki::KeyKind::Rsa3072)
        .name("bench-one-chain")
        .build()
        .expect("pki");
    chains.push(one.root_pem().to_string());
    for i in 0..5 {
        let target = Descriptor {
            digest: format!("sha256:{:064x}", 0x3072_0000 + i),
            ..descriptor.clone()
        };
        let env = testkit::signer::sign_jws(
            &one.credentials(),
            &target,
            &testkit::signer::SignOptions::at(Utc::now()),
        )
        .expect("sign");
        pods.image(
            &format!("registry.example.com/onechain/app{i}"),
            &target,
            &[("application/jose+json", env)],
        );
    }
    let target = descriptor.clone();
    for i in 0..5 {
        let pki = testkit::pki::TestPki::builder(testkit::pki::KeyKind::Rsa3072)
            .name(format!("bench-chain-{i}"))
            .build()
            .expect("pki");
        let env = testkit::signer::sign_jws(
            &pki.credentials(),
            &target,
            &testkit::signer::SignOptions::at(Utc::now()),
        )
        .expect("sign");
        chains.push(pki.root_pem().to_string());
        pods.image(
            &format!("registry.example.com/chains/app{i}"),
            &descriptor,
            &[("application/jose+json", env)],
        );
    }
    let pod_host = PolicyHost::load(&wasm)
        .expect("load")
        .with_backend(pods.memory.clone());
    let mem_host = PolicyHost::load_with(
        &wasm,
        &HostOptions {
            measure_memory: true,
            ..Default::default()
        },
    )
    .expect("load")
    .with_backend(pods.memory.clone());
    let all = settings(&chains, None);
    println!("## The policy end to end (warm host, fresh instance per request)\n");
    println!(
        "| Pod | wasm ms per evaluation | native ms | peak guest memory MiB | registry calls |"
    );
    println!("|---|---|---|---|---|");
    let rows: Vec<(String, Vec<String>)> = vec![
        (
            "1 image (RSA-2048)".into(),
            (0..1)
                .map(|i| format!("registry.example.com/pod/app{i}:v1"))
                .collect(),
        ),
        (
            "5 images, one RSA-2048 chain".into(),
            (0..5)
                .map(|i| format!("registry.example.com/pod/app{i}:v1"))
                .collect(),
        ),
        (
            "20 images, one RSA-2048 chain".into(),
            (0..20)
                .map(|i| format!("registry.example.com/pod/app{i}:v1"))
                .collect(),
        ),
        (
            "5 images, one RSA-3072 chain".into(),
            (0..5)
                .map(|i| format!("registry.example.com/onechain/app{i}:v1"))
                .collect(),
        ),
        (
            "5 images, synthetic RSA-3072 leaf, P-384 intermediate".into(),
            (0..5)
                .map(|i| format!("registry.example.com/pod3072/app{i}:v1"))
                .collect(),
        ),
        (
            "5 images, 5 RSA-3072 chains".into(),
            (0..5)
                .map(|i| format!("registry.example.com/chains/app{i}:v1"))
                .collect(),
        ),
    ];
    let mut pod_ms: BTreeMap<String, f64> = BTreeMap::new();
    let mut peak_mib: f64 = 0.0;
    for (label, images) in rows {
        let req = request(&images);
        let w = wasm_eval(&pod_host, &req, &all);
        let n = native_eval(&pods.native, &req, &all);
        let e = mem_host.validate(&req, &all).expect("evaluation");
        let peak = e
            .peak_memory_bytes
            .map(|b| format!("{:.1}", b as f64 / 1048576.0))
            .unwrap_or_else(|| "n/a".into());
        println!(
            "| {label} | {:.2} | {:.2} | {peak} | {} |",
            us(w) / 1000.0,
            us(n) / 1000.0,
            e.registry_calls().len()
        );
        pod_ms.insert(label.clone(), us(w) / 1000.0);
        peak_mib = peak_mib.max(e.peak_memory_bytes.unwrap_or(0) as f64 / 1048576.0);
    }
    println!("\nPolicy module: {} ({:.2} MiB). Registry round trips per tag reference on a cold host: 2 (digest, bundle); per digest reference: 1.", wasm.display(), module_size as f64 / 1048576.0);

    // The budgets of the performance issue, each with its margin.
    let module_mib = module_size as f64 / 1048576.0;
    let budgets = [
        (
            "RSA public operation in wasm (V8) vs openssl verify (worst size)",
            if rsa_wasm_vs_openssl > 0.0 {
                rsa_wasm_vs_openssl
            } else {
                f64::NAN
            },
            10.0,
            "x",
        ),
        (
            "ECDSA verify in wasm (V8) vs openssl verify (worst curve)",
            if ecdsa_wasm_vs_openssl > 0.0 {
                ecdsa_wasm_vs_openssl
            } else {
                f64::NAN
            },
            10.0,
            "x",
        ),
        (
            "whole evaluation in wasm vs one openssl verify (worst algorithm)",
            worst_vs_openssl,
            10.0,
            "x",
        ),
        (
            "wasm / native, same evaluation (worst case)",
            worst_wasm_native,
            3.0,
            "x",
        ),
        (
            "Pod, 5 images, one RSA-3072 chain",
            pod_ms
                .get("5 images, one RSA-3072 chain")
                .copied()
                .unwrap_or(f64::NAN),
            5.0,
            " ms",
        ),
        (
            "Pod, 5 images, 5 RSA-3072 chains",
            pod_ms
                .get("5 images, 5 RSA-3072 chains")
                .copied()
                .unwrap_or(f64::NAN),
            10.0,
            " ms",
        ),
        ("policy module size", module_mib, 4.0, " MiB"),
        ("peak guest memory", peak_mib, 32.0, " MiB"),
    ];
    println!("\n## Budgets\n");
    println!("| budget | measured | limit | verdict |");
    println!("|---|---|---|---|");
    for (what, value, limit, unit) in budgets {
        let verdict = if value.is_nan() {
            "not measured".to_string()
        } else if value <= limit {
            "met".to_string()
        } else {
            format!("missed by {:.1}x", value / limit)
        };
        println!("| {what} | {value:.1}{unit} | {limit:.0}{unit} | {verdict} |");
    }
}
