//! Access tokens whose signature this instance has checked: the SHA-256 of the whole token
//! (signature included) → the key that verified it and the claims it carries. A resource server
//! that introspects the token of every request it serves sends the same bytes again and again;
//! a repeated check then skips the signature verification and decodes nothing (introspection's
//! rate doubles: docs/benchmarks.md, "Signatures verified once per token").
//!
//! Only the signature's outcome is remembered, and it is a fact about the bytes and the key:
//! the same bytes under the same public key verify the same way every time. So an entry answers
//! only a byte-identical token, and only while the ring still publishes that `kid` with the same
//! public key (a key dropped from the ring, or a `kid` reused for another key, makes the entry
//! useless: the full check runs and refuses). Expiry, `nbf`, the audience and revocation are
//! checked on every call exactly as before (`jwt::verify_access`); nothing here delays a
//! revocation. Failed checks are never stored, so forged tokens cannot fill it.
//!
//! Bounded: at `MAX_ENTRIES` the expired entries go, and if that frees nothing the memo is
//! emptied (cheap, and rare: one entry per live token that is checked more than once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::domain::tokens::jwt::{AccessClaims, LEEWAY};
use crate::domain::tokens::keys::SigningKey;

/// Most entries kept (an entry is a few hundred bytes: a few MiB at most).
const MAX_ENTRIES: usize = 16_384;

/// The SHA-256 of a token: what an entry here, and in the bearer cache, is found by.
pub(crate) type TokenDigest = [u8; 32];

/// The digest of `token`.
pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Signatures verified by this instance (see the module documentation).
#[derive(Debug)]
pub(crate) struct SignatureMemo {
    map: Mutex<HashMap<TokenDigest, (Arc<SigningKey>, AccessClaims)>>,
    /// Most entries kept.
    cap: usize,
}

impl Default for SignatureMemo {
    fn default() -> Self {
        Self::bounded(MAX_ENTRIES)
    }
}

impl SignatureMemo {
    /// A memo of at most `cap` entries.
    pub(crate) fn bounded(cap: usize) -> Self {
        Self {
            map: Mutex::default(),
            cap,
        }
    }

    /// The claims of the token with `digest` if its signature was verified here by a key that
    /// `holds` says is still the ring's.
    pub(crate) fn get(
        &self,
        digest: &TokenDigest,
        holds: impl FnOnce(&SigningKey) -> bool,
    ) -> Option<AccessClaims> {
        let (key, claims) = {
            let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            let (key, claims) = map.get(digest)?;
            (key.clone(), claims.clone())
        };
        holds(&key).then_some(claims)
    }

    /// Remembers that `key` verified the token with `digest`, which carries `claims`.
    pub(crate) fn put(
        &self,
        digest: TokenDigest,
        key: Arc<SigningKey>,
        claims: &AccessClaims,
        now: i64,
    ) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.cap {
            map.retain(|_, (_, c)| c.exp + LEEWAY > now);
            if map.len() >= self.cap {
                map.clear();
            }
        }
        map.insert(digest, (key, claims.clone()));
    }

    /// How many entries are kept (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
