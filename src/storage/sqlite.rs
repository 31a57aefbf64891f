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
    /// See `FailureStore::clear_with_event`; engine-specific, so it lives here.
    pub(crate) async fn clear_with_event_impl(
        &self,
        account: &str,
        source: &str,
        event: &crate::events::AuthEvent,
    ) -> Result<(), StoreError> {
        let risk = crate::storage::common::risk_json(event)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from login_failure where account_key = $1 and source = $2")
            .bind(account)
            .bind(source)
            .execute(&mut *tx)
            .await?;
        crate::storage::common::bind_event!(
            sqlx::query(crate::storage::common::INSERT_EVENT),
            event,
            risk
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
