//! A short-lived, bounded cache of bearer checks that passed, keyed by the SHA-256 of the whole
//! token (signature included), so repeated calls with one access token — a browser app polling
//! `/userinfo` — cost neither a signature verification nor a database round trip. An entry
//! answers only a byte-identical token, and only while the token itself is unexpired (the same
//! `exp` rule as the full check), so no forged or altered token can ever hit it.
//!
//! Consistency: a revocation made through this instance clears the cache at once; one made on
//! another instance (or a signing key dropped from the ring) is seen here within the TTL
//! (`AUTHD_BEARER_CACHE_SECS`, default 1 s; 0 turns the cache off), counted from the full check
//! that stored the entry: a hit never extends it. Introspection never uses the cache: resource
//! servers that must see a revocation immediately ask there.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::tokens::jwt::{AccessClaims, LEEWAY};
use crate::domain::tokens::verified::{TokenDigest, digest as key};

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

/// SHA-256 of the token → (valid until, unix seconds; its claims; the subject).
#[derive(Debug, Default)]
pub(crate) struct BearerCache {
    ttl: i64,
    map: Mutex<HashMap<TokenDigest, Entry>>,
}

type Entry = (i64, AccessClaims, SubjectInfo);

impl BearerCache {
    pub(crate) fn new(ttl: i64) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The claims and subject of `token` if this instance fully checked it less than the TTL
    /// ago and it has not expired since.
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<(AccessClaims, SubjectInfo)> {
        if self.ttl <= 0 {
            return None;
        }
        let map = self.map.lock().ok()?;
        map.get(&key(token))
            .filter(|(until, claims, _)| *until > now && claims.exp + LEEWAY > now)
            .map(|(_, claims, subject)| (claims.clone(), subject.clone()))
    }

    /// Remembers that `token` passed the full check at `now`.
    pub(crate) fn put(&self, token: &str, now: i64, claims: &AccessClaims, subject: &SubjectInfo) {
        if self.ttl <= 0 {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                key(token),
                (now + self.ttl, claims.clone(), subject.clone()),
            );
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

    fn claims(exp: i64) -> AccessClaims {
        serde_json::from_value(serde_json::json!({
            "iss": "https://id.example", "sub": "u", "aud": "c", "client_id": "c",
            "exp": exp, "iat": 0, "nbf": 0, "jti": "j", "scope": "openid"
        }))
        .unwrap()
    }

    #[test]
    fn entries_expire_and_clear() {
        let c = BearerCache::new(1);
        let x = SubjectInfo {
            email: Some("x@example.com".into()),
            ..SubjectInfo::default()
        };
        c.put("a.b.c", 100, &claims(1000), &x);
        assert_eq!(c.get("a.b.c", 100), Some((claims(1000), x)));
        assert_eq!(
            c.get("a.b.d", 100),
            None,
            "another signature is another token"
        );
        assert_eq!(c.get("a.b.c", 101), None, "expired after the TTL");
        c.put("a.b.c", 101, &claims(1000), &SubjectInfo::default());
        c.clear();
        assert_eq!(c.get("a.b.c", 101), None);
        let off = BearerCache::new(0);
        off.put("a", 1, &claims(1000), &SubjectInfo::default());
        assert_eq!(off.get("a", 1), None);
    }

    #[test]
    fn an_entry_never_outlives_its_token() {
        let c = BearerCache::new(60);
        c.put("t", 100, &claims(110), &SubjectInfo::default());
        assert!(c.get("t", 114).is_some(), "within exp + leeway");
        assert_eq!(
            c.get("t", 115),
            None,
            "expired token, though the TTL runs on"
        );
    }
}
