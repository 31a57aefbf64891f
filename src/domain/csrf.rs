//! Stateless CSRF tokens for the forms shown before sign-in (a signed double-submit cookie):
//! the browser holds a random nonce in a cookie and the form carries the HMAC of that nonce
//! under a server secret shared by every instance. Showing a sign-in, registration or
//! forgot-password form therefore writes nothing server-side (issue #15.7: a cookieless GET
//! flood grew the session table). Signed-in sessions keep their synchronizer token in the
//! session. Imports no HTTP: the cookie itself is `http/csrf.rs`'s.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clock::{Clock, Random};
use crate::domain::error::Unexpected;
use crate::domain::seal::{Sealer, server_secret};
use crate::storage::protection::FailureStore;

/// Length of a nonce: 32 random bytes, base64url without padding.
pub const NONCE_LEN: usize = 43;

/// Issues and checks the tokens bound to a browser's nonce. Cheap to clone.
#[derive(Clone)]
pub struct CsrfKey {
    key: Arc<hmac::Key>,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey")
    }
}

impl CsrfKey {
    /// Loads the key (or creates it, once for all instances: a form shown by one instance is
    /// posted to another).
    /// The key is sealed at rest (`seal::server_secret`).
    pub async fn load(
        store: &dyn FailureStore,
        sealer: &Sealer,
        clock: &dyn Clock,
        random: &dyn Random,
    ) -> Result<Self, Unexpected> {
        let now = clock.now().unix_timestamp();
        let secret = server_secret(store, sealer, "csrf_key", random, now).await?;
        Ok(Self::new(&secret))
    }

    /// A key from raw bytes (tests).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        }
    }

    /// Whether `value` has the shape of a nonce we issue (anything else is replaced).
    pub fn is_nonce(value: &str) -> bool {
        value.len() == NONCE_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// The form token for the browser holding `nonce`.
    pub fn token(&self, nonce: &str) -> String {
        let tag = hmac::sign(&self.key, format!("csrf|{nonce}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `submitted` is the token for `nonce` (constant-time).
    pub fn matches(&self, nonce: &str, submitted: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(submitted) else {
            return false;
        };
        Self::is_nonce(nonce)
            && hmac::verify(&self.key, format!("csrf|{nonce}").as_bytes(), &tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::OsRandom;

    #[test]
    fn a_token_matches_only_its_nonce_and_key() {
        let key = CsrfKey::new(b"k");
        let (a, b) = (OsRandom.token(32), OsRandom.token(32));
        assert!(CsrfKey::is_nonce(&a));
        let token = key.token(&a);
        assert!(key.matches(&a, &token));
        assert!(!key.matches(&b, &token), "another browser's token");
        assert!(!CsrfKey::new(b"other").matches(&a, &token), "another key");
        assert!(!key.matches(&a, ""));
        assert!(!key.matches(&a, &a), "the nonce itself is not a token");
        assert!(
            !key.matches("short", &key.token("short")),
            "not a nonce we issue"
        );
    }
}
