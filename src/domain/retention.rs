//! Retention: how long authd keeps what it no longer reads, and the pruning run behind the
//! hourly job (`app/jobs.rs`) and `authd prune`. Expired codes, tokens, revocations, reset
//! links, spent links, sent mail, mail budgets and idle failure counters go a day after they
//! stopped mattering (`GRACE_SECS`, so an operator can still look at a recent one); events go
//! after `AUTHD_EVENT_RETENTION_DAYS` (default 90; 0 keeps them all), except labelled ones,
//! which are training data. Sessions are pruned by the session store's own job.

use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::storage::retention::{Cutoffs, RetentionStore};

/// How long after expiry (or the last use) a row is kept.
pub const GRACE_SECS: i64 = 86_400;

/// Rows deleted per transaction: short enough that the writes queued behind one (every event,
/// on SQLite's one write connection) wait a few milliseconds, not for a whole table.
pub const PRUNE_BATCH: u32 = 2_000;

/// The cutoffs at `now` (unix seconds) for `event_days` of events (0: keep every event) and
/// sessions idle at most `session_idle_secs` (the longest, a remembered one's: their index rows
/// stay while they may live).
pub fn cutoffs(now: i64, event_days: u32, session_idle_secs: i64) -> Cutoffs {
    Cutoffs {
        now,
        expired: now - GRACE_SECS,
        sessions_before: now - session_idle_secs - GRACE_SECS,
        events_before_ms: (event_days > 0)
            .then(|| (now - i64::from(event_days) * 86_400).saturating_mul(1000)),
        batch: PRUNE_BATCH,
    }
}

/// Prunes now; the rows deleted per table.
pub async fn prune(
    store: &Arc<dyn RetentionStore>,
    clock: &Arc<dyn Clock>,
    event_days: u32,
    session_idle_secs: i64,
) -> Result<Vec<(&'static str, u64)>, Unexpected> {
    let c = cutoffs(clock.now().unix_timestamp(), event_days, session_idle_secs);
    Ok(store.prune(&c).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_for_their_days_and_the_rest_for_a_day_after_expiry() {
        let c = cutoffs(10_000_000, 90, 30 * 86_400);
        assert_eq!(c.expired, 10_000_000 - 86_400);
        assert_eq!(
            c.sessions_before,
            10_000_000 - 31 * 86_400,
            "a remembered session's index row stays while the session may"
        );
        assert_eq!(c.events_before_ms, Some((10_000_000 - 90 * 86_400) * 1000));
        assert_eq!(
            cutoffs(10_000_000, 0, 1800).events_before_ms,
            None,
            "0 keeps every event"
        );
    }
}
