//! One row of `make bench-engine`, evaluated in a loop for a profiler:
//!
//!   profile_eval FIXTURES ROW N [wasm|native]
//!
//! FIXTURES is the directory `bench_engine_fixtures` wrote (its
//! `<row>.request.json` and `<row>.settings.json`), with the registry it
//! pushed to still running. The registry is read once, on the first
//! evaluation, and answered from memory afterwards, as kwctl's warm host
//! cache does. `wasm` (the default) runs the built module in the testkit's
//! wasmtime host with a fresh instance per evaluation; under
//! `VNS_PERFMAP=1 perf record` the guest's functions are named. `native`
//! runs the same policy code compiled for this machine, for callgrind.
//! Prints the mean time per evaluation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use oci_client::Reference;
use serde_json::{json, Value};
use testkit::host::{Backend, PolicyHost, RegistryBackend, RegistryFailure};
use verify_notation_signatures::host::{HostError, Registry};

type Failure = Box<dyn std::error::Error>;

/// The registry's answers, read once and then kept: a warm host cache.
#[derive(Default)]
struct Memo {
    registry: RegistryBackend,
    digests: Mutex<HashMap<String, String>>,
    manifests: Mutex<HashMap<String, Value>>,
}

impl Memo {
    fn digest(&self, reference: &Reference) -> Result<String, String> {
        let key = reference.whole();
        if let Some(d) = self.known_digest(&key) {
            return Ok(d);
        }
        let d = self
            .registry
            .manifest_digest(reference)
            .map_err(|e| e.to_string())?;
        lock(&self.digests).insert(key, d.clone());
        Ok(d)
    }

    fn known_digest(&self, key: &str) -> Option<String> {
        lock(&self.digests).get(key).cloned()
    }

    fn known_manifest(&self, key: &str) -> Option<Value> {
        lock(&self.manifests).get(key).cloned()
    }

    fn manifest(&self, reference: &Reference) -> Result<Value, String> {
        let key = reference.whole();
        if let Some(m) = self.known_manifest(&key) {
            return Ok(m);
        }
        let m = self
            .registry
            .oci_manifest(reference)
            .map_err(|e| e.to_string())?;
        lock(&self.manifests).insert(key, m.clone());
        Ok(m)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The wasm host's view: a failed read is not kept (as kwctl's cache).
struct WasmBackend(Arc<Memo>);

impl Backend for WasmBackend {
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure> {
        self.0.digest(reference).map_err(|_| {
            // Only successes are memoised; ask the registry again for the
            // host's own error.
            match self.0.registry.manifest_digest(reference) {
                Err(e) => e,
                Ok(_) => unreachable_failure(),
            }
        })
    }
    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure> {
        self.0
            .manifest(reference)
            .map_err(|_| match self.0.registry.oci_manifest(reference) {
                Err(e) => e,
                Ok(_) => unreachable_failure(),
            })
    }
}

fn unreachable_failure() -> RegistryFailure {
    RegistryFailure::Registry(oci_client::errors::OciDistributionError::GenericError(
        Some("the registry answered differently on a second read".into()),
    ))
}

/// The native policy's view of the same answers, looked up by the
/// policy's own reference string first: parsing it as the host does
/// compiles a regex, which would dwarf the evaluation in a profile.
struct NativeRegistry(Arc<Memo>);

fn parse(reference: &str, operation: &'static str) -> Result<Reference, HostError> {
    reference
        .parse()
        .map_err(|e: oci_client::ParseError| HostError {
            operation,
            reference: reference.into(),
            message: e.to_string(),
        })
}

impl Registry for NativeRegistry {
    fn manifest_digest(&self, reference: &str) -> Result<String, HostError> {
        let operation = "oci/v1/manifest_digest";
        if let Some(d) = self.0.known_digest(reference) {
            return Ok(d);
        }
        let r = parse(reference, operation)?;
        let d = self.0.digest(&r);
        if let Ok(d) = &d {
            lock(&self.0.digests).insert(reference.to_string(), d.clone());
        }
        d.map_err(|message| HostError {
            operation,
            reference: reference.into(),
            message,
        })
    }
    fn oci_manifest(&self, reference: &str) -> Result<Value, HostError> {
        let operation = "oci/v1/oci_manifest";
        if let Some(m) = self.0.known_manifest(reference) {
            return Ok(m);
        }
        let r = parse(reference, operation)?;
        let m = self.0.manifest(&r);
        if let Ok(m) = &m {
            lock(&self.0.manifests).insert(reference.to_string(), m.clone());
        }
        m.map_err(|message| HostError {
            operation,
            reference: reference.into(),
            message,
        })
    }
    fn get_resource(&self, kind: &str, namespace: &str, name: &str) -> Result<Value, HostError> {
        Err(HostError {
            operation: "kubernetes/get_resource",
            reference: format!("{kind} {namespace}/{name}"),
            message: "the bench rows keep their trust stores inline".into(),
        })
    }
}

fn read_json(path: PathBuf) -> Result<Value, Failure> {
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The measured evaluations, apart from the first (which reads the
/// registry): `valgrind --tool=callgrind --toggle-collect='*native_loop*'`
/// counts only these.
#[inline(never)]
fn native_loop(
    payload: &[u8],
    registry: &NativeRegistry,
    now: chrono::DateTime<chrono::Utc>,
    n: u32,
) {
    for _ in 0..n {
        std::hint::black_box(verify_notation_signatures::validate_payload(
            payload, registry, now,
        ));
    }
}

#[inline(never)]
fn wasm_loop(host: &PolicyHost, request: &Value, settings: &Value, n: u32) -> Result<(), Failure> {
    for _ in 0..n {
        std::hint::black_box(host.validate(request, settings)?);
    }
    Ok(())
}

/// Every row is admitted, except the host-call rows (`calls-*`), which
/// must be refused for their bundle and for nothing else: a different
/// answer would measure the wrong thing.
fn check(row: &str, accepted: bool, message: Option<&str>) -> Result<(), Failure> {
    let refused_for_the_bundle =
        !accepted && message.is_some_and(|m| m.contains("the manifest is not a signature bundle"));
    match (row.starts_with("calls-"), accepted, refused_for_the_bundle) {
        (false, true, _) | (true, _, true) => Ok(()),
        (false, false, _) => Err(format!("{row} is not admitted: {message:?}").into()),
        (true, _, false) => Err(format!("{row} is not refused for its bundle: {message:?}").into()),
    }
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, row, n, mode) = match args.as_slice() {
        [_, dir, row, n] => (dir, row, n, "wasm"),
        [_, dir, row, n, mode] => (dir, row, n, mode.as_str()),
        _ => return Err("usage: profile_eval FIXTURES ROW N [wasm|native]".into()),
    };
    let n: u32 = n.parse().map_err(|e| format!("N: {e}"))?;
    let dir = PathBuf::from(dir);
    let request = read_json(dir.join(format!("{row}.request.json")))?;
    let settings = read_json(dir.join(format!("{row}.settings.json")))?;
    let memo = Arc::new(Memo::default());
    let started;
    match mode {
        "wasm" => {
            let wasm = testkit::policy_wasm().ok_or("build the policy first: make policy.wasm")?;
            let host = PolicyHost::load(&wasm)?.with_backend(Arc::new(WasmBackend(memo.clone())));
            let first = host.validate(&request, &settings)?;
            check(
                row,
                first.response.accepted,
                first.response.message.as_deref(),
            )?;
            started = Instant::now();
            wasm_loop(&host, &request, &settings, n)?;
        }
        "native" => {
            let registry = NativeRegistry(memo.clone());
            let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))?;
            let now = chrono::Utc::now();
            let first = verify_notation_signatures::validate_payload(&payload, &registry, now);
            check(row, first.accepted, first.message.as_deref())?;
            started = Instant::now();
            native_loop(&payload, &registry, now, n);
        }
        other => return Err(format!("mode {other}: wasm or native").into()),
    }
    let mean = started.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1));
    println!("{row} {mode}: {mean:.0} µs per evaluation over {n}");
    Ok(())
}
