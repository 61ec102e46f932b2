//! Verdicts for the provider: the same steps as `vns verify` (reference,
//! exceptions and trust policy scope first, then the registry and the core
//! verifier, from the signature bundle when the image has one: see
//! `bundled`), with a verdict cache keyed by (repository, digest, settings
//! generation), one verification at a time per key (single-flight), and a
//! deadline per request.
//!
//! The cache is keyed by the digest, not the reference as written: a tag that
//! moves is resolved again on every request (one manifest read), and only
//! the verification of a digest is reused. The repository is part of the
//! key because trust policy statements are chosen by repository.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::{FutureExt, Shared};
use notation_verifier::reference::ImageRef;
use notation_verifier::settings::ValidatedSettings;
use notation_verifier::verdict::ReasonCode;
use tokio::sync::Semaphore;

use super::metrics::{Metrics, SourceLabel};
use crate::registry::{Registry, RegistryOptions};
use crate::revocation_cache::{self, RevocationCache};
use crate::verify::{self, ImageReport, Precheck, Status};

/// More distinct registries than this get a client per request (no
/// connection reuse) instead of a kept one: keys come from admission
/// requests, so the map must stay bounded.
const MAX_KEPT_REGISTRIES: usize = 64;

/// Settings in use, numbered: each accepted reload adds one.
pub struct Loaded {
    pub settings: ValidatedSettings,
    pub generation: u64,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct CacheKey {
    repository: String,
    digest: String,
    generation: u64,
}

struct CacheEntry {
    report: Arc<ImageReport>,
    expires: Instant,
}

type Flight = Shared<Pin<Box<dyn Future<Output = Arc<ImageReport>> + Send>>>;

pub struct EngineConfig {
    pub registry: RegistryOptions,
    pub cache_ttl: Duration,
    pub cache_capacity: usize,
    pub deadline: Duration,
    pub max_verifications: usize,
}

pub struct Engine {
    loaded: RwLock<Arc<Loaded>>,
    registries: Mutex<HashMap<String, Arc<Registry>>>,
    cache: Mutex<HashMap<CacheKey, CacheEntry>>,
    inflight: Mutex<HashMap<CacheKey, Flight>>,
    permits: Arc<Semaphore>,
    /// Online OCSP/CRL answers, shared by every verification and settings
    /// generation (an answer does not depend on the settings).
    revocation: RevocationCache,
    config: EngineConfig,
    pub metrics: Metrics,
}

/// A poisoned lock only means another request panicked while holding it;
/// the maps stay consistent (each update is one insert or remove).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    pub fn new(settings: ValidatedSettings, config: EngineConfig) -> Arc<Self> {
        let metrics = Metrics::new();
        metrics.settings_generation.set(1);
        let revocation = RevocationCache::with_counters(
            revocation_cache::DEFAULT_MAX_ENTRIES,
            revocation_cache::DEFAULT_MAX_BYTES,
            metrics.revocation_cache_hits.clone(),
            metrics.revocation_cache_misses.clone(),
        );
        Arc::new(Engine {
            loaded: RwLock::new(Arc::new(Loaded {
                settings,
                generation: 1,
            })),
            registries: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(config.max_verifications.max(1))),
            revocation,
            config,
            metrics,
        })
    }

    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn deadline(&self) -> Duration {
        self.config.deadline
    }

    /// Installs new settings; verdicts of older generations are dropped.
    pub fn replace_settings(&self, settings: ValidatedSettings) -> u64 {
        let mut slot = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let generation = slot.generation + 1;
        *slot = Arc::new(Loaded {
            settings,
            generation,
        });
        drop(slot);
        lock(&self.cache).clear();
        self.metrics
            .settings_generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
        generation
    }

    fn registry_for(&self, host: &str) -> Arc<Registry> {
        let mut map = lock(&self.registries);
        if let Some(r) = map.get(host) {
            return r.clone();
        }
        let registry = Arc::new(Registry::new(
            self.config.registry.clone(),
            &[host.to_string()],
        ));
        if map.len() < MAX_KEPT_REGISTRIES {
            map.insert(host.to_string(), registry.clone());
        }
        registry
    }

    /// The verdict for one key, within `deadline_at`. Never fails: every
    /// problem is a report with a reason code (fail closed).
    pub async fn decide(self: &Arc<Self>, image: &str, deadline_at: Instant) -> ImageReport {
        let remaining = deadline_at.saturating_duration_since(Instant::now());
        let loaded = self.loaded();
        let now = Utc::now();
        let (reference, report) = match verify::precheck(&loaded.settings, image, now) {
            Precheck::Decided(report) => return report,
            Precheck::NeedsRegistry(reference, report) => (reference, report),
        };
        let pending = report.clone();
        let host = reference.registry().to_string();
        match tokio::time::timeout(remaining, self.verify(reference, report, loaded, now)).await {
            Ok(report) => report,
            Err(_) => {
                self.metrics.deadline_exceeded.inc();
                let mut late = pending;
                late.status = Status::RegistryError;
                late.reason = Some(ReasonCode::RegistryError);
                late.hint = Some(ReasonCode::RegistryError.hint().to_string());
                late.message = Some(format!(
                    "registry {host}: no verdict within the provider's deadline of {} ms (the registry is slow or unreachable); the verification goes on and a retry gets its verdict",
                    self.config.deadline.as_millis()
                ));
                late
            }
        }
    }

    async fn verify(
        self: &Arc<Self>,
        reference: ImageRef,
        report: ImageReport,
        loaded: Arc<Loaded>,
        now: DateTime<Utc>,
    ) -> ImageReport {
        let registry = self.registry_for(reference.registry());
        let digest = match reference.digest() {
            Some(d) => d.to_string(),
            None => match registry.resolve(&reference).await {
                Ok(d) => d.digest,
                Err(e) => {
                    self.metrics.registry_errors.inc();
                    let mut failed = report;
                    failed.status = Status::RegistryError;
                    failed.reason = Some(ReasonCode::RegistryError);
                    failed.hint = Some(ReasonCode::RegistryError.hint().to_string());
                    failed.message = Some(e.to_string());
                    return failed;
                }
            },
        };
        let key = CacheKey {
            repository: reference.repository_path(),
            digest: digest.clone(),
            generation: loaded.generation,
        };
        let verified = match self.cached(&key) {
            Some(hit) => {
                self.metrics.cache_hits.inc();
                hit
            }
            None => {
                self.metrics.cache_misses.inc();
                let mut blank = report.clone();
                blank.warnings.clear();
                self.flight(
                    key,
                    reference.at_digest(&digest),
                    blank,
                    registry,
                    loaded,
                    now,
                )
                .await
            }
        };
        // The verification is shared by every reference of this digest; the
        // reference, and what its exceptions said, are this key's own.
        let mut merged = (*verified).clone();
        merged.image = report.image;
        merged.normalized = report.normalized;
        let mut warnings = report.warnings;
        warnings.append(&mut merged.warnings);
        merged.warnings = warnings;
        merged
    }

    fn cached(&self, key: &CacheKey) -> Option<Arc<ImageReport>> {
        let mut cache = lock(&self.cache);
        match cache.get(key) {
            Some(e) if e.expires > Instant::now() => Some(e.report.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    /// Joins the verification of `key` under way, or starts it. It runs in
    /// its own task: a request that gives up at its deadline leaves it to
    /// finish and fill the cache for the retry.
    fn flight(
        self: &Arc<Self>,
        key: CacheKey,
        pinned: String,
        blank: ImageReport,
        registry: Arc<Registry>,
        loaded: Arc<Loaded>,
        now: DateTime<Utc>,
    ) -> Flight {
        let mut inflight = lock(&self.inflight);
        if let Some(f) = inflight.get(&key) {
            return f.clone();
        }
        // A verification that finished between the cache lookup and here.
        if let Some(hit) = self.cached(&key) {
            return (Box::pin(async move { hit }) as Pin<Box<dyn Future<Output = _> + Send>>)
                .shared();
        }
        let engine = self.clone();
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let report = engine
                .run_verification(&pinned, blank, &registry, &loaded, now)
                .await;
            let report = Arc::new(report);
            // Registry errors are not verdicts: the next request tries again.
            if report.status != Status::RegistryError {
                engine.store(task_key.clone(), report.clone());
            }
            lock(&engine.inflight).remove(&task_key);
            report
        });
        let image = key.repository.clone();
        let flight: Flight = (Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                let mut r = ImageReport::new(&image);
                r.status = Status::RegistryError;
                r.reason = Some(ReasonCode::RegistryError);
                r.message = Some(format!("the verification task failed: {e}"));
                Arc::new(r)
            })
        }) as Pin<Box<dyn Future<Output = _> + Send>>)
            .shared();
        inflight.insert(key, flight.clone());
        flight
    }

    async fn run_verification(
        &self,
        pinned: &str,
        blank: ImageReport,
        registry: &Registry,
        loaded: &Loaded,
        now: DateTime<Utc>,
    ) -> ImageReport {
        // Bounds the registry load of a burst of distinct images.
        let _permit = self.permits.acquire().await;
        self.metrics.verifications.inc();
        let reference = match ImageRef::parse(pinned) {
            Ok(r) => r,
            Err(e) => {
                let mut r = blank;
                r.status = Status::Failed;
                r.reason = Some(ReasonCode::InvalidReference);
                r.hint = Some(ReasonCode::InvalidReference.hint().to_string());
                r.message = Some(e.to_string());
                return r;
            }
        };
        let settings = &loaded.settings;
        // The bundle when the image has one (its verdict alone, as the
        // policy's), else the registry's signatures with online revocation.
        let digest = reference.digest().unwrap_or_default().to_string();
        let site = super::bundled::site(settings, &reference, &digest);
        let external = match &site {
            Ok(s) if s.external => Some(self.registry_for(s.repository.registry())),
            _ => None,
        };
        let bundle_registry: &Registry = external.as_deref().unwrap_or(registry);
        let (source, report) = match super::bundled::verify(
            registry,
            bundle_registry,
            site,
            settings,
            &reference,
            &digest,
            blank.clone(),
            now,
        )
        .await
        {
            Some(report) => ("bundle", report),
            None => {
                let cache = Some(&self.revocation);
                let report = verify::verify_reference_cached(
                    registry, settings, &reference, blank, now, cache,
                )
                .await;
                ("registry", report)
            }
        };
        if report.status != Status::RegistryError {
            self.metrics
                .signature_sources
                .get_or_create(&SourceLabel { source })
                .inc();
        }
        if report.status == Status::RegistryError {
            self.metrics.registry_errors.inc();
        }
        report
    }

    fn store(&self, key: CacheKey, report: Arc<ImageReport>) {
        let mut cache = lock(&self.cache);
        let now = Instant::now();
        if cache.len() >= self.config.cache_capacity {
            cache.retain(|_, e| e.expires > now);
            if cache.len() >= self.config.cache_capacity {
                // Still full of live entries: start over rather than track
                // recency; a miss costs one verification.
                cache.clear();
            }
        }
        cache.insert(
            key,
            CacheEntry {
                report,
                expires: now + self.config.cache_ttl,
            },
        );
    }
}
