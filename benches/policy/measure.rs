//! Timing: medians, one evaluation in wasm and natively, and criterion's
//! estimates from earlier `cargo bench` runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use testkit::host::PolicyHost;

use crate::fixture::MapRegistry;

/// Median of `n` runs after one warm-up.
fn median(n: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

pub(crate) fn wasm_eval(host: &PolicyHost, req: &Value, s: &Value) -> Duration {
    median(31, || {
        let e = host.validate(req, s).expect("evaluation");
        assert!(e.response.accepted, "{:?}", e.response.message);
    })
}

pub(crate) fn native_eval(reg: &MapRegistry, req: &Value, s: &Value) -> Duration {
    let payload = serde_json::to_vec(&json!({"request": req, "settings": s})).expect("payload");
    let now: DateTime<Utc> = Utc::now();
    median(31, || {
        let r = verify_notation_signatures::validate_payload(&payload, reg, now);
        assert!(r.accepted, "{:?}", r.message);
    })
}

/// Criterion's mean for `verify/<name>`, if `cargo bench -p notation-verifier` ran.
pub(crate) fn criterion_ns(name: &str) -> Option<f64> {
    criterion_estimate_ns("target/criterion", &format!("verify/{name}"))
}

/// Criterion's mean for `<id>` under `<home>` (`target/criterion` native,
/// `target/criterion-wasm` for the WASI run of the `rsa_public` group).
pub(crate) fn criterion_estimate_ns(home: &str, id: &str) -> Option<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(home)
        .join(id)
        .join("new/estimates.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

pub(crate) fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
