//! The protection SQL for both engines (see `common.rs`); `insert … on conflict … returning`
//! works on PostgreSQL and on SQLite ≥ 3.35 (the bundled one is 3.46). The two statements of
//! every sign-in (count, clear) run on the backend's `counter_pool()`: on PostgreSQL a pool
//! with `synchronous_commit = off` (see `postgres.rs`).

macro_rules! impl_protection_stores {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::protection::FailureStore for $store {
            async fn count_attempt(
                &self,
                account: &str,
                source: &str,
                prefix: Option<&str>,
                now: i64,
                window_cutoff: i64,
            ) -> Result<$crate::storage::protection::FailureState, $crate::storage::error::StoreError> {
                Ok(sqlx::query_as(
                    "insert into login_failure (account_key, source, failures, window_start, blocked_until, blocks, updated_at, created_at, prefix) \
                     values ($1, $2, 1, $3, null, 0, $3, $3, $5) \
                     on conflict (account_key, source) do update set \
                     prefix = coalesce($5, login_failure.prefix), \
                     failures = case when login_failure.window_start < $4 then 1 else login_failure.failures + 1 end, \
                     window_start = case when login_failure.window_start < $4 then $3 else login_failure.window_start end, \
                     updated_at = $3 \
                     returning failures, blocked_until, blocks, \
                     (select l.blocked_until from login_failure l where l.account_key = $1 and l.source = '*') \
                     as account_locked_until",
                )
                .bind(account)
                .bind(source)
                .bind(now)
                .bind(window_cutoff)
                .bind(prefix)
                .fetch_one(self.counter_pool())
                .await?)
            }

            async fn find_and_count(
                &self,
                keys: &$crate::storage::protection::SignInKeys<'_>,
            ) -> Result<$crate::storage::protection::SignInCount, $crate::storage::error::StoreError> {
                self.find_and_count_impl(keys).await
            }

            async fn block(&self, account: &str, source: &str, until: i64) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "update login_failure set blocked_until = $3, blocks = blocks + 1, failures = 0 \
                     where account_key = $1 and source = $2",
                )
                .bind(account)
                .bind(source)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn uncount(&self, account: &str, source: &str) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "update login_failure set failures = failures - 1 where account_key = $1 and source = $2 and failures > 0",
                )
                .bind(account)
                .bind(source)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn clear_with_event(
                &self,
                account: &str,
                source: &str,
                event: &$crate::events::AuthEvent,
            ) -> Result<(), $crate::storage::error::StoreError> {
                self.clear_with_event_impl(account, source, event).await
            }

            async fn find(
                &self,
                account: &str,
                source: &str,
            ) -> Result<Option<$crate::storage::protection::FailureState>, $crate::storage::error::StoreError> {
                Ok(sqlx::query_as(
                    "select failures, blocked_until, blocks, null as account_locked_until \
                     from login_failure where account_key = $1 and source = $2",
                )
                .bind(account)
                .bind(source)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn clear_account(&self, account: &str) -> Result<u64, $crate::storage::error::StoreError> {
                Ok(sqlx::query("delete from login_failure where account_key = $1")
                    .bind(account)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn secret(&self, name: &str, fresh: &str, now: i64) -> Result<String, $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into server_secret (name, value, created_at) values ($1, $2, $3) on conflict (name) do nothing",
                )
                .bind(name)
                .bind(fresh)
                .bind(now)
                .execute(&self.pool)
                .await?;
                let (value,): (String,) = sqlx::query_as("select value from server_secret where name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(value)
            }
        }
    };
}

pub(crate) use impl_protection_stores;
