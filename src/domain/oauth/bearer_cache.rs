//! A short-lived, bounded cache of bearer checks that passed (keyed by `jti`, after the
//! signature and claims were verified), so repeated calls with one access token — a browser app
//! polling `/userinfo` — cost no database round trip.
//!
//! Consistency: a revocation made through this instance clears the cache at once; one made on
//! another instance is seen here within the TTL (`AUTHD_BEARER_CACHE_SECS`, default 1 s; 0
//! turns the cache off). Introspection never uses the cache: resource servers that must see a
//! revocation immediately ask there.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most entries kept; when full the cache is emptied (cheap, and rare: one entry per live token).
const MAX_ENTRIES: usize = 100_000;

/// jti → (valid until, unix seconds; the subject's email).
#[derive(Debug, Default)]
pub(crate) struct BearerCache {
    ttl: i64,
    map: Mutex<HashMap<String, (i64, Option<String>)>>,
}

impl BearerCache {
    pub(crate) fn new(ttl: i64) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The cached email lookup for an active token, if fresh.
    pub(crate) fn get(&self, jti: &str, now: i64) -> Option<Option<String>> {
        if self.ttl <= 0 {
            return None;
        }
        let map = self.map.lock().ok()?;
        map.get(jti)
            .filter(|(until, _)| *until > now)
            .map(|(_, email)| email.clone())
    }

    /// Remembers that `jti` was active at `now`.
    pub(crate) fn put(&self, jti: &str, now: i64, email: Option<String>) {
        if self.ttl <= 0 {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(jti.to_owned(), (now + self.ttl, email));
        }
    }

    /// Forgets everything (after any revocation through this instance).
    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_clear() {
        let c = BearerCache::new(1);
        c.put("a", 100, Some("x@example.com".into()));
        assert_eq!(c.get("a", 100), Some(Some("x@example.com".into())));
        assert_eq!(c.get("a", 101), None, "expired after the TTL");
        c.put("a", 101, None);
        c.clear();
        assert_eq!(c.get("a", 101), None);
        let off = BearerCache::new(0);
        off.put("a", 1, None);
        assert_eq!(off.get("a", 1), None);
    }
}
