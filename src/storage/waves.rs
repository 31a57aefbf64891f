//! Storage for stuffing and spraying waves (docs/risk.md, "Waves"): per-minute tallies of
//! failed sign-ins that each instance adds its own counts to, the detector's one read (the
//! tallies, the counter rows of the window, the waves not over yet) and the shared wave rows.
//! Nothing here runs on a sign-in's path: the wave job calls it every few seconds.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::protection::{FORM_KEY_PREFIX, NAME_KEY_PREFIX, NET_SOURCE_PREFIX};
use crate::storage::{Backend, on_pool};

/// The detector's read, combined over every instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct WaveCounts {
    /// Distinct accounts (and names with no account) failing from networks, in the window.
    pub accounts: i64,
    /// Of them, names with no account.
    pub unknown_accounts: i64,
    /// Distinct networks failing, in the window.
    pub sources: i64,
    /// Failures on those counter rows.
    pub source_failures: i64,
    /// Failed sign-ins tallied in the window's minutes.
    pub failures: i64,
    /// Of them, with a password that had failed on two or more other accounts.
    pub sprayed: i64,
    /// Failed sign-ins tallied in the baseline's minutes outside waves.
    pub baseline_failures: i64,
    /// Baseline minutes that were inside a wave (left out of the baseline).
    pub baseline_wave_minutes: i64,
}

/// What the detector asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveQuery {
    /// Counter rows whose window started at or after this (unix seconds) are read.
    pub rows_since: i64,
    /// The window's first minute (unix minutes).
    pub window_from: i64,
    /// The baseline's first minute (it ends where the window starts).
    pub baseline_from: i64,
    /// Now (unix seconds): waves ending after it are read.
    pub now: i64,
}

/// A wave, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WaveRow {
    /// `stuffing` or `spraying`.
    pub kind: String,
    /// Random id of this wave (a new one each time the kind starts again).
    pub wave_id: String,
    /// When it started (unix seconds).
    pub started_at: i64,
    /// When it ends unless the detector extends it (unix seconds).
    pub ends_at: i64,
    /// Failed sign-ins in the window at its largest.
    pub failures: i64,
    /// Accounts failing, at the largest.
    pub accounts: i64,
    /// Networks failing, at the largest.
    pub sources: i64,
}

/// Wave storage.
#[async_trait]
pub trait WaveStore: Send + Sync {
    /// Adds an instance's tallies to `minute`'s bucket (one atomic upsert: counts from several
    /// instances add up); `wave` flags the minute as inside a wave.
    async fn add_failures(
        &self,
        minute: i64,
        failures: i64,
        sprayed: i64,
        wave: bool,
    ) -> Result<(), StoreError>;
    /// The detector's read and the waves not over at `q.now`.
    async fn read(&self, q: &WaveQuery) -> Result<(WaveCounts, Vec<WaveRow>), StoreError>;
    /// Starts the wave of `w.kind` (when none is on at `w.started_at`, which is now) or extends
    /// the one on; returns the row as stored: its `wave_id` is `w.wave_id` exactly when this
    /// call started it.
    async fn raise(&self, w: &WaveRow) -> Result<WaveRow, StoreError>;
    /// Flags the buckets from `minute` on as inside a wave (they stay out of the baseline).
    async fn flag_minutes(&self, minute: i64) -> Result<(), StoreError>;
    /// Forgets the buckets before `minute`; how many went.
    async fn forget_before(&self, minute: i64) -> Result<u64, StoreError>;
}

/// Binds: `$1` rows since, `$2` the network source pattern, `$3` the form keys' pattern, `$4`
/// the unknown names' pattern, `$5` the window's first minute, `$6` the baseline's.
const READ: &str = "select \
    (select count(distinct account_key) from login_failure where window_start >= $1 \
       and failures > 0 and source like $2 and account_key not like $3) as accounts, \
    (select count(distinct account_key) from login_failure where window_start >= $1 \
       and failures > 0 and source like $2 and account_key like $4) as unknown_accounts, \
    (select count(distinct source) from login_failure where window_start >= $1 \
       and failures > 0 and source like $2 and account_key not like $3) as sources, \
    (select cast(coalesce(sum(failures), 0) as bigint) from login_failure \
       where window_start >= $1 and failures > 0 and source like $2 \
       and account_key not like $3) as source_failures, \
    (select cast(coalesce(sum(failures), 0) as bigint) from attack_bucket \
       where minute >= $5) as failures, \
    (select cast(coalesce(sum(sprayed), 0) as bigint) from attack_bucket \
       where minute >= $5) as sprayed, \
    (select cast(coalesce(sum(failures), 0) as bigint) from attack_bucket \
       where minute >= $6 and minute < $5 and wave = 0) as baseline_failures, \
    (select count(*) from attack_bucket where minute >= $6 and minute < $5 and wave <> 0) \
       as baseline_wave_minutes";

const WAVE_COLUMNS: &str = "kind, wave_id, started_at, ends_at, failures, accounts, sources";

/// A wave that ended (`ends_at <= now`) starts again with the new id and start; one that is on
/// keeps them, and its end and sizes only grow. Binds as the columns, `$3` is also now.
const RAISE: &str = "insert into attack_wave (kind, wave_id, started_at, ends_at, failures, \
    accounts, sources, updated_at, created_at) values ($1, $2, $3, $4, $5, $6, $7, $3, $3) \
    on conflict (kind) do update set \
    wave_id = case when attack_wave.ends_at <= $3 then excluded.wave_id \
        else attack_wave.wave_id end, \
    started_at = case when attack_wave.ends_at <= $3 then excluded.started_at \
        else attack_wave.started_at end, \
    failures = case when attack_wave.ends_at <= $3 or excluded.failures > attack_wave.failures \
        then excluded.failures else attack_wave.failures end, \
    accounts = case when attack_wave.ends_at <= $3 or excluded.accounts > attack_wave.accounts \
        then excluded.accounts else attack_wave.accounts end, \
    sources = case when attack_wave.ends_at <= $3 or excluded.sources > attack_wave.sources \
        then excluded.sources else attack_wave.sources end, \
    ends_at = case when excluded.ends_at > attack_wave.ends_at then excluded.ends_at \
        else attack_wave.ends_at end, \
    updated_at = $3 \
    returning kind, wave_id, started_at, ends_at, failures, accounts, sources";

#[async_trait]
impl WaveStore for Backend {
    async fn add_failures(
        &self,
        minute: i64,
        failures: i64,
        sprayed: i64,
        wave: bool,
    ) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into attack_bucket (minute, failures, sprayed, wave, created_at) \
                 values ($1, $2, $3, $4, $1 * 60) \
                 on conflict (minute) do update set \
                 failures = attack_bucket.failures + excluded.failures, \
                 sprayed = attack_bucket.sprayed + excluded.sprayed, \
                 wave = case when excluded.wave > attack_bucket.wave then excluded.wave \
                     else attack_bucket.wave end",
            )
            .bind(minute)
            .bind(failures)
            .bind(sprayed)
            .bind(i64::from(wave))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn read(&self, q: &WaveQuery) -> Result<(WaveCounts, Vec<WaveRow>), StoreError> {
        let (net, forms, names) = (
            format!("{NET_SOURCE_PREFIX}%"),
            format!("{FORM_KEY_PREFIX}%"),
            format!("{NAME_KEY_PREFIX}%"),
        );
        let counts: WaveCounts = on_pool!(self.pool(), |p| sqlx::query_as(READ)
            .bind(q.rows_since)
            .bind(net.as_str())
            .bind(forms.as_str())
            .bind(names.as_str())
            .bind(q.window_from)
            .bind(q.baseline_from)
            .fetch_one(p)
            .await?);
        let sql = format!("select {WAVE_COLUMNS} from attack_wave where ends_at > $1");
        let waves: Vec<WaveRow> = on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(q.now)
            .fetch_all(p)
            .await?);
        Ok((counts, waves))
    }

    async fn raise(&self, w: &WaveRow) -> Result<WaveRow, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query_as(RAISE)
            .bind(&w.kind)
            .bind(&w.wave_id)
            .bind(w.started_at)
            .bind(w.ends_at)
            .bind(w.failures)
            .bind(w.accounts)
            .bind(w.sources)
            .fetch_one(p)
            .await?))
    }

    async fn flag_minutes(&self, minute: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("update attack_bucket set wave = 1 where minute >= $1")
                .bind(minute)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn forget_before(&self, minute: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "delete from attack_bucket where minute < $1"
        )
        .bind(minute)
        .execute(p)
        .await?
        .rows_affected()))
    }
}
