//! Password-spraying signal: how many accounts the same wrong password was tried on recently.
//! Kept only in memory, per instance, as a keyed digest (HMAC-SHA-256 under a random key made
//! at start, truncated to 8 bytes) with a short lifetime; the password and its digest are never
//! stored or logged. Memory is bounded: at most `MAX_ENTRIES` digests, the stalest evicted.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::hmac;

/// Digests kept at most.
const MAX_ENTRIES: usize = 50_000;
/// Accounts remembered per digest (beyond this the count saturates).
const MAX_ACCOUNTS: usize = 64;

struct Entry {
    accounts: Vec<u64>,
    last: i64,
}

/// The tracker.
pub struct Spray {
    key: hmac::Key,
    ttl_secs: i64,
    entries: Mutex<HashMap<u64, Entry>>,
}

impl std::fmt::Debug for Spray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spray")
    }
}

fn short(tag: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(tag) {
        *d = *s;
    }
    u64::from_le_bytes(b)
}

impl Spray {
    /// A tracker whose digests live `ttl_secs`.
    pub fn new(key_bytes: &[u8], ttl_secs: i64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key_bytes),
            ttl_secs,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, secret: &[u8]) -> u64 {
        short(hmac::sign(&self.key, secret).as_ref())
    }

    /// Distinct other accounts this password failed on within the lifetime.
    pub fn accounts_for(&self, password: &[u8], account: &str, now: i64) -> i64 {
        let d = self.digest(password);
        let me = self.digest(account.as_bytes());
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(&d)
            .filter(|e| now - e.last <= self.ttl_secs)
            .map_or(0, |e| {
                i64::try_from(e.accounts.iter().filter(|a| **a != me).count()).unwrap_or(i64::MAX)
            })
    }

    /// Records that `password` failed on `account`; returns on how many other accounts it had
    /// failed within the lifetime (the wave detector's spraying signal).
    pub fn failed(&self, password: &[u8], account: &str, now: i64) -> usize {
        let d = self.digest(password);
        let me = self.digest(account.as_bytes());
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&d) {
            let ttl = self.ttl_secs;
            entries.retain(|_, e| now - e.last <= ttl);
            if entries.len() >= MAX_ENTRIES
                && let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        let e = entries.entry(d).or_insert(Entry {
            accounts: Vec::new(),
            last: now,
        });
        if now - e.last > self.ttl_secs {
            e.accounts.clear();
        }
        e.last = now;
        let others = e.accounts.iter().filter(|a| **a != me).count();
        if !e.accounts.contains(&me) && e.accounts.len() < MAX_ACCOUNTS {
            e.accounts.push(me);
        }
        others
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_other_accounts_and_forgets() {
        let s = Spray::new(b"k", 600);
        let others: Vec<usize> = ["a", "b", "c", "a"]
            .into_iter()
            .map(|a| s.failed(b"Summer2026!", a, 100))
            .collect();
        assert_eq!(others, [0, 1, 2, 2], "other accounts it had failed on");
        assert_eq!(s.accounts_for(b"Summer2026!", "d", 101), 3);
        assert_eq!(s.accounts_for(b"Summer2026!", "a", 101), 2, "not itself");
        assert_eq!(s.accounts_for(b"other", "d", 101), 0);
        assert_eq!(s.accounts_for(b"Summer2026!", "d", 800), 0, "expired");
    }

    #[test]
    fn memory_is_bounded() {
        let s = Spray::new(b"k", 600);
        for i in 0..(MAX_ENTRIES + 10) {
            s.failed(format!("pw{i}").as_bytes(), "a", 100);
        }
        assert!(s.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
