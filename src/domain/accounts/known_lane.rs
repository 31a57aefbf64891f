//! One known-lane place per account at a time, on each instance. The known lane
//! (`hash_queue.rs`) goes ahead of a flood of unknown browsers, and what admits to it — a
//! device cookie of the account, or a signed-in session — anyone holds for an account of
//! their own. Without a bound per account, one registered account's cookie, replayed with its
//! password from many addresses, could fill the lane and leave every other owner in the
//! flooded ordinary lane. So while a check of an account holds its known place, another check
//! of the same account waits in the ordinary lane; an owner signing in (one check at a time)
//! is never affected.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The accounts whose checks hold a known-lane place now (at most one each). Bounded by the
/// checks in flight.
#[derive(Debug, Default)]
pub(super) struct KnownHolds(Mutex<HashSet<String>>);

/// An account's known-lane place, given back when dropped.
#[derive(Debug)]
pub(super) struct Hold<'a> {
    holds: &'a KnownHolds,
    account_id: String,
}

impl KnownHolds {
    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The known place of `account_id`, unless another check of it holds the place now.
    pub(super) fn take(&self, account_id: &str) -> Option<Hold<'_>> {
        self.lock().insert(account_id.to_owned()).then(|| Hold {
            holds: self,
            account_id: account_id.to_owned(),
        })
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.holds.lock().remove(&self.account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hold_per_account_at_a_time() {
        let holds = KnownHolds::default();
        let a = holds.take("a").expect("a's place");
        assert!(holds.take("a").is_none(), "a's place is taken");
        let b = holds.take("b").expect("another account is not held back");
        drop(a);
        assert!(holds.take("a").is_some(), "given back when dropped");
        drop(b);
        assert!(holds.lock().is_empty());
    }
}
