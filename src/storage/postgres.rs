//! PostgreSQL backend: the scale-out engine, shared by several authd instances. Migrations are
//! serialised by sqlx's advisory lock, so instances may start together.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::storage::Store;
use crate::storage::common::impl_stores;
use crate::storage::error::StoreError;
use crate::storage::mail_sql::impl_mail_stores;
use crate::storage::oauth_sql::impl_oauth_stores;
use crate::storage::protection_sql::impl_protection_stores;
use crate::storage::risk_sql::impl_risk_stores;
use crate::storage::sessions::AnySessionStore;

/// Stores over one PostgreSQL pool (plus a small one for the sign-in counters).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Connections with `synchronous_commit = off`, used only for the sign-in failure counters:
    /// they commit without waiting for the WAL flush, so a crash can forget the last few counted
    /// attempts (never a block already flushed, never any other data).
    relaxed: PgPool,
}

impl PgStore {
    fn counter_pool(&self) -> &PgPool {
        &self.relaxed
    }
}

impl_stores!(PgStore);
impl_oauth_stores!(PgStore);
impl_mail_stores!(PgStore);
impl_protection_stores!(PgStore);
impl_risk_stores!(PgStore);

/// Connects to and migrates the PostgreSQL database at `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    let pool = PgPoolOptions::new()
        // The session-store migration below holds one connection for its advisory lock while
        // the store migrates on another.
        .max_connections(max_connections.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    sqlx::migrate!("migrations/postgres")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Backend(e.into()))?;
    let sessions = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
    migrate_sessions(&pool, &sessions).await?;
    let relaxed = PgPoolOptions::new()
        .max_connections((max_connections / 2).max(1))
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("set synchronous_commit = off")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(Store::from_backend(
        PgStore { pool, relaxed },
        AnySessionStore::Postgres(sessions),
    ))
}

/// The session store's own `create schema/table if not exists` races when instances start
/// together (a unique violation on the catalog); serialise it with an advisory lock.
async fn migrate_sessions(
    pool: &PgPool,
    sessions: &tower_sessions_sqlx_store::PostgresStore,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("select pg_advisory_lock(7317001)")
        .execute(&mut *conn)
        .await?;
    let result = sessions.migrate().await;
    sqlx::query("select pg_advisory_unlock(7317001)")
        .execute(&mut *conn)
        .await?;
    Ok(result?)
}

/// Creates a fresh, uniquely named database on the server at `base_url` and returns its URL.
/// Used by the test suites (one database per test run); `drop_database` removes it.
pub async fn create_scratch_database(base_url: &str) -> Result<(String, String), StoreError> {
    let name = format!("authd_test_{}", uuid::Uuid::new_v4().simple());
    let mut url = url::Url::parse(base_url)
        .map_err(|e| StoreError::Corrupt(format!("TEST_POSTGRES_URL: {e}")))?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await?;
    // The name is ours (a uuid), never user input: safe to format into DDL.
    sqlx::query(&format!("create database {name}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

/// Drops a database made by `create_scratch_database`, disconnecting its users.
pub async fn drop_database(base_url: &str, name: &str) -> Result<(), StoreError> {
    if !name.starts_with("authd_test_")
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(StoreError::Corrupt(format!("refusing to drop {name}")));
    }
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await?;
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

impl PgStore {
    /// See `FailureStore::find_and_count`: one statement. The account lookup, the choice of
    /// the counter row (the same as `SignInKeys::pick`), the counting upsert and the read of
    /// the account-wide lock, on the relaxed pool like every counter write.
    pub(crate) async fn find_and_count_impl(
        &self,
        keys: &crate::storage::protection::SignInKeys<'_>,
    ) -> Result<crate::storage::protection::SignInCount, StoreError> {
        use sqlx::{FromRow as _, Row as _};
        const SQL: &str = "with a as (select id, email, password_hash, is_admin, created_at, updated_at, session_epoch \
                from account where email = $1::text), \
             k as (select coalesce((select 'user:' || id from a), $2::text) as account_key, \
                case when (select id from a) = $3::text then $4::text else $5::text end as source), \
             c as (insert into login_failure (account_key, source, failures, window_start, blocked_until, blocks, updated_at, created_at, prefix) \
                select account_key, source, 1, $6::bigint, null, 0, $6::bigint, $6::bigint, $8::text from k \
                on conflict (account_key, source) do update set \
                prefix = $8::text, \
                failures = case when login_failure.window_start < $7::bigint then 1 else login_failure.failures + 1 end, \
                window_start = case when login_failure.window_start < $7::bigint then $6::bigint else login_failure.window_start end, \
                updated_at = $6::bigint \
                returning account_key, source, failures, blocked_until, blocks) \
             select c.account_key, c.source, c.failures, c.blocked_until, c.blocks, \
                (select l.blocked_until from login_failure l where l.account_key = c.account_key and l.source = '*') \
                as account_locked_until, \
                a.id, a.email, a.password_hash, a.is_admin, a.created_at, a.updated_at, a.session_epoch \
             from c left join a on true";
        let (device_user, device_key) = keys.device.unzip();
        let row = sqlx::query(SQL)
            .bind(keys.email)
            .bind(keys.unknown_account)
            .bind(device_user)
            .bind(device_key)
            .bind(keys.net)
            .bind(keys.now)
            .bind(keys.window_cutoff)
            .bind(keys.prefix)
            .fetch_one(&self.relaxed)
            .await?;
        let account = match row.try_get::<Option<String>, _>("id")? {
            Some(_) => Some(crate::storage::AccountRecord::from_row(&row)?),
            None => None,
        };
        Ok(crate::storage::protection::SignInCount {
            account,
            account_key: row.try_get("account_key")?,
            source: row.try_get("source")?,
            state: crate::storage::protection::FailureState::from_row(&row)?,
        })
    }

    /// See `FailureStore::clear_with_event`; engine-specific, so it lives here.
    pub(crate) async fn clear_with_event_impl(
        &self,
        account: &str,
        source: &str,
        event: &crate::events::AuthEvent,
    ) -> Result<(), StoreError> {
        let risk = crate::storage::common::risk_json(event)?;
        let sql = format!(
            "with cleared as (delete from login_failure where account_key = $14 and source = $15) {}",
            crate::storage::common::INSERT_EVENT
        );
        crate::storage::common::bind_event!(sqlx::query(&sql), event, risk)
            .bind(account)
            .bind(source)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
