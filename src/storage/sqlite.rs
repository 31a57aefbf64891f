//! SQLite backend: the embedded default. WAL mode, a busy timeout so concurrent writers wait
//! instead of failing, and foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::storage::Store;
use crate::storage::common::impl_stores;
use crate::storage::error::StoreError;
use crate::storage::mail_sql::impl_mail_stores;
use crate::storage::oauth_sql::impl_oauth_stores;
use crate::storage::protection_sql::impl_protection_stores;
use crate::storage::risk_sql::impl_risk_stores;
use crate::storage::sessions::AnySessionStore;

/// Stores over one SQLite pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    fn counter_pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl_stores!(SqliteStore);
impl_oauth_stores!(SqliteStore);
impl_mail_stores!(SqliteStore);
impl_protection_stores!(SqliteStore);
impl_risk_stores!(SqliteStore);

/// Opens (creating if asked by `mode=rwc`) and migrates the SQLite database at `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable in WAL mode except for the last transactions on power loss;
        // a process crash (kill -9) loses nothing.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        // A local file cannot drop a connection: skip the ping sqlx makes before every
        // checkout (it costs a thread hop per query, half of a bearer check's time).
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    sqlx::migrate!("migrations/sqlite")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Backend(e.into()))?;
    let sessions = tower_sessions_sqlx_store::SqliteStore::new(pool.clone());
    sessions.migrate().await?;
    Ok(Store::from_backend(
        SqliteStore { pool },
        AnySessionStore::Sqlite(sessions),
    ))
}

impl SqliteStore {
    /// See `FailureStore::find_and_count`: the lookup, then the count (both in-process).
    pub(crate) async fn find_and_count_impl(
        &self,
        keys: &crate::storage::protection::SignInKeys<'_>,
    ) -> Result<crate::storage::protection::SignInCount, StoreError> {
        use crate::storage::AccountStore as _;
        use crate::storage::protection::FailureStore as _;
        let account = match keys.email {
            Some(email) => self.find_by_email(email).await?,
            None => None,
        };
        let (account_key, source) = keys.pick(account.as_ref());
        let state = self
            .count_attempt(
                &account_key,
                &source,
                Some(keys.prefix),
                keys.now,
                keys.window_cutoff,
            )
            .await?;
        Ok(crate::storage::protection::SignInCount {
            account,
            account_key,
            source,
            state,
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
        // One message to the connection's worker thread and one commit: the statements run
        // inside `begin … commit` in the same query string (the event's binds are $1–$13).
        let sql = format!(
            "begin immediate; delete from login_failure where account_key = $14 and source = $15; {}; commit",
            crate::storage::common::INSERT_EVENT
        );
        let mut conn = self.pool.acquire().await?;
        let result = crate::storage::common::bind_event!(sqlx::query(&sql), event, risk)
            .bind(account)
            .bind(source)
            .execute(&mut *conn)
            .await;
        if result.is_err() {
            // A failed statement leaves the transaction open on this connection: end it
            // before the connection goes back to the pool.
            let _ = sqlx::query("rollback").execute(&mut *conn).await;
        }
        result?;
        Ok(())
    }
}
