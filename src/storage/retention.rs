//! Retention: the rows nothing reads any more, deleted by one statement per table (one text
//! for both engines). What counts as "no longer read" is decided here, table by table, from
//! the cutoffs the domain passes (`domain/retention.rs`):
//!
//! - codes, refresh tokens, revocations, reset tokens, spent links: expired before `expired`
//!   (their expiry already refuses them; the grace lets an operator look at a recent one);
//! - token families: expired before `expired` and holding no refresh token any more;
//! - session index rows: last seen before `expired` (their sessions are long dead);
//! - sent mail: sent before `expired`; mail budgets: windows started before `expired`;
//! - failure counters: untouched since `expired` and not blocked now (a block's growth is
//!   remembered for as long as the counter row is touched);
//! - events: older than `events_before_ms`, except those an operator or a report labelled
//!   (they are training data); the overview's hourly rollups (`event_hourly`,
//!   `event_risk_hourly`) an hour before them.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// Where retention cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Now (unix seconds).
    pub now: i64,
    /// Rows that expired (or were last used) before this (unix seconds) go.
    pub expired: i64,
    /// Events before this (unix milliseconds) go; `None` keeps every event.
    pub events_before_ms: Option<i64>,
}

/// What a statement's `$1` (and `$2`) are.
#[derive(Debug, Clone, Copy)]
enum Binds {
    /// `$1` = `expired`.
    Expired,
    /// `$1` = `expired`, `$2` = `now`.
    ExpiredNow,
    /// `$1` = `events_before_ms`.
    Events,
}

/// Each table and the statement that prunes it.
const STATEMENTS: [(&str, Binds, &str); 13] = [
    (
        "auth_code",
        Binds::Expired,
        "delete from auth_code where expires_at < $1",
    ),
    (
        "refresh_token",
        Binds::Expired,
        "delete from refresh_token where expires_at < $1",
    ),
    (
        "token_family",
        Binds::Expired,
        "delete from token_family where expires_at < $1 and not exists \
         (select 1 from refresh_token r where r.family_id = token_family.id)",
    ),
    (
        "revoked_token",
        Binds::Expired,
        "delete from revoked_token where expires_at < $1",
    ),
    (
        "password_reset",
        Binds::Expired,
        "delete from password_reset where expires_at < $1",
    ),
    (
        "spent_link",
        Binds::Expired,
        "delete from spent_link where expires_at < $1",
    ),
    (
        "mail_queue",
        Binds::Expired,
        "delete from mail_queue where sent_at is not null and sent_at < $1",
    ),
    (
        "mail_budget",
        Binds::Expired,
        "delete from mail_budget where window_start < $1",
    ),
    (
        "login_failure",
        Binds::ExpiredNow,
        "delete from login_failure where updated_at < $1 \
         and (blocked_until is null or blocked_until < $2)",
    ),
    (
        "user_session",
        Binds::Expired,
        "delete from user_session where last_seen_at < $1",
    ),
    (
        "event",
        Binds::Events,
        "delete from event where ts < $1 and id not in (select event_id from risk_label)",
    ),
    (
        "event_hourly",
        Binds::Events,
        "delete from event_hourly where hour < $1 - 3600000",
    ),
    (
        "event_risk_hourly",
        Binds::Events,
        "delete from event_risk_hourly where hour < $1 - 3600000",
    ),
];

/// Pruning.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes what `cutoffs` say is no longer read; the rows deleted per table.
    async fn prune(&self, cutoffs: &Cutoffs) -> Result<Vec<(&'static str, u64)>, StoreError>;
}

#[async_trait]
impl RetentionStore for Backend {
    async fn prune(&self, c: &Cutoffs) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut pruned = Vec::with_capacity(STATEMENTS.len());
        for (table, binds, sql) in STATEMENTS {
            let first = match binds {
                Binds::Expired | Binds::ExpiredNow => c.expired,
                Binds::Events => match c.events_before_ms {
                    Some(ms) => ms,
                    None => continue,
                },
            };
            let n = on_pool!(self.writer(), |p| {
                let q = sqlx::query(sql).bind(first);
                match binds {
                    Binds::ExpiredNow => q.bind(c.now),
                    Binds::Expired | Binds::Events => q,
                }
                .execute(p)
                .await?
                .rows_affected()
            });
            pruned.push((table, n));
        }
        Ok(pruned)
    }
}
