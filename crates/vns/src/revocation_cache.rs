//! A cache of OCSP responses and CRLs fetched online, for `vns serve`: many
//! images are signed by one chain, so without it every verification would
//! ask the same responders the same questions.
//!
//! An answer is kept only until its own nextUpdate (never past it: after
//! that the verifier would call it stale anyway); an answer without
//! nextUpdate is not kept, since nothing says how long it stays true. The
//! key is the URL and the request (the DER OCSP request; nothing for a
//! CRL), so two certificates never share an answer. The cache is bounded in
//! entries and in bytes. Nothing here is trusted more than a fresh fetch:
//! the verifier checks every cached answer in full, as it checks a fetched
//! one. Concurrent misses for one answer share one fetch (a burst of
//! images signed by one chain, at start or when an answer goes stale).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;

/// Default bounds: a chain of three certificates per signer, a few hundred
/// signers, and CRLs of up to 512 KiB (the largest `vns` fetches).
pub const DEFAULT_MAX_ENTRIES: usize = 1024;
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Ocsp,
    Crl,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: Kind,
    url: String,
    request: Vec<u8>,
}

impl Key {
    fn new(kind: Kind, url: &str, request: &[u8]) -> Self {
        Key {
            kind,
            url: url.to_string(),
            request: request.to_vec(),
        }
    }
}

/// A poisoned lock only means a panic elsewhere while holding it; each
/// update is one insert or remove, so the map stays consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Entry {
    der: Vec<u8>,
    next_update: DateTime<Utc>,
}

/// A fetch in progress: its outcome, shared by everyone who asked meanwhile.
type Flight = Arc<tokio::sync::OnceCell<Result<Vec<u8>, String>>>;

pub struct RevocationCache {
    entries: Mutex<HashMap<Key, Entry>>,
    inflight: Mutex<HashMap<Key, Flight>>,
    max_entries: usize,
    max_bytes: usize,
    /// Answers served without a fetch of the caller's own (from the cache
    /// or a fetch in progress), and fetches made.
    pub hits: Counter,
    pub misses: Counter,
}

impl RevocationCache {
    #[cfg(test)]
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self::with_counters(
            max_entries,
            max_bytes,
            Counter::default(),
            Counter::default(),
        )
    }

    /// Counting into `hits` and `misses` (the server's metrics).
    pub fn with_counters(
        max_entries: usize,
        max_bytes: usize,
        hits: Counter,
        misses: Counter,
    ) -> Self {
        RevocationCache {
            entries: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
            max_bytes,
            hits,
            misses,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        lock(&self.entries)
    }

    /// The kept answer for (`url`, `request`) if its nextUpdate is still
    /// ahead of `now`; counts a hit or a miss.
    #[cfg(test)]
    pub fn get(
        &self,
        kind: Kind,
        url: &str,
        request: &[u8],
        now: DateTime<Utc>,
    ) -> Option<Vec<u8>> {
        let found = self.lookup(&Key::new(kind, url, request), now);
        if found.is_some() {
            self.hits.inc();
        } else {
            self.misses.inc();
        }
        found
    }

    fn lookup(&self, key: &Key, now: DateTime<Utc>) -> Option<Vec<u8>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(e) if e.next_update > now => Some(e.der.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// The kept answer, else the outcome of `fetch`, kept if it can be.
    /// Callers that miss while a fetch of the same answer is in progress
    /// wait for it and share its outcome (an error too: they asked at the
    /// same moment), so a burst of verifications asks a responder once.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        kind: Kind,
        url: &str,
        request: &[u8],
        now: DateTime<Utc>,
        fetch: F,
    ) -> Result<Vec<u8>, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, String>>,
    {
        let key = Key::new(kind, url, request);
        if let Some(der) = self.lookup(&key, now) {
            self.hits.inc();
            return Ok(der);
        }
        let flight = lock(&self.inflight).entry(key.clone()).or_default().clone();
        let mut fetched = false;
        let outcome = flight
            .get_or_init(|| async {
                fetched = true;
                let outcome = fetch().await;
                if let Ok(der) = &outcome {
                    self.put(kind, url, request, der, now);
                }
                outcome
            })
            .await
            .clone();
        if fetched {
            self.misses.inc();
        } else {
            self.hits.inc();
        }
        // The flight ends with its first reader: later misses fetch anew
        // (or find the kept answer).
        let mut inflight = lock(&self.inflight);
        if inflight.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            inflight.remove(&key);
        }
        outcome
    }

    /// Keeps a fetched answer until its nextUpdate; answers without one,
    /// already stale, unparsable or larger than the whole cache are not
    /// kept. Returns whether it was kept.
    pub fn put(
        &self,
        kind: Kind,
        url: &str,
        request: &[u8],
        der: &[u8],
        now: DateTime<Utc>,
    ) -> bool {
        let Some(next_update) = notation_verifier::revocation::next_update(der, kind == Kind::Crl)
        else {
            return false;
        };
        if next_update <= now || der.len() > self.max_bytes {
            return false;
        }
        let mut entries = self.lock();
        entries.retain(|_, e| e.next_update > now);
        let mut bytes: usize = entries.values().map(|e| e.der.len()).sum();
        // Still over a bound: drop the answers that go stale first.
        while !entries.is_empty()
            && (entries.len() >= self.max_entries || bytes + der.len() > self.max_bytes)
        {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.next_update)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = entries.remove(&oldest) {
                bytes -= e.der.len();
            }
        }
        entries.insert(
            Key::new(kind, url, request),
            Entry {
                der: der.to_vec(),
                next_update,
            },
        );
        true
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use testkit::pki::{KeyKind, TestPki};
    use testkit::revocation::RevocationAuthority;

    /// A real CRL from the testkit's authority, with the given nextUpdate
    /// relative to now.
    fn crl(next_update: Duration) -> (Vec<u8>, DateTime<Utc>) {
        let pki = TestPki::builder(KeyKind::P256)
            .name("cache")
            .build()
            .unwrap();
        let authority = RevocationAuthority::new();
        authority.set_freshness(Duration::minutes(-1), next_update);
        authority.add_issuer("i", &pki.intermediate).unwrap();
        let der = authority.crl("i").unwrap();
        let next = notation_verifier::revocation::next_update(&der, true).unwrap();
        (der, next)
    }

    #[test]
    fn an_answer_is_reused_until_its_next_update_and_never_after() {
        let cache = RevocationCache::new(8, 1 << 20);
        let (der, next) = crl(Duration::hours(1));
        let now = Utc::now();
        assert_eq!(cache.get(Kind::Crl, "http://ca/i.crl", b"", now), None);
        assert!(cache.put(Kind::Crl, "http://ca/i.crl", b"", &der, now));
        assert_eq!(
            cache.get(
                Kind::Crl,
                "http://ca/i.crl",
                b"",
                now + Duration::minutes(30)
            ),
            Some(der.clone())
        );
        // Another URL or another request is another question.
        assert_eq!(cache.get(Kind::Crl, "http://ca/j.crl", b"", now), None);
        assert_eq!(cache.get(Kind::Ocsp, "http://ca/i.crl", b"", now), None);
        assert_eq!(cache.get(Kind::Crl, "http://ca/i.crl", b"x", now), None);
        // At nextUpdate the answer is gone (and removed).
        assert_eq!(cache.get(Kind::Crl, "http://ca/i.crl", b"", next), None);
        assert_eq!(cache.len(), 0);
        assert_eq!((cache.hits.get(), cache.misses.get()), (1, 5));
    }

    #[test]
    fn stale_unparsable_and_oversized_answers_are_not_kept() {
        let cache = RevocationCache::new(8, 1 << 20);
        let now = Utc::now();
        let (stale, _) = crl(Duration::minutes(-1) + Duration::seconds(30));
        assert!(!cache.put(Kind::Crl, "u", b"", &stale, now + Duration::minutes(1)));
        assert!(!cache.put(Kind::Ocsp, "u", b"r", b"not DER", now));
        let (der, _) = crl(Duration::hours(1));
        let small = RevocationCache::new(8, der.len() - 1);
        assert!(!small.put(Kind::Crl, "u", b"", &der, now));
        assert_eq!(cache.len() + small.len(), 0);
    }

    #[test]
    fn the_bounds_drop_the_answers_that_go_stale_first() {
        let (soon, _) = crl(Duration::minutes(10));
        let (later, _) = crl(Duration::hours(2));
        let now = Utc::now();
        let cache = RevocationCache::new(2, 1 << 20);
        assert!(cache.put(Kind::Crl, "soon", b"", &soon, now));
        assert!(cache.put(Kind::Crl, "later", b"", &later, now));
        assert!(cache.put(Kind::Crl, "third", b"", &later, now));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(Kind::Crl, "soon", b"", now), None);
        assert!(cache.get(Kind::Crl, "later", b"", now).is_some());
        // Bounded in bytes too: room for one answer only.
        let tight = RevocationCache::new(8, later.len() + later.len() / 2);
        assert!(tight.put(Kind::Crl, "a", b"", &later, now));
        assert!(tight.put(Kind::Crl, "b", b"", &later, now));
        assert_eq!(tight.len(), 1);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch_and_its_outcome() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = RevocationCache::new(8, 1 << 20);
        let now = Utc::now();
        let (der, _) = crl(Duration::hours(1));
        let calls = AtomicUsize::new(0);
        let slow = |outcome: Result<Vec<u8>, String>| {
            let calls = &calls;
            move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                outcome
            }
        };
        let asked = futures_util::future::join_all((0..8).map(|_| {
            cache.get_or_fetch(
                Kind::Crl,
                "http://ca/i.crl",
                b"",
                now,
                slow(Ok(der.clone())),
            )
        }))
        .await;
        assert!(asked.iter().all(|a| a.as_ref() == Ok(&der)), "{asked:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!((cache.hits.get(), cache.misses.get()), (7, 1));
        // Kept: no fetch now.
        let again = cache
            .get_or_fetch(Kind::Crl, "http://ca/i.crl", b"", now, slow(Ok(Vec::new())))
            .await;
        assert_eq!(again, Ok(der.clone()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A failed fetch is shared by those who asked meanwhile, not kept:
        // the next miss fetches again.
        let failed = futures_util::future::join_all((0..4).map(|_| {
            cache.get_or_fetch(
                Kind::Crl,
                "http://ca/down.crl",
                b"",
                now,
                slow(Err("HTTP 503".into())),
            )
        }))
        .await;
        assert!(
            failed.iter().all(|f| f == &Err("HTTP 503".to_string())),
            "{failed:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let later = cache
            .get_or_fetch(
                Kind::Crl,
                "http://ca/down.crl",
                b"",
                now,
                slow(Ok(der.clone())),
            )
            .await;
        assert_eq!(later, Ok(der));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(
            lock(&cache.inflight).is_empty(),
            "flights end with their readers"
        );
    }
}
