//! The admin console's reads (docs/admin.md): event counts by kind since a time, the accounts
//! and addresses most failed against, a search of accounts by email, and an account's current
//! blocks. Written once for both engines (`on_pool!`); read-only but for the catch-up of the
//! hourly counts behind `kind_counts` (`event_rollup.rs`).

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::event_rollup;
use crate::storage::protection::ACCOUNT_KEY_PREFIX;
use crate::storage::{Backend, on_pool};

/// One group and its count.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Counted {
    /// The group (an event kind, an email, an IP address).
    pub key: String,
    /// How many events.
    pub n: i64,
}

/// An account found by the search.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct FoundAccount {
    /// The account id.
    pub id: String,
    /// Its email.
    pub email: String,
}

/// A counter row of an account that is blocked now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveBlock {
    /// The blocked source (`*` is the account-wide lock).
    pub source: String,
    /// Until when (unix seconds).
    pub blocked_until: i64,
}

/// The kinds that count as an attack on an account or from an address.
const HOSTILE_KINDS: &str = "('login_failed', 'login_blocked', 'login_challenged', 'rate_limited')";

/// The admin console's read queries.
#[async_trait]
pub trait AdminStatsStore: Send + Sync {
    /// Events per kind at or after `since_ms` (unix milliseconds); a `challenge_passed` with a
    /// second factor (decision `factor_*`) counts as `stepped_up` instead.
    /// Reads the hourly rollup (`event_rollup.rs`) and counts the rest live.
    async fn kind_counts(&self, since_ms: i64) -> Result<Vec<Counted>, StoreError>;
    /// Adds at most `batch` events to the hourly rollup, none with a timestamp at or after
    /// `cutoff_ms`; the `seq` values passed (0 when caught up or another instance did it).
    async fn roll_up_events(&self, cutoff_ms: i64, batch: i64) -> Result<u64, StoreError>;
    /// The accounts (by email) with the most hostile events since `since_ms`, most first.
    async fn top_accounts(&self, since_ms: i64, limit: i64) -> Result<Vec<Counted>, StoreError>;
    /// The client addresses with the most hostile events since `since_ms`, most first.
    async fn top_sources(&self, since_ms: i64, limit: i64) -> Result<Vec<Counted>, StoreError>;
    /// Accounts whose email contains `fragment` (lower case, taken literally), by email.
    async fn search_accounts(
        &self,
        fragment: &str,
        limit: i64,
    ) -> Result<Vec<FoundAccount>, StoreError>;
    /// The account's counter rows blocked past `now` (unix seconds).
    async fn active_blocks(&self, user_id: &str, now: i64) -> Result<Vec<ActiveBlock>, StoreError>;
}

/// `fragment` as a `like` pattern matching it literally anywhere (escape `\`).
fn contains_pattern(fragment: &str) -> String {
    let mut p = String::from("%");
    for c in fragment.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The overview's top accounts: hostile events per account since `$1`, read from
/// `(kind, ts, user_id, ip)` alone (migration 0036), the email joined after grouping.
fn top_accounts_sql() -> String {
    format!(
        "select a.email as key, t.n from ( \
         select user_id, count(*) as n from event \
         where ts >= $1 and kind in {HOSTILE_KINDS} and user_id is not null group by user_id \
         ) t join account a on a.id = t.user_id order by t.n desc, a.email limit $2"
    )
}

/// The overview's top sources: hostile events per address since `$1`, from the same index.
fn top_sources_sql() -> String {
    format!(
        "select ip as key, count(*) as n from event \
         where ts >= $1 and ip is not null and kind in {HOSTILE_KINDS} \
         group by ip order by count(*) desc, ip limit $2"
    )
}

#[async_trait]
impl AdminStatsStore for Backend {
    async fn kind_counts(&self, since_ms: i64) -> Result<Vec<Counted>, StoreError> {
        event_rollup::kind_counts(self.pool(), since_ms).await
    }

    async fn roll_up_events(&self, cutoff_ms: i64, batch: i64) -> Result<u64, StoreError> {
        event_rollup::roll_up(self.writer(), cutoff_ms, batch).await
    }

    async fn top_accounts(&self, since_ms: i64, limit: i64) -> Result<Vec<Counted>, StoreError> {
        let sql = top_accounts_sql();
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    async fn top_sources(&self, since_ms: i64, limit: i64) -> Result<Vec<Counted>, StoreError> {
        let sql = top_sources_sql();
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    async fn search_accounts(
        &self,
        fragment: &str,
        limit: i64,
    ) -> Result<Vec<FoundAccount>, StoreError> {
        let pattern = contains_pattern(fragment);
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select id, email from account where email like $1 escape '\\' \
             order by email limit $2"
        )
        .bind(&pattern)
        .bind(limit)
        .fetch_all(p)
        .await?))
    }

    async fn active_blocks(&self, user_id: &str, now: i64) -> Result<Vec<ActiveBlock>, StoreError> {
        let key = format!("{ACCOUNT_KEY_PREFIX}{user_id}");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select source, blocked_until from login_failure \
             where account_key = $1 and blocked_until > $2 order by source"
        )
        .bind(&key)
        .bind(now)
        .fetch_all(p)
        .await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_top_lists_read_one_covering_index() {
        use crate::storage::sqlite::scratch;
        let (_dir, pool) = scratch::pool().await;
        for sql in [top_accounts_sql(), top_sources_sql()] {
            let sql = format!("explain query plan {sql}");
            let steps = scratch::plan(&pool, &sql, &["0", "10"]).await;
            // No table rows read for the grouping: the index holds every column it needs.
            assert!(
                steps.contains("USING COVERING INDEX event_kind_ts_user_ip"),
                "{steps}"
            );
        }
    }

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("bob"), "%bob%");
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
