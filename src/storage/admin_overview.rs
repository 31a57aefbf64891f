//! The overview's further reads (docs/admin.md, issue #11): sign-in outcomes per hour or day
//! and recent sign-ins per risk score bin (both from the hourly rollup plus the live rest,
//! `event_rollup.rs`), the mail queue's state (the addresses behind hostile sign-ins are
//! `admin_stats::top_sources`), the latest event of a kind and when a model version was
//! stored. Written once for both engines (`on_pool!`); read-only.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::event_rollup::{self, Bucketed, RiskBin};
use crate::storage::{Backend, on_pool};

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

/// The overview's further read queries.
#[async_trait]
pub trait AdminOverviewStore: Send + Sync {
    /// Events per counted key per bucket of `bucket_ms` at or after `since_ms`, each counted
    /// once (the rollup serves whole hours when `bucket_ms` is whole hours).
    async fn kind_buckets(
        &self,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<Bucketed>, StoreError>;
    /// Sign-ins with a risk at or after `since_ms` per score bin (`event_rollup::RISK_BINS`
    /// over [0, 1]), each counted once.
    async fn risk_bins(&self, since_ms: i64) -> Result<Vec<RiskBin>, StoreError>;
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
        event_rollup::kind_buckets(self.pool(), since_ms, bucket_ms).await
    }

    async fn risk_bins(&self, since_ms: i64) -> Result<Vec<RiskBin>, StoreError> {
        event_rollup::risk_bins(self.pool(), since_ms).await
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
