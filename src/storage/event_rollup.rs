//! The admin overview's pre-aggregated event counts (migration 0032): `event_hourly` holds
//! events per hour and counted key, `event_rollup.seq` the last event added to it. The
//! catch-up (`roll_up`) adds events in `seq` order, a batch per transaction that first moves
//! the mark from the value it read (so of two instances rolling the same batch, one adds it and
//! the other finds the mark moved and adds nothing). The count (`kind_counts`) reads the hours
//! from the rollup and counts the rest live, in one statement (one snapshot): the part of the
//! first hour inside the window among rolled events, and every event after the mark.

use crate::storage::admin_stats::Counted;
use crate::storage::error::StoreError;
use crate::storage::{PoolRef, on_pool};

/// One hour in unix milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// The counted key of an event row: its kind, or `stepped_up` for a `challenge_passed` with a
/// second factor (decision `factor_*`).
pub(crate) const KEY: &str = "case when kind = 'challenge_passed' and decision_code like 'factor%' \
                   then 'stepped_up' else kind end";

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

/// Adds the events in `($1, $2]` to their hours.
fn add_sql() -> String {
    format!(
        "insert into event_hourly (hour, name, n) \
         select ts - ts % {HOUR_MS}, {KEY}, count(*) from event \
         where seq > $1 and seq <= $2 group by 1, 2 \
         on conflict (hour, name) do update set n = event_hourly.n + excluded.n"
    )
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

/// Adds at most `batch` events after the mark to the rollup, up to the newest one with a
/// timestamp before `cutoff_ms` (so every event before it has been committed: events are
/// written as they happen, in short transactions); how many events were added (0 when caught
/// up, or when another instance moved the mark first).
pub(crate) async fn roll_up(
    pool: PoolRef<'_>,
    cutoff_ms: i64,
    batch: i64,
) -> Result<u64, StoreError> {
    let add = add_sql();
    Ok(on_pool!(pool, |p| {
        let (mark,): (i64,) = sqlx::query_as("select seq from event_rollup where id = 1")
            .fetch_one(p)
            .await?;
        let (upto,): (Option<i64>,) =
            sqlx::query_as("select max(seq) from event where seq > $1 and seq <= $2 and ts < $3")
                .bind(mark)
                .bind(mark.saturating_add(batch))
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
                    sqlx::query(&add)
                        .bind(mark)
                        .bind(upto)
                        .execute(&mut *tx)
                        .await?;
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
