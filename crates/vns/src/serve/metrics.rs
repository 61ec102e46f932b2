//! Prometheus metrics of `vns serve` (OpenMetrics text at `/metrics`):
//! requests, verdicts by reason, latency, cache, single-flight
//! verifications, signature sources, the revocation cache, registry errors
//! and settings reloads.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    /// `ok`, `bad_request` (refused with a systemError) or `rejected` (TLS
    /// handshake succeeded but the path or method is not ours).
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    /// verified, failed, excepted, skipped, error.
    pub verdict: &'static str,
    /// The policy's reason code (NO_SIGNATURE, ...), or `none`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// `bundle` (the signature bundle and its staples) or `registry`
    /// (Referrers API / tag schema, online revocation).
    pub source: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<EndpointLabel, Histogram>,
    pub verdicts: Family<VerdictLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    /// Verifications actually run (after the cache and single-flight): a
    /// burst of requests for one image adds one.
    pub verifications: Counter,
    pub registry_errors: Counter,
    /// Verifications by where the signatures were read.
    pub signature_sources: Family<SourceLabel, Counter>,
    /// Online OCSP/CRL answers reused from the revocation cache, and
    /// fetched because it had none (shared with the cache).
    pub revocation_cache_hits: Counter,
    pub revocation_cache_misses: Counter,
    pub deadline_exceeded: Counter,
    pub reloads: Family<ResultLabel, Counter>,
    pub settings_generation: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vns_provider");
        let requests = Family::<RequestLabels, Counter>::default();
        // 1 ms to ~16 s: cache hits are sub-millisecond, cold verifications
        // with online revocation take seconds.
        let latency = Family::<EndpointLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let verdicts = Family::<VerdictLabels, Counter>::default();
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let verifications = Counter::default();
        let registry_errors = Counter::default();
        let signature_sources = Family::<SourceLabel, Counter>::default();
        let revocation_cache_hits = Counter::default();
        let revocation_cache_misses = Counter::default();
        let deadline_exceeded = Counter::default();
        let reloads = Family::<ResultLabel, Counter>::default();
        let settings_generation = Gauge::default();
        registry.register(
            "requests",
            "Provider requests by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a provider request",
            latency.clone(),
        );
        registry.register(
            "verdicts",
            "Per-image verdicts by reason code",
            verdicts.clone(),
        );
        registry.register(
            "cache_hits",
            "Verdicts answered from the cache",
            cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Verdicts not in the cache",
            cache_misses.clone(),
        );
        registry.register(
            "verifications",
            "Verifications run (one per image digest and settings generation, single-flight)",
            verifications.clone(),
        );
        registry.register(
            "registry_errors",
            "Images that could not be read from their registry",
            registry_errors.clone(),
        );
        registry.register(
            "signature_source",
            "Verifications by where the signatures were read: bundle or registry",
            signature_sources.clone(),
        );
        registry.register(
            "revocation_cache_hits",
            "Online OCSP responses and CRLs reused from the cache (before their nextUpdate)",
            revocation_cache_hits.clone(),
        );
        registry.register(
            "revocation_cache_misses",
            "Online OCSP responses and CRLs fetched because the cache had none",
            revocation_cache_misses.clone(),
        );
        registry.register(
            "deadline_exceeded",
            "Images not decided within the request deadline",
            deadline_exceeded.clone(),
        );
        registry.register(
            "settings_reloads",
            "Settings file reloads: ok, or refused (invalid file, old settings kept)",
            reloads.clone(),
        );
        registry.register(
            "settings_generation",
            "Generation of the settings in use (1 at start, +1 per accepted reload)",
            settings_generation.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            verdicts,
            cache_hits,
            cache_misses,
            verifications,
            registry_errors,
            signature_sources,
            revocation_cache_hits,
            revocation_cache_misses,
            deadline_exceeded,
            reloads,
            settings_generation,
        }
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
