//! Stand-ins for names with no account: the risk engine scores such a name against the history
//! of a real account, picked by a keyed digest (HMAC-SHA-256 under a server secret shared by
//! every instance) of the name. So an unknown name's answer is drawn from exactly the
//! distribution real accounts' answers come from — established histories and brand-new
//! accounts in their real proportions — and is the same on every attempt and every instance,
//! like a real account's. Why it holds: docs/risk.md, "Unknown names".

use std::sync::Arc;

use aws_lc_rs::hmac;

/// Picks stand-ins. Cheap to clone.
#[derive(Clone)]
pub struct StandIns {
    key: Arc<hmac::Key>,
}

impl std::fmt::Debug for StandIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandIns")
    }
}

impl StandIns {
    /// Stand-ins keyed by `key`.
    pub fn new(key: Arc<hmac::Key>) -> Self {
        Self { key }
    }

    /// The point in the account-id space (a uuid's text, as account ids are) for a normalised
    /// name: the first account at or after it lends its history. Account ids are random
    /// uuids, independent of their histories, so the account a name lands on is a draw that
    /// knows nothing of its history.
    pub fn point(&self, name: &str) -> String {
        let tag = hmac::sign(&self.key, format!("stand-in|{name}").as_bytes());
        let mut bytes = [0u8; 16];
        for (b, t) in bytes.iter_mut().zip(tag.as_ref()) {
            *b = *t;
        }
        uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_keyed_stable_and_spread() {
        let a = StandIns::new(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k1")));
        let b = StandIns::new(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k2")));
        assert_eq!(a.point("x@example.com"), a.point("x@example.com"));
        assert_ne!(a.point("x@example.com"), a.point("y@example.com"));
        assert_ne!(a.point("x@example.com"), b.point("x@example.com"));
        let p = a.point("x@example.com");
        assert_eq!(p.len(), 36);
        assert!(uuid::Uuid::parse_str(&p).is_ok());
        // Spread over the id space: the first hex digit of many names takes many values.
        let firsts: std::collections::HashSet<char> = (0..200)
            .filter_map(|i| a.point(&format!("n{i}@example.com")).chars().next())
            .collect();
        assert!(firsts.len() >= 12, "{firsts:?}");
    }
}
