//! The waPC host that runs the built policy module the way Kubewarden does.
//!
//! `kwctl` is not installable here, so acceptance tests and benchmarks load
//! `verify_notation_signatures.wasm` through the same stack as
//! policy-evaluator: `wapc` 2.1 over `wasmtime-provider` 2.19 with its
//! default WASI context (the policy reads the clock through
//! `SystemTime::now()`), compiled once and instantiated afresh for every
//! call. Host calls are answered like the real callback handler: the same
//! dispatch order (binding, capability allow-list, namespace), the same
//! reference normalisation (`oci_spec` `Reference`), the same manifest
//! re-serialisation (`oci-client` structs) and the same error text, so tests
//! see what the policy would see in a cluster.
//!
//! Registry answers come from a [`Backend`]: [`RegistryBackend`] talks to a
//! real registry, [`MemoryBackend`] serves maps (benchmarks, no network).
//!
//! [`RuntimeLimits`] bound an evaluation the way policy-server does: an
//! epoch-interruption deadline and a linear-memory cap, both enforced by
//! wasmtime; hitting one is [`HostError::DeadlineExceeded`] or
//! [`HostError::MemoryLimit`], never a denial.
//!
//! This file is the runtime (load, instantiate, call, observe); the rest, in
//! the order a call flows: `limits` (deadline and memory cap), `memory` (the
//! guest memory creator that measures and caps), `capabilities` (dispatch of
//! host calls to a [`Backend`]), `registry_backend` and `memory_backend`
//! (the two backends).

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oci_client::ParseError;
use serde::Deserialize;
use serde_json::{json, Value};
use wapc::WapcHost;
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

mod capabilities;
pub mod cluster;
mod limits;
mod memory;
mod memory_backend;
mod registry_backend;

use capabilities::dispatch;
pub use capabilities::{Backend, RegistryFailure, TransportError};
pub use cluster::ClusterObjects;
use limits::{Deadline, MemoryObservation};
pub use limits::{RuntimeLimits, EPOCH_TICK};
pub use memory_backend::MemoryBackend;
pub use registry_backend::{host_view, manifest_url, scheme_for, RegistryBackend};

/// The capabilities this host implements. Everything else is refused the way
/// `kwctl run --allowed-host-capabilities oci/v1/manifest_digest
/// --allowed-host-capabilities oci/v1/oci_manifest
/// --allowed-host-capabilities kubernetes/get_resource` refuses it, which is
/// exactly the grant the policy's metadata declares; `get_resource` is then
/// limited to the kinds of its `contextAwareResources`
/// ([`cluster::CONTEXT_AWARE_RESOURCES`]), as policy-server limits a
/// context-aware policy.
pub const ALLOWED_CAPABILITIES: [&str; 3] = [
    "oci/v1/manifest_digest",
    "oci/v1/oci_manifest",
    "kubernetes/get_resource",
];

/// Host-side failures, each naming the module and the operation involved so
/// a failing acceptance test says what broke without a debugger.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read the policy module {path}: {source}")]
    ReadModule {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the wasmtime engine for {path}: {source}")]
    Engine {
        path: PathBuf,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    #[error("cannot compile {path}: {source}")]
    Compile {
        path: PathBuf,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    #[error("cannot instantiate {path} to call `{operation}`: {source}")]
    Instantiate {
        path: PathBuf,
        operation: String,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The epoch deadline of [`RuntimeLimits::deadline`] interrupted the
    /// guest (in `wapc_init` or in the operation): policy-server answers
    /// this with its 500 "exceeded the allowed execution time".
    #[error("{path}: `{operation}` was interrupted after {elapsed:?}: it exceeded its {deadline:?} execution deadline")]
    DeadlineExceeded {
        path: PathBuf,
        operation: String,
        deadline: Duration,
        elapsed: Duration,
    },
    /// The guest failed after its memory was refused growth past
    /// [`RuntimeLimits::memory_bytes`].
    #[error("{path}: `{operation}` failed after its memory was refused growth to {requested} bytes (cap {limit} bytes): {guest_error}")]
    MemoryLimit {
        path: PathBuf,
        operation: String,
        limit: usize,
        requested: u64,
        guest_error: String,
    },
    #[error("{path}: the guest operation `{operation}` failed: {source}")]
    GuestCall {
        path: PathBuf,
        operation: String,
        #[source]
        source: wapc::errors::Error,
    },
    #[error("{path}: cannot encode the `{operation}` payload: {source}")]
    EncodePayload {
        path: PathBuf,
        operation: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: the `{operation}` answer is not the expected JSON ({text}): {source}")]
    DecodeResponse {
        path: PathBuf,
        operation: String,
        text: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid image reference {reference:?}: {source}")]
    Reference {
        reference: String,
        #[source]
        source: ParseError,
    },
    #[error("cannot serialise the manifest stored for {reference}: {source}")]
    Manifest {
        reference: String,
        #[source]
        source: serde_json::Error,
    },
}

/// How to build the engine. The default is wasmtime's default configuration
/// (what `wasmtime-provider` builds when given no engine), no compilation
/// cache, and no execution deadline, as with `kwctl run`. Runtime limits
/// are given separately ([`PolicyHost::load_limited`]).
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// Report the guest's linear-memory size per evaluation. This swaps
    /// wasmtime's guard-page memories for host-allocated ones with explicit
    /// bounds checks, so leave it off when timing evaluations.
    pub measure_memory: bool,
    /// Wasmtime's compilation cache directory: compiling the policy with
    /// an unoptimised (debug) wasmtime takes long, and tests load it often.
    pub cache_dir: Option<PathBuf>,
}

/// What the acceptance tests share: the built policy (see
/// [`crate::policy_wasm`]), its compiled code cached in `cache_dir`, host
/// calls answered by the real registry. Panics with what to do when the
/// module is not built: this is test support.
pub fn load_policy_for_tests(cache_dir: PathBuf) -> PolicyHost {
    let wasm = crate::policy_wasm()
        .unwrap_or_else(|| panic!("the policy module is not built: run `make policy.wasm` first"));
    let options = HostOptions {
        cache_dir: Some(cache_dir),
        ..HostOptions::default()
    };
    PolicyHost::load_with(&wasm, &options)
        .unwrap_or_else(|e| panic!("loading {}: {e}", wasm.display()))
        .with_backend(Arc::new(RegistryBackend::new()))
}

/// A compiled policy module plus the registry its host calls reach.
/// Cloning shares the compiled module, so one compilation can serve hosts
/// with different backends.
#[derive(Clone)]
pub struct PolicyHost {
    path: PathBuf,
    pre: WasmtimeEngineProviderPre,
    backend: Arc<dyn Backend>,
    cluster: Arc<ClusterObjects>,
    measure_memory: bool,
    deadline: Option<Deadline>,
    memory_limit: Option<usize>,
}

impl fmt::Debug for PolicyHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyHost")
            .field("path", &self.path)
            .field("measure_memory", &self.measure_memory)
            .field("deadline", &self.deadline.as_ref().map(|d| d.duration))
            .field("memory_limit", &self.memory_limit)
            .finish_non_exhaustive()
    }
}

/// One host call the guest made, in order, so tests can assert the number
/// of registry round trips and what each one answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    pub binding: String,
    pub namespace: String,
    pub operation: String,
    /// The request payload as text (for `oci` calls, a JSON string).
    pub payload: String,
    /// The answer the guest received, or the error text it received.
    pub result: Result<String, String>,
}

impl HostCall {
    /// `"{namespace}/{operation}"`, the capability path of the allow-list.
    pub fn capability(&self) -> String {
        format!("{}/{}", self.namespace, self.operation)
    }
}

/// The SDK's `ValidationResponse`, as the policy serialised it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
}

/// The outcome of one `validate` call.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub response: ValidationResponse,
    /// The response JSON exactly as the guest wrote it.
    pub raw: Value,
    /// Every host call of this evaluation, in order.
    pub calls: Vec<HostCall>,
    /// The guest's linear memory after the call, in bytes (wasm memory never
    /// shrinks, so this is the peak). `None` unless
    /// [`HostOptions::measure_memory`] is set.
    pub peak_memory_bytes: Option<u64>,
    /// The largest memory size the cap ([`RuntimeLimits::memory_bytes`])
    /// refused during a call that still answered (the guest coped with the
    /// failed `memory.grow`). `None` when nothing was refused.
    pub refused_memory_bytes: Option<u64>,
}

impl Evaluation {
    /// The calls that reached the registry (the `oci` namespace).
    pub fn registry_calls(&self) -> Vec<&HostCall> {
        self.calls.iter().filter(|c| c.namespace == "oci").collect()
    }

    /// The capability paths called, in order, e.g. for an `assert_eq!`.
    pub fn capabilities(&self) -> Vec<String> {
        self.calls.iter().map(HostCall::capability).collect()
    }
}

impl PolicyHost {
    /// Compiles the module once, with the default engine (see
    /// [`HostOptions`]); every image is unknown until a backend is attached.
    pub fn load(wasm: &Path) -> Result<Self, HostError> {
        Self::load_with(wasm, &HostOptions::default())
    }

    /// As [`PolicyHost::load`], with engine options.
    pub fn load_with(wasm: &Path, options: &HostOptions) -> Result<Self, HostError> {
        Self::load_limited(wasm, options, RuntimeLimits::default())
    }

    /// As [`PolicyHost::load_with`], with every call bounded by `limits`
    /// (enforced by wasmtime, see [`RuntimeLimits`]).
    pub fn load_limited(
        wasm: &Path,
        options: &HostOptions,
        limits: RuntimeLimits,
    ) -> Result<Self, HostError> {
        let bytes = std::fs::read(wasm).map_err(|source| HostError::ReadModule {
            path: wasm.to_path_buf(),
            source,
        })?;
        Self::from_bytes(wasm, &bytes, options, limits)
    }

    /// Compiles `bytes` (a binary module, or WAT text), named `path` in
    /// errors.
    fn from_bytes(
        path: &Path,
        bytes: &[u8],
        options: &HostOptions,
        limits: RuntimeLimits,
    ) -> Result<Self, HostError> {
        let path = path.to_path_buf();
        let engine_error = |source: Box<dyn StdError + Send + Sync>| HostError::Engine {
            path: path.clone(),
            source,
        };

        let mut config = wasmtime_provider::wasmtime::Config::default();
        // `VNS_PERFMAP=1 perf record ...` names the guest's functions in the
        // profile (wasmtime writes /tmp/perf-<pid>.map).
        if std::env::var_os("VNS_PERFMAP").is_some() {
            config.profiler(wasmtime_provider::wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(dir) = &options.cache_dir {
            let mut cache_config = wasmtime_provider::wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            let cache = wasmtime_provider::wasmtime::Cache::new(cache_config)
                .map_err(|e| engine_error(e.into()))?;
            config.cache(Some(cache));
        }
        if options.measure_memory || limits.memory_bytes.is_some() {
            memory::configure(&mut config, limits.memory_bytes);
        }
        if limits.deadline.is_some() {
            config.epoch_interruption(true);
        }
        let engine = wasmtime_provider::wasmtime::Engine::new(&config)
            .map_err(|e| engine_error(e.into()))?;
        let deadline = limits
            .deadline
            .map(|d| Deadline::start(&engine, d))
            .transpose()
            .map_err(|e| engine_error(e.into()))?;
        let module = wasmtime_provider::wasmtime::Module::new(&engine, bytes).map_err(|e| {
            HostError::Compile {
                path: path.clone(),
                source: e.into(),
            }
        })?;
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(engine)
            .module(module)
            .build_pre()
            .map_err(|e| HostError::Compile {
                path: path.clone(),
                source: Box::new(e),
            })?;
        Ok(PolicyHost {
            path,
            pre,
            backend: Arc::new(MemoryBackend::new()),
            cluster: Arc::new(ClusterObjects::new()),
            measure_memory: options.measure_memory,
            deadline,
            memory_limit: limits.memory_bytes,
        })
    }

    /// Points the `oci` host calls at `backend`. Shared so that a test can
    /// keep filling a [`MemoryBackend`] after handing it over.
    pub fn with_backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = backend;
        self
    }

    /// Answers `kubernetes/get_resource` from `cluster` (empty by default:
    /// every object is not found). Shared so that a test can change an
    /// object between two evaluations.
    pub fn with_cluster(mut self, cluster: Arc<ClusterObjects>) -> Self {
        self.cluster = cluster;
        self
    }

    /// The guest operation `validate`, with the SDK's `ValidationRequest`
    /// payload: what policy-server sends for one admission request.
    pub fn validate(&self, request: &Value, settings: &Value) -> Result<Evaluation, HostError> {
        const OPERATION: &str = "validate";
        let payload = json!({ "request": request, "settings": settings });
        let GuestAnswer {
            answer: raw,
            calls,
            peak_memory_bytes,
            refused_memory_bytes,
        } = self.call_json(OPERATION, &payload)?;
        let response =
            ValidationResponse::deserialize(&raw).map_err(|source| HostError::DecodeResponse {
                path: self.path.clone(),
                operation: OPERATION.into(),
                text: raw.to_string(),
                source,
            })?;
        Ok(Evaluation {
            response,
            raw,
            calls,
            peak_memory_bytes,
            refused_memory_bytes,
        })
    }

    /// The guest operation `validate_settings`: `{"valid": bool, "message": …}`,
    /// what policy-server asks before it serves the policy.
    pub fn validate_settings(&self, settings: &Value) -> Result<Value, HostError> {
        Ok(self.call_json("validate_settings", settings)?.answer)
    }

    /// The guest operation `protocol_version` (`"v1"` for SDK policies).
    pub fn protocol_version(&self) -> Result<Value, HostError> {
        let answer = self.call("protocol_version", &[])?.answer;
        serde_json::from_slice(&answer).map_err(|source| HostError::DecodeResponse {
            path: self.path.clone(),
            operation: "protocol_version".into(),
            text: String::from_utf8_lossy(&answer).into_owned(),
            source,
        })
    }

    fn call_json(&self, operation: &str, payload: &Value) -> Result<GuestAnswer<Value>, HostError> {
        let bytes = serde_json::to_vec(payload).map_err(|source| HostError::EncodePayload {
            path: self.path.clone(),
            operation: operation.into(),
            source,
        })?;
        let GuestAnswer {
            answer,
            calls,
            peak_memory_bytes,
            refused_memory_bytes,
        } = self.call(operation, &bytes)?;
        let answer =
            serde_json::from_slice(&answer).map_err(|source| HostError::DecodeResponse {
                path: self.path.clone(),
                operation: operation.into(),
                text: String::from_utf8_lossy(&answer).into_owned(),
                source,
            })?;
        Ok(GuestAnswer {
            answer,
            calls,
            peak_memory_bytes,
            refused_memory_bytes,
        })
    }

    /// One guest call in a fresh instance, as Kubewarden evaluates: nothing
    /// a previous evaluation left in linear memory can leak into this one.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<GuestAnswer<Vec<u8>>, HostError> {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let callback = {
            let backend = Arc::clone(&self.backend);
            let cluster = Arc::clone(&self.cluster);
            let calls = Arc::clone(&calls);
            move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                let result = dispatch(
                    backend.as_ref(),
                    &cluster,
                    binding,
                    namespace,
                    operation,
                    payload,
                );
                calls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(HostCall {
                        binding: binding.to_string(),
                        namespace: namespace.to_string(),
                        operation: operation.to_string(),
                        payload: String::from_utf8_lossy(payload).into_owned(),
                        result: result
                            .as_ref()
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .map_err(Clone::clone),
                    });
                result.map_err(Into::into)
            }
        };
        let observed = (self.measure_memory || self.memory_limit.is_some())
            .then(|| Arc::new(MemoryObservation::default()));
        let _scope = memory::Scope::enter(observed.clone());
        let instantiate_error = |source: Box<dyn StdError + Send + Sync>| HostError::Instantiate {
            path: self.path.clone(),
            operation: operation.into(),
            source,
        };
        let provider = self
            .pre
            .rehydrate(self.deadline.as_ref().map(Deadline::epoch_deadlines))
            .map_err(|e| instantiate_error(Box::new(e)))?;
        // `wapc_init` runs here, under its own deadline.
        let started = Instant::now();
        let host = WapcHost::new(Box::new(provider), Some(Box::new(callback))).map_err(|e| {
            self.limit_hit(operation, &e.to_string(), started, observed.as_deref())
                .unwrap_or_else(|| instantiate_error(Box::new(e)))
        })?;
        let started = Instant::now();
        let answer = host.call(operation, payload).map_err(|source| {
            self.limit_hit(operation, &source.to_string(), started, observed.as_deref())
                .unwrap_or_else(|| HostError::GuestCall {
                    path: self.path.clone(),
                    operation: operation.into(),
                    source,
                })
        })?;
        drop(host);
        let calls = std::mem::take(&mut *calls.lock().unwrap_or_else(PoisonError::into_inner));
        let peak_memory_bytes = observed
            .as_ref()
            .filter(|_| self.measure_memory)
            .map(|o| o.peak.load(Ordering::Relaxed));
        let refused_memory_bytes = observed.as_ref().and_then(|o| o.refused());
        Ok(GuestAnswer {
            answer,
            calls,
            peak_memory_bytes,
            refused_memory_bytes,
        })
    }

    /// Whether a failed instantiation or call was one of the runtime limits
    /// firing, and which: the deadline (the provider's interruption, after
    /// the deadline has passed), else the memory cap (a growth past it was
    /// refused before the guest failed).
    fn limit_hit(
        &self,
        operation: &str,
        message: &str,
        started: Instant,
        observed: Option<&MemoryObservation>,
    ) -> Option<HostError> {
        let elapsed = started.elapsed();
        if let Some(deadline) = self.deadline.as_ref().filter(|d| d.fired(message, elapsed)) {
            return Some(HostError::DeadlineExceeded {
                path: self.path.clone(),
                operation: operation.into(),
                deadline: deadline.duration,
                elapsed,
            });
        }
        let limit = self.memory_limit?;
        let requested = observed?.refused()?;
        Some(HostError::MemoryLimit {
            path: self.path.clone(),
            operation: operation.into(),
            limit,
            requested,
            guest_error: message.to_string(),
        })
    }
}

/// A guest answer with what was observed while it ran.
struct GuestAnswer<T> {
    answer: T,
    calls: Vec<HostCall>,
    peak_memory_bytes: Option<u64>,
    refused_memory_bytes: Option<u64>,
}

#[cfg(test)]
mod tests;
