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
//! one.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

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

struct Entry {
    der: Vec<u8>,
    next_update: DateTime<Utc>,
}

pub struct RevocationCache {
    entries: Mutex<HashMap<Key, Entry>>,
    max_entries: usize,
    max_bytes: usize,
    /// Answers served from the cache, and fetches made because none was.
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
            max_entries: max_entries.max(1),
            max_bytes,
            hits,
            misses,
        }
    }

    /// A poisoned lock only means a panic elsewhere while holding it; each
    /// update is one insert or remove, so the map stays consistent.
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept answer for (`url`, `request`) if its nextUpdate is still
    /// ahead of `now`; counts a hit or a miss.
    pub fn get(
        &self,
        kind: Kind,
        url: &str,
        request: &[u8],
        now: DateTime<Utc>,
    ) -> Option<Vec<u8>> {
        let key = Key {
            kind,
            url: url.to_string(),
            request: request.to_vec(),
        };
        let mut entries = self.lock();
        let found = match entries.get(&key) {
            Some(e) if e.next_update > now => Some(e.der.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        };
        if found.is_some() {
            self.hits.inc();
        } else {
            self.misses.inc();
        }
        found
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
            Key {
                kind,
                url: url.to_string(),
                request: request.to_vec(),
            },
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
}
