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

/// What a bearer check reads of the token's subject, in the same round trip (userinfo's claims).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SubjectInfo {
    /// The account's email (`None`: the subject is a client, or the account is gone).
    pub email: Option<String>,
    /// The account's name (OIDC `name`).
    pub name: Option<String>,
    /// When the account's profile last changed (OIDC `updated_at`).
    pub updated_at: Option<i64>,
}

/// jti → (valid until, unix seconds; the subject).
#[derive(Debug, Default)]
pub(crate) struct BearerCache {
    ttl: i64,
    map: Mutex<HashMap<String, (i64, SubjectInfo)>>,
}

impl BearerCache {
    pub(crate) fn new(ttl: i64) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The cached subject lookup for an active token, if fresh.
    pub(crate) fn get(&self, jti: &str, now: i64) -> Option<SubjectInfo> {
        if self.ttl <= 0 {
            return None;
        }
        let map = self.map.lock().ok()?;
        map.get(jti)
            .filter(|(until, _)| *until > now)
            .map(|(_, subject)| subject.clone())
    }

    /// Remembers that `jti` was active at `now`.
    pub(crate) fn put(&self, jti: &str, now: i64, subject: SubjectInfo) {
        if self.ttl <= 0 {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(jti.to_owned(), (now + self.ttl, subject));
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
        let x = SubjectInfo {
            email: Some("x@example.com".into()),
            ..SubjectInfo::default()
        };
        c.put("a", 100, x.clone());
        assert_eq!(c.get("a", 100), Some(x));
        assert_eq!(c.get("a", 101), None, "expired after the TTL");
        c.put("a", 101, SubjectInfo::default());
        c.clear();
        assert_eq!(c.get("a", 101), None);
        let off = BearerCache::new(0);
        off.put("a", 1, SubjectInfo::default());
        assert_eq!(off.get("a", 1), None);
    }
}
