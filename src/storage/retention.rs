//! Retention: the rows nothing reads any more, deleted table by table in batches of
//! `Cutoffs::batch` rows (one condition per table for both engines; `batch_sql`). What counts
//! as "no longer read" is decided here, table by table, from the cutoffs the domain passes
//! (`domain/retention.rs`):
//!
//! - codes, refresh tokens, revocations, reset tokens, spent links: expired before `expired`
//!   (their expiry already refuses them; the grace lets an operator look at a recent one);
//! - token families: expired before `expired` and holding no refresh token any more;
//! - session index rows: last seen before `sessions_before` (the longest a session may stay
//!   idle, a remembered one's, and the grace: a row that went while its session lived would
//!   leave that session out of the page's list and of "sign out everywhere else");
//! - reported browsers (`revoked_device`): once the account moved to another session epoch
//!   (every device cookie of the old one is dead anyway) or is gone, and reported before
//!   `expired`; never while the account is still at the epoch the report was made at;
//! - sent mail: sent before `expired`; mail budgets: windows started before `expired`;
//! - failure counters: untouched since `failures_before` (the failure window, at least the
//!   grace) and not blocked since; one that was ever blocked stays until its last block
//!   ended before `escalations_before` (the doubling of the next block is remembered that
//!   long, however the attacker paces the guesses);
//! - events: older than `events_before_ms`, except those an operator or a report labelled
//!   (they are training data); the overview's hourly rollups (`event_hourly`,
//!   `event_risk_hourly`) an hour before them.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, PoolRef, on_pool};

/// Where retention cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Now (unix seconds).
    pub now: i64,
    /// Rows that expired (or were last used) before this (unix seconds) go.
    pub expired: i64,
    /// Session index rows last seen before this (unix seconds) go.
    pub sessions_before: i64,
    /// Failure counters untouched (and not blocked) since this go (unix seconds).
    pub failures_before: i64,
    /// A counter that was ever blocked goes only once its last block ended before this.
    pub escalations_before: i64,
    /// Events before this (unix milliseconds) go; `None` keeps every event.
    pub events_before_ms: Option<i64>,
    /// Most rows deleted per statement (each its own transaction); a table with more takes
    /// several.
    pub batch: u32,
}

/// What a statement's `$1` (and `$2`) are.
#[derive(Debug, Clone, Copy)]
enum Binds {
    /// `$1` = `expired`.
    Expired,
    /// `$1` = `failures_before`, `$2` = `escalations_before`.
    Failures,
    /// `$1` = `events_before_ms`.
    Events,
    /// `$1` = `sessions_before`.
    Sessions,
}

/// Each table and which of its rows go (the condition of its `delete`).
const STATEMENTS: [(&str, Binds, &str); 14] = [
    ("auth_code", Binds::Expired, "expires_at < $1"),
    ("refresh_token", Binds::Expired, "expires_at < $1"),
    (
        "token_family",
        Binds::Expired,
        "expires_at < $1 and not exists \
         (select 1 from refresh_token r where r.family_id = token_family.id)",
    ),
    ("revoked_token", Binds::Expired, "expires_at < $1"),
    ("password_reset", Binds::Expired, "expires_at < $1"),
    ("spent_link", Binds::Expired, "expires_at < $1"),
    (
        "mail_queue",
        Binds::Expired,
        "sent_at is not null and sent_at < $1",
    ),
    ("mail_budget", Binds::Expired, "window_start < $1"),
    (
        "login_failure",
        Binds::Failures,
        "updated_at < $1 and coalesce(blocked_until, 0) < $1 \
         and (blocks = 0 or coalesce(blocked_until, 0) < $2)",
    ),
    ("user_session", Binds::Sessions, "last_seen_at < $1"),
    (
        "revoked_device",
        Binds::Expired,
        "revoked_at < $1 and not exists (select 1 from account a \
         where a.id = revoked_device.user_id and a.session_epoch = revoked_device.epoch)",
    ),
    (
        "event",
        Binds::Events,
        "ts < $1 and id not in (select event_id from risk_label)",
    ),
    ("event_hourly", Binds::Events, "hour < $1 - 3600000"),
    ("event_risk_hourly", Binds::Events, "hour < $1 - 3600000"),
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
        let mut failed = None;
        for (table, binds, cond) in STATEMENTS {
            // A table that fails (a statement timeout, a lock) is reported; the rest are
            // still pruned, the events among them.
            match self.prune_table(c, table, binds, cond).await {
                Ok(Some(n)) => pruned.push((table, n)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(table, error = %e, "retention could not prune a table");
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(pruned),
        }
    }
}

impl Backend {
    /// Deletes `table`'s rows matching `cond`, a batch at a time; how many (`None`: the
    /// table is kept whole under these cutoffs).
    async fn prune_table(
        &self,
        c: &Cutoffs,
        table: &str,
        binds: Binds,
        cond: &str,
    ) -> Result<Option<u64>, StoreError> {
        let batch = c.batch.max(1);
        let first = match binds {
            Binds::Expired => c.expired,
            Binds::Failures => c.failures_before,
            Binds::Sessions => c.sessions_before,
            Binds::Events => match c.events_before_ms {
                Some(ms) => ms,
                None => return Ok(None),
            },
        };
        let sql = batch_sql(self.writer(), table, cond, batch);
        let mut n = 0;
        loop {
            let deleted = on_pool!(self.writer(), |p| {
                let q = sqlx::query(&sql).bind(first);
                match binds {
                    Binds::Failures => q.bind(c.escalations_before),
                    Binds::Expired | Binds::Events | Binds::Sessions => q,
                }
                .execute(p)
                .await?
                .rows_affected()
            });
            n += deleted;
            if deleted < u64::from(batch) {
                return Ok(Some(n));
            }
        }
    }
}

/// The statement deleting at most `batch` of `table`'s rows that match `cond` (both from
/// `STATEMENTS`, never from input; the values are bound as `$1`, `$2`). Each runs as
/// its own short transaction: on SQLite the one write connection, which every event write waits
/// behind, is never held for a whole table's pruning (an hour of a busy log can be millions of
/// rows). PostgreSQL picks the rows by `ctid` (`= any(array(…))` plans as a TID scan).
fn batch_sql(pool: PoolRef<'_>, table: &str, cond: &str, batch: u32) -> String {
    match pool {
        PoolRef::Sqlite(_) => format!(
            "delete from {table} where rowid in (select rowid from {table} where {cond} limit {batch})"
        ),
        PoolRef::Postgres(_) => format!(
            "delete from {table} where ctid = any(array(select ctid from {table} where {cond} limit {batch}))"
        ),
    }
}
