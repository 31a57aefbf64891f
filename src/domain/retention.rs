//! Retention: how long authd keeps what it no longer reads, and the pruning run behind the
//! hourly job (`app/jobs.rs`) and `authd prune`. Expired codes, tokens, revocations, reset
//! links, spent links, sent mail and mail budgets go a day after they stopped mattering
//! (`GRACE_SECS`, so an operator can still look at a recent one); idle failure counters after
//! the failure window (at least that day), and one that was ever blocked a week after its last
//! block (`ESCALATION_MEMORY_SECS`); events after `AUTHD_EVENT_RETENTION_DAYS` (default 90; 0
//! keeps them all), except labelled ones, which are training data. Sessions are pruned by the
//! session store's own job.

use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::storage::retention::{Cutoffs, RetentionStore};

/// How long after expiry (or the last use) a row is kept.
pub const GRACE_SECS: i64 = 86_400;

/// How long a failure counter that was ever blocked is kept after its last block ended: the
/// ladder doubles each next block of the pair (up to a day), and an attacker who waited a
/// day for the counter to go would start again at the first, short block.
pub const ESCALATION_MEMORY_SECS: i64 = 7 * 86_400;

/// Rows deleted per transaction: short enough that the writes queued behind one (every event,
/// on SQLite's one write connection) wait a few milliseconds, not for a whole table.
pub const PRUNE_BATCH: u32 = 2_000;

/// What retention keeps, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    /// `AUTHD_EVENT_RETENTION_DAYS` (0: every event).
    pub event_days: u32,
    /// The longest a session may stay idle (a remembered one's): index rows stay while
    /// their sessions may live.
    pub session_idle_secs: i64,
    /// `AUTHD_FAILURE_WINDOW_SECS`: failures that far apart still add up, so their counter
    /// stays at least that long.
    pub failure_window_secs: i64,
}

/// The cutoffs at `now` (unix seconds) for what `keep` keeps.
pub fn cutoffs(now: i64, keep: Keep) -> Cutoffs {
    let failures_before = now - keep.failure_window_secs.max(GRACE_SECS);
    Cutoffs {
        now,
        expired: now - GRACE_SECS,
        sessions_before: now - keep.session_idle_secs - GRACE_SECS,
        failures_before,
        escalations_before: failures_before.min(now - ESCALATION_MEMORY_SECS),
        events_before_ms: (keep.event_days > 0)
            .then(|| (now - i64::from(keep.event_days) * 86_400).saturating_mul(1000)),
        batch: PRUNE_BATCH,
    }
}

/// Prunes now; the rows deleted per table.
pub async fn prune(
    store: &Arc<dyn RetentionStore>,
    clock: &Arc<dyn Clock>,
    keep: Keep,
) -> Result<Vec<(&'static str, u64)>, Unexpected> {
    let c = cutoffs(clock.now().unix_timestamp(), keep);
    Ok(store.prune(&c).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(event_days: u32, session_idle_secs: i64, failure_window_secs: i64) -> Keep {
        Keep {
            event_days,
            session_idle_secs,
            failure_window_secs,
        }
    }

    #[test]
    fn failure_counters_stay_for_their_window_and_escalations_for_a_week() {
        let now = 10_000_000;
        let c = cutoffs(now, keep(90, 1800, 900));
        assert_eq!(c.failures_before, now - 86_400, "at least the grace");
        assert_eq!(c.escalations_before, now - 7 * 86_400);
        let c = cutoffs(now, keep(90, 1800, 30 * 86_400));
        assert_eq!(c.failures_before, now - 30 * 86_400, "the whole window");
        assert_eq!(c.escalations_before, now - 30 * 86_400);
    }

    #[test]
    fn events_are_kept_for_their_days_and_the_rest_for_a_day_after_expiry() {
        let c = cutoffs(10_000_000, keep(90, 30 * 86_400, 900));
        assert_eq!(c.expired, 10_000_000 - 86_400);
        assert_eq!(
            c.sessions_before,
            10_000_000 - 31 * 86_400,
            "a remembered session's index row stays while the session may"
        );
        assert_eq!(c.events_before_ms, Some((10_000_000 - 90 * 86_400) * 1000));
        assert_eq!(
            cutoffs(10_000_000, keep(0, 1800, 900)).events_before_ms,
            None,
            "0 keeps every event"
        );
    }
}
