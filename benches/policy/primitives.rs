//! The primitive tables: the RSA public operation and ECDSA verification,
//! the replaced crates against ours, native and in wasm, against openssl.

use std::collections::BTreeMap;

use crate::measure::criterion_estimate_ns;

/// One primitive compared across implementations: the crate we replaced
/// against ours, native and in wasm (criterion under Node's WASI, see the
/// Makefile's `bench` target), and against `openssl speed`.
pub(crate) struct PrimitiveTable {
    pub(crate) title: &'static str,
    /// The criterion group and the id prefixes of the two implementations.
    pub(crate) group: &'static str,
    pub(crate) reference: &'static str,
    pub(crate) ours: &'static str,
    pub(crate) reference_name: &'static str,
    /// (row label, id suffix, `openssl speed` key)
    pub(crate) rows: &'static [(&'static str, &'static str, &'static str)],
    pub(crate) note: &'static str,
}

/// Prints the table and returns the worst ratio of our wasm figure to
/// openssl's verify (0 when either is missing).
pub(crate) fn print_primitive(table: &PrimitiveTable, openssl: &BTreeMap<String, f64>) -> f64 {
    let get = |home: &str, prefix: &str, suffix: &str| {
        criterion_estimate_ns(home, &format!("{}/{prefix}{suffix}", table.group))
            .map(|ns| ns / 1000.0)
    };
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "n/a".into());
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
        _ => "n/a".into(),
    };
    let r = table.reference_name;
    println!("## {}\n", table.title);
    println!("| case | {r} native µs | ours native µs | speed-up | {r} wasm µs | ours wasm µs | speed-up | ours wasm / native | openssl verify µs | ours wasm / openssl |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut worst: f64 = 0.0;
    for (label, suffix, openssl_key) in table.rows {
        let rn = get("target/criterion", table.reference, suffix);
        let on = get("target/criterion", table.ours, suffix);
        let rw = get("target/criterion-wasm", table.reference, suffix);
        let ow = get("target/criterion-wasm", table.ours, suffix);
        let ossl = openssl.get(*openssl_key).copied();
        if let (Some(w), Some(o)) = (ow, ossl) {
            worst = worst.max(w / o);
        }
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt(rn),
            fmt(on),
            ratio(rn, on),
            fmt(rw),
            fmt(ow),
            ratio(rw, ow),
            ratio(ow, on),
            fmt(ossl),
            ratio(ow, ossl)
        );
    }
    println!("\n{}\n", table.note);
    worst
}

pub(crate) const RSA_PUBLIC: PrimitiveTable = PrimitiveTable {
    title: "RSA public operation s^e mod n (e = 65537): rsa 0.9 vs ours",
    group: "rsa_public",
    reference: "rsa-crate-",
    ours: "montgomery-",
    reference_name: "rsa 0.9",
    rows: &[
        ("RSA-2048", "2048", "rsa2048"),
        ("RSA-3072", "3072", "rsa3072"),
        ("RSA-4096", "4096", "rsa4096"),
    ],
    note: "wasm here is the criterion bench compiled for wasm32-wasip1 (27-bit limbs, product scanning) run by Node's V8; the policy runs in wasmtime.",
};

pub(crate) const ECDSA_VERIFY: PrimitiveTable = PrimitiveTable {
    title: "ECDSA verification (prehashed): ecdsa 0.16 vs ours (variable-time wNAF)",
    group: "ecdsa_verify",
    reference: "ecdsa-crate-",
    ours: "wnaf-",
    reference_name: "ecdsa 0.16",
    rows: &[
        ("P-256", "p256", "ecdsap256"),
        ("P-384", "p384", "ecdsap384"),
        ("P-521", "p521", "ecdsap521"),
    ],
    note: "Both use the curve crates' field arithmetic (32-bit fiat-crypto in wasm32); wasm is criterion under Node's V8.",
};

/// `openssl speed` verify time per operation, in microseconds.
pub(crate) fn openssl_verify_us() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(o) = std::process::Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            "1",
            "-mr",
            "rsa2048",
            "rsa3072",
            "rsa4096",
            "ecdsap256",
            "ecdsap384",
            "ecdsap521",
        ])
        .output()
    else {
        return out;
    };
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split(':').collect();
        // +F2:<n>:<bits>:<sign s>:<verify s>  (RSA)   +F4:<n>:<bits>:<sign s>:<verify s>  (ECDSA)
        if f.len() >= 5 && (f[0] == "+F2" || f[0] == "+F4") {
            // the last field is verifications per second
            if let Ok(per_second) = f[4].parse::<f64>() {
                let key = if f[0] == "+F2" {
                    format!("rsa{}", f[2])
                } else {
                    format!("ecdsap{}", f[2])
                };
                if per_second > 0.0 {
                    out.insert(key, 1e6 / per_second);
                }
            }
        }
    }
    out
}
