//! The overview's further reads (docs/admin.md, issue #11): sign-in outcomes per hour or day,
//! the risk of recent sign-ins, the mail queue's state (the addresses behind hostile sign-ins
//! are `admin_stats::top_sources`), the latest event of a kind and when a model version was
//! stored. Written once for both engines (`on_pool!`); read-only.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::event_rollup::KEY;
use crate::storage::{Backend, on_pool};

/// A count in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Bucketed {
    /// The bucket: `ts` (unix ms) divided by the bucket's length in ms.
    pub bucket: i64,
    /// The counted key (an event kind; `stepped_up` as in `admin_stats::kind_counts`).
    pub key: String,
    /// How many events.
    pub n: i64,
}

/// The mail queue now (unsent rows of `mail_queue`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct MailQueueState {
    /// Unsent mails.
    pub pending: i64,
    /// Unsent mails whose next attempt is due.
    pub due: i64,
    /// Unsent mails that failed at least once (backing off).
    pub failing: i64,
    /// When the oldest unsent mail was queued (unix seconds).
    pub oldest: Option<i64>,
}

/// The sign-in kinds whose risk is shown.
const SIGN_IN_KINDS: &str =
    "('login_succeeded', 'login_failed', 'login_challenged', 'login_blocked')";

/// The overview's further read queries.
#[async_trait]
pub trait AdminOverviewStore: Send + Sync {
    /// Events per kind per bucket of `bucket_ms` at or after `since_ms`.
    async fn kind_buckets(
        &self,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<Bucketed>, StoreError>;
    /// The risk JSON of sign-in events at or after `since_ms` (at most `limit`, newest first).
    async fn sign_in_risks(&self, since_ms: i64, limit: i64) -> Result<Vec<String>, StoreError>;
    /// The mail queue as of `now` (unix seconds).
    async fn mail_queue(&self, now: i64) -> Result<MailQueueState, StoreError>;
    /// The decision text of the newest event of `kind` at or after `since_ms`.
    async fn latest_decision(
        &self,
        kind: &str,
        since_ms: i64,
    ) -> Result<Option<String>, StoreError>;
    /// When model `version` was stored (unix seconds); `None` for the prior or an unknown one.
    async fn model_stored_at(&self, version: i64) -> Result<Option<i64>, StoreError>;
}

#[async_trait]
impl AdminOverviewStore for Backend {
    async fn kind_buckets(
        &self,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<Bucketed>, StoreError> {
        let sql = format!(
            "select ts / $2 as bucket, {KEY} as key, count(*) as n \
             from event where ts >= $1 group by 1, 2"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(since_ms)
            .bind(bucket_ms)
            .fetch_all(p)
            .await?))
    }

    async fn sign_in_risks(&self, since_ms: i64, limit: i64) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "select risk from event where ts >= $1 and risk is not null and kind in \
             {SIGN_IN_KINDS} order by ts desc limit $2"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(&sql)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    async fn mail_queue(&self, now: i64) -> Result<MailQueueState, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select count(*) as pending, \
             coalesce(sum(case when next_attempt_at <= $1 then 1 else 0 end), 0) as due, \
             coalesce(sum(case when attempts > 0 then 1 else 0 end), 0) as failing, \
             min(created_at) as oldest from mail_queue where sent_at is null"
        )
        .bind(now)
        .fetch_one(p)
        .await?))
    }

    async fn latest_decision(
        &self,
        kind: &str,
        since_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<Option<String>> = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select decision from event where kind = $1 and ts >= $2 order by seq desc limit 1"
        )
        .bind(kind)
        .bind(since_ms)
        .fetch_optional(p)
        .await?);
        Ok(row.flatten())
    }

    async fn model_stored_at(&self, version: i64) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select created_at from risk_model where version = $1"
        )
        .bind(version)
        .fetch_optional(p)
        .await?))
    }
}
