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

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::manifest::{OciManifest, Versioned};
use oci_client::{ParseError, Reference};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use wapc::WapcHost;
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

#[path = "limits.rs"]
mod limits;
use limits::{Deadline, MemoryObservation};
pub use limits::{RuntimeLimits, EPOCH_TICK};

/// The capabilities this host implements. Everything else is refused the way
/// `kwctl run --allowed-host-capabilities oci/v1/manifest_digest
/// --allowed-host-capabilities oci/v1/oci_manifest` refuses it, which is
/// exactly the grant the policy's metadata declares.
pub const ALLOWED_CAPABILITIES: [&str; 2] = ["oci/v1/manifest_digest", "oci/v1/oci_manifest"];

/// The Accept list of `oci-client` (Docker v2 manifest and manifest list, OCI
/// manifest and index): registries choose the representation from it.
const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Registries cap manifests at 4 MiB; the margin only guards against a
/// misbehaving server.
const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;

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
            let calls = Arc::clone(&calls);
            move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                let result = dispatch(backend.as_ref(), binding, namespace, operation, payload);
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

/// policy-evaluator's `host_callback`, reduced to the two capabilities the
/// policy is granted. The `Err` text is what the guest receives after
/// `Host error: `.
fn dispatch(
    backend: &dyn Backend,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    if binding != "kubewarden" {
        return Err(format!("unknown binding: {binding}"));
    }
    let capability = format!("{namespace}/{operation}");
    if namespace != "tracing" && !ALLOWED_CAPABILITIES.contains(&capability.as_str()) {
        return Err(format!(
            "Policy has not been granted access to the '{capability}' host capability. The violation has been reported."
        ));
    }
    match (namespace, operation) {
        // The SDK's slog drain; the real host forwards it to its own log.
        ("tracing", "log") => Ok(Vec::new()),
        ("tracing", _) => Err(format!("unknown operation: {operation}")),
        ("oci", "v1/manifest_digest") => {
            let image: String = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
            let reference = parse_reference(&image).map_err(|e| callback_failure(&e))?;
            let digest = backend
                .manifest_digest(&reference)
                .map_err(|e| callback_failure(&e))?;
            serde_json::to_vec(&json!({ "digest": digest })).map_err(|e| e.to_string())
        }
        ("oci", "v1/oci_manifest") => {
            let image: String = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
            let reference = parse_reference(&image).map_err(|e| callback_failure(&e))?;
            backend.oci_manifest_answer(&reference)
        }
        _ => Err(format!("unknown operation: {operation}")),
    }
}

/// `send_request_and_wait_for_response`: the handler's `anyhow::Error`,
/// Debug-formatted (so with its `Caused by:` chain).
fn callback_failure(error: &RegistryFailure) -> String {
    format!("Callback evaluation failure: {}", anyhow_debug(error))
}

/// anyhow's `{:?}`: the message, then the source chain, numbered when it
/// has more than one link.
fn anyhow_debug(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    if causes.len() == 1 {
        text.push_str("\n\nCaused by:\n    ");
        text.push_str(&causes[0].replace('\n', "\n    "));
    } else if !causes.is_empty() {
        text.push_str("\n\nCaused by:");
        for (i, cause) in causes.iter().enumerate() {
            text.push_str(&format!("\n    {i}: {}", cause.replace('\n', "\n       ")));
        }
    }
    text
}

fn parse_reference(image: &str) -> Result<Reference, RegistryFailure> {
    Reference::try_from(image).map_err(RegistryFailure::Reference)
}

/// The registry side of the two capabilities. Implementations get the
/// reference already normalised (docker.io rules, default tag `latest`),
/// as the real handler parses it before it reaches `oci-client`.
pub trait Backend: Send + Sync {
    /// `oci/v1/manifest_digest`: what the tag points to (an index for a
    /// multi-arch tag), or the queried digest if the reference carries one.
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure>;
    /// `oci/v1/oci_manifest`: the manifest as the host re-serialises it.
    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure>;

    /// `oci/v1/oci_manifest` as the bytes the guest receives (or the error
    /// text it receives). A backend may answer from a cache: the call runs
    /// inside the guest's deadline, and re-serialising a multi-MiB manifest
    /// in a debug build would count the test host's slowness against it.
    fn oci_manifest_answer(&self, reference: &Reference) -> Result<Vec<u8>, String> {
        let manifest = self
            .oci_manifest(reference)
            .map_err(|e| callback_failure(&e))?;
        serde_json::to_vec(&manifest).map_err(|e| e.to_string())
    }
}

/// A failed registry interaction, shaped like policy-fetcher's
/// `RegistryError` so its text (and `Caused by:` chain) matches the host's.
#[derive(Debug, thiserror::Error)]
pub enum RegistryFailure {
    /// `RegistryError::OCIRegistryError`: anything `oci-client` reports.
    #[error("Fail to interact with OCI registry: {0}")]
    Registry(#[source] OciDistributionError),
    /// A transport failure (reqwest's wording, ureq's cause).
    #[error("Fail to interact with OCI registry: {0}")]
    Transport(#[source] TransportError),
    /// `RegistryError::InvalidOCIImageReferenceError`.
    #[error("Invalid OCI image reference: {0}")]
    Reference(#[source] ParseError),
}

/// reqwest's "error sending request for url (…)", with the client's own
/// error as its cause.
#[derive(Debug, thiserror::Error)]
#[error("error sending request for url ({url})")]
pub struct TransportError {
    pub url: String,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

/// `oci-client`'s `to_v2_manifest_url`: a digest wins over a tag, docker.io
/// is served by index.docker.io.
pub fn manifest_url(reference: &Reference) -> String {
    let registry = reference.resolve_registry();
    let target = reference.digest().or(reference.tag()).unwrap_or("latest");
    format!(
        "{}://{registry}/v2/{}/manifests/{target}",
        scheme_for(registry),
        reference.repository()
    )
}

/// Test registries are loopback `docker-registry` instances without TLS;
/// anything else is expected to speak HTTPS.
pub fn scheme_for(registry: &str) -> &'static str {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(host, _)| host),
    };
    if matches!(host, "127.0.0.1" | "localhost" | "::1") {
        "http"
    } else {
        "https"
    }
}

/// `oci-client`'s `validate_registry_response`.
fn check_status(status: u16, body: &[u8], url: &str) -> Result<(), OciDistributionError> {
    match status {
        200 => Ok(()),
        401 => Err(OciDistributionError::UnauthorizedError {
            url: url.to_string(),
        }),
        s if (200..300).contains(&s) => Err(OciDistributionError::SpecViolationError(format!(
            "Expected HTTP Status 200 OK, got {} instead",
            status_line(s)
        ))),
        s if (400..500).contains(&s) => match serde_json::from_slice::<OciEnvelope>(body) {
            Ok(envelope) => Err(OciDistributionError::RegistryError {
                envelope,
                url: url.to_string(),
            }),
            Err(_) => Err(OciDistributionError::ServerError {
                code: s,
                url: url.to_string(),
                message: String::from_utf8_lossy(body).into_owned(),
            }),
        },
        s => Err(OciDistributionError::ServerError {
            code: s,
            url: url.to_string(),
            message: String::from_utf8_lossy(body).into_owned(),
        }),
    }
}

/// `http::StatusCode`'s Display ("204 No Content") for the few success
/// codes a registry may answer instead of 200.
fn status_line(code: u16) -> String {
    let reason = match code {
        201 => " Created",
        202 => " Accepted",
        203 => " Non Authoritative Information",
        204 => " No Content",
        206 => " Partial Content",
        _ => "",
    };
    format!("{code}{reason}")
}

/// `oci-client`'s `validate_digest`: the body must hash to the header's
/// digest and to the reference's; with neither, the body's sha256 is it.
fn content_digest(
    body: &[u8],
    header: Option<&str>,
    wanted: Option<&str>,
) -> Result<String, OciDistributionError> {
    let check = |digest: &str| -> Result<String, OciDistributionError> {
        let (algorithm, _) = digest
            .split_once(':')
            .ok_or(oci_client::errors::DigestError::MissingAlgorithm)?;
        let hex = match algorithm {
            "sha256" => hex::encode(Sha256::digest(body)),
            "sha384" => hex::encode(Sha384::digest(body)),
            "sha512" => hex::encode(Sha512::digest(body)),
            other => {
                return Err(oci_client::errors::DigestError::UnsupportedAlgorithm(
                    other.to_string(),
                )
                .into())
            }
        };
        let actual = format!("{algorithm}:{hex}");
        if actual == digest {
            Ok(actual)
        } else {
            Err(oci_client::errors::DigestError::VerificationError {
                expected: digest.to_string(),
                actual,
            }
            .into())
        }
    };
    match (header.filter(|h| !h.is_empty()), wanted) {
        (Some(header), Some(wanted)) if header != wanted => {
            check(wanted)?;
            check(header)
        }
        (Some(digest), _) | (None, Some(digest)) => check(digest),
        (None, None) => Ok(format!("sha256:{}", hex::encode(Sha256::digest(body)))),
    }
}

/// What `pull_manifest` + `serde_json::to_value` make of a manifest body:
/// only schema 2 and the four manifest media types pass, and only the fields
/// `oci-client`'s structs model survive (a descriptor's `data` does not).
pub fn host_view(body: &[u8]) -> Result<Value, OciDistributionError> {
    let versioned: Versioned = serde_json::from_slice(body)
        .map_err(|e| OciDistributionError::VersionedParsingError(e.to_string()))?;
    if versioned.schema_version != 2 {
        return Err(OciDistributionError::UnsupportedSchemaVersionError(
            versioned.schema_version,
        ));
    }
    if let Some(media_type) = versioned.media_type {
        if !MANIFEST_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(OciDistributionError::UnsupportedMediaTypeError(media_type));
        }
    }
    let manifest: OciManifest = serde_json::from_slice(body)
        .map_err(|e| OciDistributionError::ManifestParsingError(e.to_string()))?;
    serde_json::to_value(&manifest).map_err(OciDistributionError::JsonError)
}

/// A real registry over HTTP(S), anonymous, as policy-server reaches a
/// public one. HTTPS needs ureq's `tls` feature, which this workspace does
/// not enable: such calls fail (closed) with the transport error.
#[derive(Debug, Clone)]
pub struct RegistryBackend {
    agent: ureq::Agent,
}

impl Default for RegistryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistryBackend {
    /// Bounded timeouts, so an unreachable registry fails the evaluation
    /// (closed) instead of hanging the test.
    pub fn new() -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build();
        RegistryBackend { agent }
    }

    /// One request; HTTP error statuses are answers, not failures, so that
    /// the registry's error body reaches `check_status`.
    fn request(&self, method: &str, url: &str) -> Result<HttpAnswer, RegistryFailure> {
        let transport = |source: Box<dyn StdError + Send + Sync>| {
            RegistryFailure::Transport(TransportError {
                url: url.to_string(),
                source,
            })
        };
        let response = match self
            .agent
            .request(method, url)
            .set("Accept", MANIFEST_ACCEPT)
            .call()
        {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(error)) => return Err(transport(Box::new(error))),
        };
        let status = response.status();
        let digest = response.header("Docker-Content-Digest").map(str::to_string);
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| transport(Box::new(e)))?;
        Ok(HttpAnswer {
            status,
            digest,
            body,
        })
    }
}

struct HttpAnswer {
    status: u16,
    digest: Option<String>,
    body: Vec<u8>,
}

impl Backend for RegistryBackend {
    /// `fetch_manifest_digest`: HEAD, and GET only when the registry sends
    /// no `Docker-Content-Digest` (which is also how a missing tag, whose
    /// HEAD has no body, ends up reported with the registry's error body).
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure> {
        let url = manifest_url(reference);
        let head = self.request("HEAD", &url)?;
        if let Some(digest) = head.digest.filter(|d| !d.is_empty()) {
            check_status(head.status, &head.body, &url).map_err(RegistryFailure::Registry)?;
            if let Some(wanted) = reference.digest() {
                let same_algorithm = wanted.split(':').next() == digest.split(':').next();
                if same_algorithm && wanted != digest {
                    return Err(RegistryFailure::Registry(
                        oci_client::errors::DigestError::VerificationError {
                            expected: wanted.to_string(),
                            actual: digest,
                        }
                        .into(),
                    ));
                }
            }
            return Ok(digest);
        }
        let get = self.request("GET", &url)?;
        check_status(get.status, &get.body, &url).map_err(RegistryFailure::Registry)?;
        content_digest(&get.body, get.digest.as_deref(), reference.digest())
            .map_err(RegistryFailure::Registry)
    }

    /// `pull_manifest`: GET, check the digest, parse, re-serialise.
    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure> {
        let url = manifest_url(reference);
        let get = self.request("GET", &url)?;
        check_status(get.status, &get.body, &url).map_err(RegistryFailure::Registry)?;
        content_digest(&get.body, get.digest.as_deref(), reference.digest())
            .map_err(RegistryFailure::Registry)?;
        host_view(&get.body).map_err(RegistryFailure::Registry)
    }
}

/// A registry in memory, for benchmarks and network-free tests. It stores
/// manifests like a registry (under the tag and under their own digest) and
/// fails like `docker-registry` 2.8 does for anything it does not hold.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: RwLock<MemoryEntries>,
}

#[derive(Debug, Default)]
struct MemoryEntries {
    digests: HashMap<String, String>,
    manifests: HashMap<String, Vec<u8>>,
    /// The `oci_manifest` answer of each manifest the host accepts,
    /// serialised when stored.
    answers: HashMap<String, Arc<Vec<u8>>>,
}

/// The map key: the normalised reference, by digest when it has one (the
/// registry looks a `tag@digest` reference up by digest).
fn key_of(reference: &Reference) -> String {
    let name = format!("{}/{}", reference.registry(), reference.repository());
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => format!("{name}@{digest}"),
        (None, tag) => format!("{name}:{}", tag.unwrap_or("latest")),
    }
}

fn digest_key(reference: &Reference, digest: &str) -> String {
    format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    )
}

fn parse_for_store(reference: &str) -> Result<Reference, HostError> {
    Reference::try_from(reference).map_err(|source| HostError::Reference {
        reference: reference.to_string(),
        source,
    })
}

impl MemoryBackend {
    /// An empty registry: every image is "manifest unknown".
    pub fn new() -> Self {
        Self::default()
    }

    /// What a tag resolves to, without its content: the manifest at that
    /// digest is answered as an OCI image manifest without layers (the
    /// policy reads only its media type), unless one was stored.
    pub fn set_digest(&self, reference: &str, digest: &str) -> Result<(), HostError> {
        let parsed = parse_for_store(reference)?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.digests.insert(key_of(&parsed), digest.to_string());
        let at_digest = digest_key(&parsed, digest);
        entries
            .digests
            .insert(at_digest.clone(), digest.to_string());
        if !entries.manifests.contains_key(&at_digest) {
            let stub = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
                "layers": []});
            let bytes = stub.to_string().into_bytes();
            entries
                .answers
                .insert(at_digest.clone(), Arc::new(bytes.clone()));
            entries.manifests.insert(at_digest, bytes);
        }
        Ok(())
    }

    /// Stores `manifest` (serialised compactly) under `reference` and under
    /// its digest, which it returns.
    pub fn put_manifest(&self, reference: &str, manifest: &Value) -> Result<String, HostError> {
        let bytes = serde_json::to_vec(manifest).map_err(|source| HostError::Manifest {
            reference: reference.to_string(),
            source,
        })?;
        self.put_manifest_bytes(reference, bytes)
    }

    /// As [`MemoryBackend::put_manifest`], byte for byte (the digest is of
    /// exactly these bytes).
    pub fn put_manifest_bytes(&self, reference: &str, bytes: Vec<u8>) -> Result<String, HostError> {
        let parsed = parse_for_store(reference)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let answer = host_view(&bytes)
            .ok()
            .and_then(|view| serde_json::to_vec(&view).ok())
            .map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        for key in [key_of(&parsed), digest_key(&parsed, &digest)] {
            entries.digests.insert(key.clone(), digest.clone());
            entries.manifests.insert(key.clone(), bytes.clone());
            match &answer {
                Some(answer) => entries.answers.insert(key, Arc::clone(answer)),
                None => entries.answers.remove(&key),
            };
        }
        Ok(digest)
    }

    /// Forgets what `reference` points to (a deleted tag).
    pub fn remove(&self, reference: &str) -> Result<(), HostError> {
        let key = key_of(&parse_for_store(reference)?);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.digests.remove(&key);
        entries.manifests.remove(&key);
        entries.answers.remove(&key);
        Ok(())
    }

    /// `docker-registry`'s answer to an unknown manifest, as `oci-client`
    /// reports it.
    fn unknown(reference: &Reference) -> RegistryFailure {
        let body = json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {}}]});
        match check_status(404, body.to_string().as_bytes(), &manifest_url(reference)) {
            Err(error) => RegistryFailure::Registry(error),
            Ok(()) => RegistryFailure::Registry(OciDistributionError::ImageManifestNotFoundError(
                reference.whole(),
            )),
        }
    }
}

impl Backend for MemoryBackend {
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .digests
            .get(&key_of(reference))
            .cloned()
            .ok_or_else(|| Self::unknown(reference))
    }

    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let body = entries
            .manifests
            .get(&key_of(reference))
            .ok_or_else(|| Self::unknown(reference))?;
        host_view(body).map_err(RegistryFailure::Registry)
    }

    /// The answer serialised when the manifest was stored; a manifest the
    /// host refuses is re-read for its error.
    fn oci_manifest_answer(&self, reference: &Reference) -> Result<Vec<u8>, String> {
        let cached = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .answers
            .get(&key_of(reference))
            .cloned();
        match cached {
            Some(answer) => Ok(answer.as_ref().clone()),
            None => {
                let manifest = self
                    .oci_manifest(reference)
                    .map_err(|e| callback_failure(&e))?;
                serde_json::to_vec(&manifest).map_err(|e| e.to_string())
            }
        }
    }
}

/// Measuring and capping guest memory needs the memory object itself (or
/// the store, for a `ResourceLimiter`), which `wasmtime-provider` keeps
/// private: the engine gets a memory creator whose memories report their
/// size to the evaluation that created them and refuse to grow past the cap.
mod memory {
    use std::cell::RefCell;
    use std::ptr::NonNull;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use super::MemoryObservation;

    use wasmtime_provider::wasmtime::{Config, LinearMemory, MemoryCreator, MemoryType};

    /// A wasm page: the unit of growth, and its alignment keeps the base
    /// page-aligned as `LinearMemory` asks.
    const PAGE: usize = 65536;

    #[repr(C, align(65536))]
    struct Page([u8; PAGE]);

    thread_local! {
        /// The evaluation running on this thread: instantiation happens on
        /// the caller's thread, so this attributes the memory it creates.
        static CURRENT: RefCell<Option<Arc<MemoryObservation>>> = const { RefCell::new(None) };
    }

    /// Sets [`CURRENT`] for the duration of one evaluation.
    pub(super) struct Scope(Option<Arc<MemoryObservation>>);

    impl Scope {
        pub(super) fn enter(observed: Option<Arc<MemoryObservation>>) -> Scope {
            Scope(CURRENT.with(|c| c.replace(observed)))
        }
    }

    impl Drop for Scope {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }

    /// No reservation and no guard region: with those the compiled code
    /// bounds-checks every access against the current length, which is what
    /// lets a plain heap allocation (that may move on growth) back the memory.
    /// `cap` bounds every memory the engine creates, in bytes.
    pub(super) fn configure(config: &mut Config, cap: Option<usize>) {
        config
            .with_host_memory(Arc::new(TrackingCreator { cap }))
            .memory_reservation(0)
            .memory_guard_size(0)
            .memory_reservation_for_growth(0)
            .memory_init_cow(false);
    }

    struct TrackingCreator {
        cap: Option<usize>,
    }

    // SAFETY: the memories it returns satisfy `LinearMemory`'s contract (see
    // below); the engine is configured with no reservation and no guard, so
    // wasmtime neither expects a fixed base nor elides bounds checks.
    unsafe impl MemoryCreator for TrackingCreator {
        fn new_memory(
            &self,
            _ty: MemoryType,
            minimum: usize,
            maximum: Option<usize>,
            reserved_size_in_bytes: Option<usize>,
            guard_size_in_bytes: usize,
        ) -> Result<Box<dyn LinearMemory>, String> {
            if reserved_size_in_bytes.unwrap_or(0) != 0 || guard_size_in_bytes != 0 {
                return Err("the memory-measuring engine needs memory_reservation(0) and memory_guard_size(0)".into());
            }
            let mut pages = Vec::new();
            let base = BasePtr::of(&mut pages);
            let mut memory = TrackedMemory {
                pages,
                base,
                len: 0,
                maximum,
                cap: self.cap,
                observed: CURRENT.with(|c| c.borrow().clone()),
            };
            memory.grow_to(minimum).map_err(|e| e.to_string())?;
            Ok(Box::new(memory))
        }
    }

    /// The base pointer, refreshed after every reallocation.
    struct BasePtr(NonNull<u8>);

    impl BasePtr {
        /// Taken through `as_mut_ptr`, so wasmtime may write through it.
        fn of(pages: &mut Vec<Page>) -> BasePtr {
            BasePtr(NonNull::new(pages.as_mut_ptr().cast::<u8>()).unwrap_or(NonNull::dangling()))
        }
    }

    // SAFETY: the pointer is only an address handed to wasmtime; the pages
    // it points into are owned by the same `TrackedMemory`, which wasmtime
    // accesses from one thread at a time.
    unsafe impl Send for BasePtr {}
    // SAFETY: as above; `TrackedMemory` never dereferences it.
    unsafe impl Sync for BasePtr {}

    struct TrackedMemory {
        pages: Vec<Page>,
        base: BasePtr,
        len: usize,
        /// The module's declared maximum.
        maximum: Option<usize>,
        /// The runtime limit, refused (and recorded) like a declared maximum.
        cap: Option<usize>,
        observed: Option<Arc<MemoryObservation>>,
    }

    // SAFETY: `as_ptr` is the start of `pages`, which are zero-initialised,
    // 64 KiB-aligned and at least `byte_size()` long; `byte_capacity()` is
    // what is allocated and initialised, so growth within it never moves the
    // base; growth beyond it may move it, which the engine allows
    // (`memory_may_move` is on and nothing is reserved).
    unsafe impl LinearMemory for TrackedMemory {
        fn byte_size(&self) -> usize {
            self.len
        }

        fn byte_capacity(&self) -> usize {
            self.pages.len() * PAGE
        }

        fn grow_to(&mut self, new_size: usize) -> wasmtime_provider::wasmtime::Result<()> {
            if let Some(cap) = self.cap.filter(|&cap| new_size > cap) {
                if let Some(observed) = &self.observed {
                    observed
                        .refused
                        .fetch_max(new_size as u64, Ordering::Relaxed);
                }
                wasmtime_provider::wasmtime::bail!(
                    "cannot grow the memory to {new_size} bytes: the runtime limit is {cap} bytes"
                );
            }
            if self.maximum.is_some_and(|max| new_size > max) {
                wasmtime_provider::wasmtime::bail!(
                    "cannot grow the memory to {new_size} bytes: the maximum is {:?}",
                    self.maximum
                );
            }
            let pages = new_size.div_ceil(PAGE);
            if pages > self.pages.len() {
                let more = pages - self.pages.len();
                self.pages.try_reserve_exact(more).map_err(|e| {
                    wasmtime_provider::wasmtime::format_err!(
                        "cannot grow the memory to {new_size} bytes: {e}"
                    )
                })?;
                self.pages.resize_with(pages, || Page([0; PAGE]));
                self.base = BasePtr::of(&mut self.pages);
            }
            self.len = new_size;
            if let Some(observed) = &self.observed {
                observed.peak.fetch_max(new_size as u64, Ordering::Relaxed);
            }
            Ok(())
        }

        fn as_ptr(&self) -> *mut u8 {
            self.base.0.as_ptr()
        }
    }
}

#[cfg(test)]
mod tests {
    //! The host-call side without a guest: dispatch order, error text,
    //! normalisation and re-serialisation, and the HTTP backend against a
    //! scripted server (the real registry is exercised in `tests/host.rs`).

    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    fn call(
        backend: &dyn Backend,
        namespace: &str,
        operation: &str,
        image: &str,
    ) -> Result<Value, String> {
        let payload = serde_json::to_vec(image).unwrap();
        dispatch(backend, "kubewarden", namespace, operation, &payload)
            .map(|bytes| serde_json::from_slice(&bytes).unwrap())
    }

    fn manifest() -> Value {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", "4".repeat(64)), "size": 2, "data": "e30="},
            "layers": [{"mediaType": "application/jose+json", "digest": format!("sha256:{}", "1".repeat(64)), "size": 3, "data": "YWJj", "annotations": {"k": "v"}}],
            "annotations": {"a": "b"}
        })
    }

    #[test]
    fn missing_manifests_fail_with_the_registry_text() {
        let backend = MemoryBackend::new();
        let error = call(
            &backend,
            "oci",
            "v1/manifest_digest",
            "registry.example.com/app:v1",
        )
        .unwrap_err();
        let registry = "Registry error: url https://registry.example.com/v2/app/manifests/v1, \
                        envelope: OCI API errors: [OCI API error: manifest unknown]";
        assert_eq!(
            error,
            format!("Callback evaluation failure: Fail to interact with OCI registry: {registry}\n\nCaused by:\n    {registry}")
        );
        let error = call(
            &backend,
            "oci",
            "v1/oci_manifest",
            &format!("127.0.0.1:5000/app@sha256:{}", "a".repeat(64)),
        )
        .unwrap_err();
        assert!(
            error.contains("url http://127.0.0.1:5000/v2/app/manifests/sha256:"),
            "{error}"
        );
    }

    #[test]
    fn references_are_normalised_like_the_host() {
        let backend = MemoryBackend::new();
        let digest = backend.put_manifest("busybox", &manifest()).unwrap();
        for image in [
            "busybox",
            "busybox:latest",
            "docker.io/library/busybox",
            "index.docker.io/library/busybox:latest",
        ] {
            assert_eq!(
                call(&backend, "oci", "v1/manifest_digest", image).unwrap(),
                json!({ "digest": digest }),
                "{image}"
            );
        }
        // By digest, and tag+digest looks up the digest.
        assert!(call(
            &backend,
            "oci",
            "v1/oci_manifest",
            &format!("busybox@{digest}")
        )
        .is_ok());
        assert!(call(
            &backend,
            "oci",
            "v1/oci_manifest",
            &format!("busybox:other@{digest}")
        )
        .is_ok());
        assert!(call(&backend, "oci", "v1/oci_manifest", "busybox:other").is_err());
        assert_eq!(
            manifest_url(&Reference::try_from("busybox").unwrap()),
            "https://index.docker.io/v2/library/busybox/manifests/latest"
        );
        assert_eq!(
            manifest_url(&Reference::try_from("localhost:5000/a/b").unwrap()),
            "http://localhost:5000/v2/a/b/manifests/latest"
        );
        assert_eq!(scheme_for("[::1]:5000"), "http");
        assert_eq!(scheme_for("registry.example.com:5000"), "https");

        let error = call(&backend, "oci", "v1/manifest_digest", "UPPER/Case:1").unwrap_err();
        assert!(
            error.starts_with("Callback evaluation failure: Invalid OCI image reference: "),
            "{error}"
        );
        backend.remove("busybox").unwrap();
        assert!(call(&backend, "oci", "v1/manifest_digest", "busybox").is_err());
    }

    #[test]
    fn manifests_are_reserialised_without_descriptor_data() {
        let backend = MemoryBackend::new();
        backend
            .put_manifest("registry.example.com/app:v1", &manifest())
            .unwrap();
        let answer = call(
            &backend,
            "oci",
            "v1/oci_manifest",
            "registry.example.com/app:v1",
        )
        .unwrap();
        assert!(answer["config"].get("data").is_none(), "{answer}");
        assert!(answer["layers"][0].get("data").is_none(), "{answer}");
        assert_eq!(answer["layers"][0]["annotations"]["k"], "v");
        assert_eq!(answer["annotations"]["a"], "b");
        assert_eq!(answer["artifactType"], "application/vnd.example");

        let mut artifact = manifest();
        artifact["mediaType"] = json!("application/vnd.oci.artifact.manifest.v1+json");
        backend
            .put_manifest("registry.example.com/app:artifact", &artifact)
            .unwrap();
        let error = call(
            &backend,
            "oci",
            "v1/oci_manifest",
            "registry.example.com/app:artifact",
        )
        .unwrap_err();
        assert!(
            error.contains("Unsupported media type: application/vnd.oci.artifact.manifest.v1+json"),
            "{error}"
        );
    }

    #[test]
    fn stored_answers_are_what_the_host_would_serialise() {
        let backend = MemoryBackend::new();
        backend
            .put_manifest("registry.example.com/app:v1", &manifest())
            .unwrap();
        let reference = Reference::try_from("registry.example.com/app:v1").unwrap();
        let fresh = serde_json::to_vec(&backend.oci_manifest(&reference).unwrap()).unwrap();
        assert_eq!(backend.oci_manifest_answer(&reference).unwrap(), fresh);
        // Replaced by a manifest the host refuses: the error, not the old answer.
        let mut artifact = manifest();
        artifact["mediaType"] = json!("application/vnd.oci.artifact.manifest.v1+json");
        backend
            .put_manifest("registry.example.com/app:v1", &artifact)
            .unwrap();
        let error = backend.oci_manifest_answer(&reference).unwrap_err();
        assert!(error.contains("Unsupported media type"), "{error}");
    }

    #[test]
    fn only_the_granted_capabilities_answer() {
        let backend = MemoryBackend::new();
        let error = call(&backend, "oci", "v1/oci_manifest_config", "busybox").unwrap_err();
        assert_eq!(
            error,
            "Policy has not been granted access to the 'oci/v1/oci_manifest_config' host capability. \
             The violation has been reported."
        );
        assert!(call(&backend, "crypto", "v1/is_certificate_trusted", "x")
            .unwrap_err()
            .contains("'crypto/v1/is_certificate_trusted'"));
        assert_eq!(
            dispatch(&backend, "other", "oci", "v1/oci_manifest", b"\"a\"").unwrap_err(),
            "unknown binding: other"
        );
        assert_eq!(
            dispatch(&backend, "kubewarden", "tracing", "log", b"{}").unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(
            dispatch(&backend, "kubewarden", "tracing", "x", b"{}").unwrap_err(),
            "unknown operation: x"
        );
        // A payload that is not a JSON string fails before any lookup.
        let error =
            dispatch(&backend, "kubewarden", "oci", "v1/manifest_digest", b"{}").unwrap_err();
        assert!(error.starts_with("invalid type: map"), "{error}");
    }

    /// A one-response-per-connection HTTP server on loopback.
    fn serve(responses: Vec<String>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for (stream, response) in listener.incoming().zip(responses) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                stream.write_all(response.as_bytes()).unwrap();
            }
        });
        address
    }

    fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut text = format!(
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text + "\r\n" + body
    }

    fn registry_error(address: &str, image: &str, operation: &str) -> String {
        let reference = Reference::try_from(format!("{address}/{image}")).unwrap();
        let backend = RegistryBackend::new();
        let failure = match operation {
            "digest" => backend.manifest_digest(&reference).unwrap_err(),
            _ => backend.oci_manifest(&reference).unwrap_err(),
        };
        callback_failure(&failure)
    }

    #[test]
    fn http_failures_read_like_oci_client_errors() {
        let not_found = response("404 Not Found", &[], "404 page not found");
        let address = serve(vec![
            response("404 Not Found", &[], ""),
            not_found.clone(),
            not_found,
        ]);
        let url = format!("http://{address}/v2/app/manifests/v1");
        let expected = format!("Server error: url {url}, code: 404, message: 404 page not found");
        assert_eq!(
            registry_error(&address, "app:v1", "digest"),
            format!("Callback evaluation failure: Fail to interact with OCI registry: {expected}\n\nCaused by:\n    {expected}")
        );
        assert!(registry_error(&address, "app:v1", "manifest").contains(&expected));

        let address = serve(vec![response("401 Unauthorized", &[], "{}")]);
        let text = registry_error(&address, "app:v1", "manifest");
        assert!(
            text.contains(&format!(
                "Not authorized: url http://{address}/v2/app/manifests/v1"
            )),
            "{text}"
        );

        let body = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}"#;
        let address = serve(vec![response(
            "404 Not Found",
            &[("Content-Type", "application/json")],
            body,
        )]);
        let text = registry_error(&address, "app:v1", "manifest");
        assert!(
            text.contains(&format!("Registry error: url http://{address}/v2/app/manifests/v1, envelope: OCI API errors: [OCI API error: manifest unknown]")),
            "{text}"
        );

        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let text = registry_error(&closed, "app:v1", "digest");
        assert!(
            text.starts_with(&format!("Callback evaluation failure: Fail to interact with OCI registry: error sending request for url (http://{closed}/v2/app/manifests/v1)\n\nCaused by:\n    0: ")),
            "{text}"
        );
        assert!(text.contains("Connection refused"), "{text}");
    }

    #[test]
    fn http_answers_are_checked_and_reserialised() {
        let body = serde_json::to_string(&manifest()).unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes())));
        let wrong = format!("sha256:{}", "0".repeat(64));
        let address = serve(vec![
            // manifest_digest: the HEAD's header is the answer.
            response("200 OK", &[("Docker-Content-Digest", &digest)], ""),
            // manifest_digest without the header: GET and hash.
            response("200 OK", &[], ""),
            response("200 OK", &[], &body),
            // oci_manifest: checked against the header, data dropped.
            response("200 OK", &[("Docker-Content-Digest", &digest)], &body),
            // A body that does not match its header.
            response("200 OK", &[("Docker-Content-Digest", &wrong)], &body),
        ]);
        let reference = Reference::try_from(format!("{address}/app:v1")).unwrap();
        let backend = RegistryBackend::new();
        assert_eq!(backend.manifest_digest(&reference).unwrap(), digest);
        assert_eq!(backend.manifest_digest(&reference).unwrap(), digest);
        let answer = backend.oci_manifest(&reference).unwrap();
        assert!(answer["layers"][0].get("data").is_none(), "{answer}");
        let text = callback_failure(&backend.oci_manifest(&reference).unwrap_err());
        assert!(
            text.contains(&format!(
                "Digest error: Invalid digest. Expected {wrong}, got {digest}"
            )),
            "{text}"
        );
    }
}
