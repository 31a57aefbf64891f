//! The admin overview's pre-aggregated event counts (migrations 0032, 0033): `event_hourly`
//! holds events per hour and counted key, `event_risk_hourly` sign-ins per hour and risk score
//! bin, `event_rollup.seq` the last event added to both. The catch-up (`roll_up`) adds events
//! in `seq` order, a batch per transaction that first moves the mark from the value it read (so
//! of two instances rolling the same batch, one adds it and the other finds the mark moved and
//! adds nothing). Each read (`kind_counts`, `kind_buckets`, `risk_bins`) takes the whole hours
//! from the rollup and counts the rest live, in one statement (one snapshot): the part of the
//! first hour inside the window among rolled events, and every event after the mark.

use crate::storage::admin_stats::Counted;
use crate::storage::error::StoreError;
use crate::storage::{PoolRef, on_pool};

/// One hour in unix milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// The risk score histogram's bins over [0, 1] (fixed here: the rollup stores them).
pub const RISK_BINS: usize = 20;

/// The counted key of an event row: its kind, or `stepped_up` for a `challenge_passed` with a
/// second factor (decision `factor_*`).
pub(crate) const KEY: &str = "case when kind = 'challenge_passed' and decision_code like 'factor%' \
                   then 'stepped_up' else kind end";

/// The sign-in kinds whose risk score is binned.
const SIGN_IN_KINDS: &str =
    "('login_succeeded', 'login_failed', 'login_challenged', 'login_blocked')";

/// The rolled-up mark, as a scalar subquery.
const MARK: &str = "(select seq from event_rollup where id = 1)";

/// A sign-in count in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Bucketed {
    /// The bucket: `ts` (unix ms) divided by the bucket's length in ms.
    pub bucket: i64,
    /// The counted key (an event kind; `stepped_up` as in `kind_counts`).
    pub key: String,
    /// How many events.
    pub n: i64,
}

/// Sign-ins in one risk score bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct RiskBin {
    /// The bin, `0..RISK_BINS`.
    pub bin: i64,
    /// How many sign-ins.
    pub n: i64,
}

/// An event row's risk score bin: the score as stored (the engine rounds it to 4 decimals)
/// taken to 1/10 000 first, so a score on a bin's edge (0.65) is in that bin whatever the
/// engine's decimal parsing rounds to; 1.0 is in the last bin. Null without a score. `risk` is
/// JSON written by authd (`events::Risk`), never user text.
fn risk_bin(pool: PoolRef<'_>) -> String {
    let (per, last) = (10_000 / RISK_BINS, RISK_BINS - 1);
    match pool {
        PoolRef::Sqlite(_) => format!(
            "max(0, min({last}, cast(round(json_extract(risk, '$.score') * 10000) as integer) \
             / {per}))"
        ),
        PoolRef::Postgres(_) => format!(
            "greatest(0, least({last}, cast(round(cast(cast(risk as json) ->> 'score' as \
             double precision) * 10000) as bigint) / {per}))"
        ),
    }
}

/// The live count since `$1` split at the first whole hour `$2`, plus the rolled-up hours.
fn count_sql() -> String {
    format!(
        "select key, cast(sum(n) as bigint) as n from ( \
         select {KEY} as key, count(*) as n from event \
         where ts >= $1 and ts < $2 and seq <= (select seq from event_rollup where id = 1) \
         group by 1 \
         union all \
         select {KEY} as key, count(*) as n from event \
         where seq > (select seq from event_rollup where id = 1) and ts >= $1 group by 1 \
         union all \
         select name as key, n from event_hourly where hour >= $2 \
         ) t group by key"
    )
}

/// Per `$3`-ms bucket and key since `$1` split at the first whole hour `$2`: the live part
/// as in `count_sql`, plus the rolled-up hours (each inside one bucket: `$3` is whole hours).
fn buckets_sql() -> String {
    format!(
        "select bucket, key, cast(sum(n) as bigint) as n from ( \
         select ts / $3 as bucket, {KEY} as key, count(*) as n from event \
         where ts >= $1 and ts < $2 and seq <= {MARK} group by 1, 2 \
         union all \
         select ts / $3 as bucket, {KEY} as key, count(*) as n from event \
         where seq > {MARK} and ts >= $1 group by 1, 2 \
         union all \
         select hour / $3 as bucket, name as key, n from event_hourly where hour >= $2 \
         ) t group by bucket, key"
    )
}

/// Sign-ins per risk bin since `$1` split at the first whole hour `$2`, as `count_sql`.
fn risk_sql(pool: PoolRef<'_>) -> String {
    let bin = risk_bin(pool);
    let scored = format!("risk is not null and kind in {SIGN_IN_KINDS}");
    format!(
        "select bin, cast(sum(n) as bigint) as n from ( \
         select {bin} as bin, count(*) as n from event \
         where ts >= $1 and ts < $2 and seq <= {MARK} and {scored} group by 1 \
         union all \
         select {bin} as bin, count(*) as n from event \
         where seq > {MARK} and ts >= $1 and {scored} group by 1 \
         union all \
         select bin, n from event_risk_hourly where hour >= $2 \
         ) t where bin is not null group by bin"
    )
}

/// Adds the events in `($1, $2]` to their hours: the counted keys, then the sign-ins' bins.
fn add_sql(pool: PoolRef<'_>) -> [String; 2] {
    let bin = risk_bin(pool);
    [
        format!(
            "insert into event_hourly (hour, name, n) \
             select ts - ts % {HOUR_MS}, {KEY}, count(*) from event \
             where seq > $1 and seq <= $2 group by 1, 2 \
             on conflict (hour, name) do update set n = event_hourly.n + excluded.n"
        ),
        format!(
            "insert into event_risk_hourly (hour, bin, n) \
             select hour, bin, count(*) from ( \
             select ts - ts % {HOUR_MS} as hour, {bin} as bin from event \
             where seq > $1 and seq <= $2 and risk is not null and kind in {SIGN_IN_KINDS} \
             ) t where bin is not null group by 1, 2 \
             on conflict (hour, bin) do update set n = event_risk_hourly.n + excluded.n"
        ),
    ]
}

/// The first whole hour at or after `ms`.
pub fn hour_ceil(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
        + if ms.rem_euclid(HOUR_MS) == 0 {
            0
        } else {
            HOUR_MS
        }
}

/// Events per counted key at or after `since_ms`, every event counted once.
pub(crate) async fn kind_counts(
    pool: PoolRef<'_>,
    since_ms: i64,
) -> Result<Vec<Counted>, StoreError> {
    let sql = count_sql();
    Ok(on_pool!(pool, |p| sqlx::query_as(&sql)
        .bind(since_ms)
        .bind(hour_ceil(since_ms))
        .fetch_all(p)
        .await?))
}

/// Events per `bucket_ms` bucket (`ts / bucket_ms`) and counted key at or after `since_ms`,
/// every event counted once. The rollup serves whole hours when `bucket_ms` is a whole number
/// of hours; any other length is counted live.
pub(crate) async fn kind_buckets(
    pool: PoolRef<'_>,
    since_ms: i64,
    bucket_ms: i64,
) -> Result<Vec<Bucketed>, StoreError> {
    let sql = buckets_sql();
    let split = if bucket_ms % HOUR_MS == 0 {
        hour_ceil(since_ms)
    } else {
        i64::MAX
    };
    Ok(on_pool!(pool, |p| sqlx::query_as(&sql)
        .bind(since_ms)
        .bind(split)
        .bind(bucket_ms)
        .fetch_all(p)
        .await?))
}

/// Sign-ins (`SIGN_IN_KINDS` with a risk) per risk score bin at or after `since_ms`, every
/// event counted once; bins without a sign-in are absent.
pub(crate) async fn risk_bins(
    pool: PoolRef<'_>,
    since_ms: i64,
) -> Result<Vec<RiskBin>, StoreError> {
    let sql = risk_sql(pool);
    Ok(on_pool!(pool, |p| sqlx::query_as(&sql)
        .bind(since_ms)
        .bind(hour_ceil(since_ms))
        .fetch_all(p)
        .await?))
}

/// Adds at most `batch` events after the mark to the rollup, up to the newest one with a
/// timestamp before `cutoff_ms` (so every event before it has been committed: events are
/// written as they happen, in short transactions); how many `seq` values the mark passed (0
/// when caught up, or when another instance moved the mark first).
pub(crate) async fn roll_up(
    pool: PoolRef<'_>,
    cutoff_ms: i64,
    batch: i64,
) -> Result<u64, StoreError> {
    let [add_kinds, add_risks] = add_sql(pool);
    Ok(on_pool!(pool, |p| {
        let (mark,): (i64,) = sqlx::query_as("select seq from event_rollup where id = 1")
            .fetch_one(p)
            .await?;
        // The next `batch` events that exist, however far past the mark their `seq` values
        // start: the retention job (or an operator) may have deleted thousands in a row, and a
        // `seq` window of `batch` past the mark would then hold none, for ever.
        let (upto,): (Option<i64>,) = sqlx::query_as(
            "select max(seq) from (select seq, ts from event where seq > $1 \
             order by seq limit $2) b where ts < $3",
        )
        .bind(mark)
        .bind(batch)
        .bind(cutoff_ms)
        .fetch_one(p)
        .await?;
        match upto {
            None => 0,
            Some(upto) => {
                let mut tx = p.begin().await?;
                let moved =
                    sqlx::query("update event_rollup set seq = $1 where id = 1 and seq = $2")
                        .bind(upto)
                        .bind(mark)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if moved == 0 {
                    tx.rollback().await?;
                    0
                } else {
                    for add in [&add_kinds, &add_risks] {
                        sqlx::query(add)
                            .bind(mark)
                            .bind(upto)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    u64::try_from(upto - mark).unwrap_or(0)
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_round_up_except_on_the_hour() {
        assert_eq!(hour_ceil(0), 0);
        assert_eq!(hour_ceil(1), HOUR_MS);
        assert_eq!(hour_ceil(HOUR_MS), HOUR_MS);
        assert_eq!(hour_ceil(HOUR_MS + 1), 2 * HOUR_MS);
        assert_eq!(hour_ceil(-1), 0);
    }
}
