//! A short-lived, bounded cache of bearer checks that passed, keyed by the SHA-256 of the whole
//! token (signature included), so repeated calls with one access token — a browser app polling
//! `/userinfo` — cost neither a signature verification nor a database round trip. An entry
//! answers only a byte-identical token, and only while the token itself is unexpired (the same
//! `exp` rule as the full check), so no forged or altered token can ever hit it.
//!
//! Consistency: a revocation made through this instance takes its tokens out of the cache at
//! once: `/revoke` of an access token forgets that token, a grant's revocation (`/revoke` of a
//! refresh token, a replayed code or refresh token) forgets the grant's tokens, and a user's or
//! a client's revocation empties the cache (the account services that revoke grants themselves —
//! sign-out everywhere, "wasn't me", a password change or reset — through `BearerCacheClear`).
//! So no client can empty the cache that every other client's traffic rides on by revoking
//! tokens of its own (a client-credentials token costs one `POST /token`). One made on
//! another instance (or a signing key dropped from the ring) is seen here within the TTL
//! (`AUTHD_BEARER_CACHE_SECS`, default 1 s; 0 turns the cache off), counted from the full check
//! that stored the entry: a hit never extends it. Introspection never uses the cache: resource
//! servers that must see a revocation immediately ask there.
//!
//! Refresh ahead: once half an entry's TTL has passed, the next request for its token is told
//! to make the full check again (`Lookup::Refresh`) while every other request keeps hitting
//! the entry until its TTL is up. So a token used by many requests at once costs one database
//! read per half TTL, not one per request in flight each time the entry ran out (they all
//! missed together and queued for the pool), and no request waits for the database while the
//! entry is still good. A refresh that finds the token refused forgets the entry.
//!
//! Memory: an entry answers for one TTL, so the map holds roughly the tokens used within the
//! last TTL: an expired entry met by `get` is dropped, and a `put` that finds the map grown to
//! twice what the last sweep left (at least `SWEEP_FLOOR`) sweeps out every expired one. At
//! `MAX_ENTRIES` live entries the map is emptied.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::tokens::jwt::{AccessClaims, LEEWAY};
use crate::domain::tokens::verified::{TokenDigest, digest as key};

/// Most entries kept; when full the cache is emptied (cheap, and rare: one entry per live token).
const MAX_ENTRIES: usize = 100_000;
/// Entries held before the first sweep of expired ones; after a sweep, the next comes at twice
/// the entries left (at least this many), so sweeping costs O(1) per `put` on average.
const SWEEP_FLOOR: usize = 1_024;

/// What a bearer check reads of the token's subject, in the same round trip (userinfo's claims).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SubjectInfo {
    /// The account's email (`None`: the subject is a client, or the account is gone).
    pub email: Option<String>,
    /// Whether that address was verified (OIDC `email_verified`, as the ID token says it).
    pub email_verified: bool,
    /// The account's name (OIDC `name`).
    pub name: Option<String>,
    /// When the account's profile last changed (OIDC `updated_at`).
    pub updated_at: Option<i64>,
}

/// What the cache says about a token.
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned once per request; boxing a hit would allocate
pub(crate) enum Lookup {
    /// Checked less than the TTL ago: its claims and subject.
    Hit(AccessClaims, SubjectInfo),
    /// Still good for others, but this request makes the full check again (and `put`s or
    /// `forget`s the outcome).
    Refresh,
    /// Not here: the full check.
    Miss,
}

/// A passed check: valid until, and refreshed from, these unix milliseconds.
#[derive(Debug)]
struct Entry {
    until_ms: i64,
    refresh_ms: i64,
    /// A request was told to refresh it.
    refreshing: bool,
    claims: AccessClaims,
    subject: SubjectInfo,
}

/// The entries, and how many there may be before expired ones are swept out.
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<TokenDigest, Entry>,
    sweep_at: usize,
}

impl Entries {
    /// Drops every entry past its TTL at `now_ms` once the map has grown to `sweep_at`: an
    /// entry only answers for a TTL (a second by default), so without this the map would hold
    /// every token seen, with its claims and subject, until `MAX_ENTRIES` before emptying.
    fn sweep(&mut self, now_ms: i64) {
        if self.map.len() >= self.sweep_at.max(SWEEP_FLOOR) {
            self.map.retain(|_, e| e.until_ms > now_ms);
            self.sweep_at = self.map.len().saturating_mul(2).max(SWEEP_FLOOR);
        }
    }
}

/// SHA-256 of the token → its last passed check.
#[derive(Debug, Default)]
pub(crate) struct BearerCache {
    ttl_ms: i64,
    entries: Mutex<Entries>,
}

impl BearerCache {
    /// A cache whose entries last `ttl` seconds (0 or less: no cache).
    pub(crate) fn new(ttl: i64) -> Self {
        Self {
            ttl_ms: ttl.saturating_mul(1000),
            entries: Mutex::new(Entries::default()),
        }
    }

    /// What to do with `token` at `now_ms` (unix milliseconds): its claims and subject if this
    /// instance fully checked it less than the TTL ago and it has not expired since; once in
    /// each second half of the TTL, `Refresh` instead, for one request.
    pub(crate) fn get(&self, token: &str, now_ms: i64) -> Lookup {
        if self.ttl_ms <= 0 {
            return Lookup::Miss;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return Lookup::Miss;
        };
        let digest = key(token);
        let Some(e) = entries.map.get_mut(&digest) else {
            return Lookup::Miss;
        };
        if e.until_ms <= now_ms || (e.claims.exp + LEEWAY) * 1000 <= now_ms {
            entries.map.remove(&digest);
            return Lookup::Miss;
        }
        if now_ms >= e.refresh_ms && !e.refreshing {
            e.refreshing = true;
            return Lookup::Refresh;
        }
        Lookup::Hit(e.claims.clone(), e.subject.clone())
    }

    /// Remembers that `token` passed the full check begun at `now_ms`.
    pub(crate) fn put(
        &self,
        token: &str,
        now_ms: i64,
        claims: &AccessClaims,
        subject: &SubjectInfo,
    ) {
        if self.ttl_ms <= 0 {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.sweep(now_ms);
            if entries.map.len() >= MAX_ENTRIES {
                entries.map.clear();
            }
            entries.map.insert(
                key(token),
                Entry {
                    until_ms: now_ms + self.ttl_ms,
                    refresh_ms: now_ms + self.ttl_ms / 2,
                    refreshing: false,
                    claims: claims.clone(),
                    subject: subject.clone(),
                },
            );
        }
    }

    /// Forgets `token` (its full check refused it).
    pub(crate) fn forget(&self, token: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.remove(&key(token));
        }
    }

    /// Forgets every token of the grant `sid` (the grant was revoked through this instance):
    /// one pass over the entries, which hold the tokens used within the last TTL.
    pub(crate) fn forget_grant(&self, sid: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries
                .map
                .retain(|_, e| e.claims.sid.as_deref() != Some(sid));
        }
    }

    /// Forgets everything (after a revocation through this instance that reaches beyond one
    /// token or grant: a user's or a client's).
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.clear();
        }
    }

    /// Entries held (expired ones not yet dropped included).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.map.len())
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

    fn hit(exp: i64, subject: &SubjectInfo) -> Lookup {
        Lookup::Hit(claims(exp), subject.clone())
    }

    #[test]
    fn entries_expire_and_clear() {
        let c = BearerCache::new(1);
        let x = SubjectInfo {
            email: Some("x@example.com".into()),
            ..SubjectInfo::default()
        };
        c.put("a.b.c", 100_000, &claims(1000), &x);
        assert_eq!(c.get("a.b.c", 100_000), hit(1000, &x));
        assert_eq!(
            c.get("a.b.d", 100_000),
            Lookup::Miss,
            "another signature is another token"
        );
        assert_eq!(
            c.get("a.b.c", 101_000),
            Lookup::Miss,
            "expired after the TTL"
        );
        c.put("a.b.c", 101_000, &claims(1000), &SubjectInfo::default());
        c.clear();
        assert_eq!(c.get("a.b.c", 101_000), Lookup::Miss);
        let off = BearerCache::new(0);
        off.put("a", 1_000, &claims(1000), &SubjectInfo::default());
        assert_eq!(off.get("a", 1_000), Lookup::Miss);
    }

    #[test]
    fn a_grant_s_tokens_are_forgotten_and_the_rest_kept() {
        let c = BearerCache::new(60);
        let x = SubjectInfo::default();
        let of = |sid: Option<&str>| {
            let mut k = claims(1000);
            k.sid = sid.map(str::to_owned);
            k
        };
        c.put("g1.a", 1_000, &of(Some("g1")), &x);
        c.put("g1.b", 1_000, &of(Some("g1")), &x);
        c.put("g2.a", 1_000, &of(Some("g2")), &x);
        c.put("cc.a", 1_000, &of(None), &x);
        c.forget_grant("g1");
        assert_eq!(c.get("g1.a", 1_000), Lookup::Miss);
        assert_eq!(c.get("g1.b", 1_000), Lookup::Miss);
        assert!(matches!(c.get("g2.a", 1_000), Lookup::Hit(..)));
        assert!(matches!(c.get("cc.a", 1_000), Lookup::Hit(..)));
        c.forget("cc.a");
        assert_eq!(c.get("cc.a", 1_000), Lookup::Miss);
        assert!(matches!(c.get("g2.a", 1_000), Lookup::Hit(..)));
    }

    #[test]
    fn one_request_refreshes_while_the_others_hit_until_the_ttl() {
        let c = BearerCache::new(1);
        let x = SubjectInfo::default();
        c.put("t", 10_000, &claims(1000), &x);
        assert_eq!(c.get("t", 10_499), hit(1000, &x));
        assert_eq!(c.get("t", 10_500), Lookup::Refresh, "half the TTL gone");
        assert_eq!(
            c.get("t", 10_501),
            hit(1000, &x),
            "only one request refreshes"
        );
        assert_eq!(c.get("t", 10_999), hit(1000, &x));
        assert_eq!(
            c.get("t", 11_000),
            Lookup::Miss,
            "never past the TTL of the check that stored it, refresh or not"
        );
        // The refresh passed: a new entry from its own check.
        c.put("t", 10_600, &claims(1000), &x);
        assert_eq!(c.get("t", 11_000), hit(1000, &x));
        assert_eq!(c.get("t", 11_100), Lookup::Refresh);
        // The next refresh found the token refused: nobody hits it any more.
        c.forget("t");
        assert_eq!(c.get("t", 11_101), Lookup::Miss);
    }

    #[test]
    fn expired_entries_do_not_pile_up() {
        let c = BearerCache::new(1);
        let x = SubjectInfo::default();
        for i in 0..SWEEP_FLOOR * 3 {
            c.put(&format!("t{i}"), 1_000, &claims(1000), &x);
        }
        // Swept at the floor, but everything was still within its TTL: all kept.
        assert_eq!(c.len(), SWEEP_FLOOR * 3);
        // A second later they have all run out; the next sweep drops them.
        for i in 0..SWEEP_FLOOR * 3 {
            c.put(&format!("u{i}"), 2_000, &claims(1000), &x);
        }
        assert!(c.len() <= SWEEP_FLOOR * 4, "{} entries", c.len());
        assert!(
            c.len() >= SWEEP_FLOOR * 3,
            "the live ones stay: {}",
            c.len()
        );
        // An expired entry met on `get` goes at once.
        let before = c.len();
        assert_eq!(c.get("u0", 3_000), Lookup::Miss);
        assert_eq!(c.len(), before - 1);
        assert!(matches!(c.get("u1", 2_400), Lookup::Hit(..)));
    }

    #[test]
    fn an_entry_never_outlives_its_token() {
        let c = BearerCache::new(60);
        c.put("t", 100_000, &claims(110), &SubjectInfo::default());
        assert!(
            matches!(c.get("t", 114_999), Lookup::Hit(..)),
            "within exp + leeway"
        );
        assert_eq!(
            c.get("t", 115_000),
            Lookup::Miss,
            "expired token, though the TTL runs on"
        );
    }
}
