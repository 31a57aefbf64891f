//! SQLite, the embedded default: the pool (WAL mode, a busy timeout so concurrent writers wait
//! instead of failing, foreign keys on) and the migrations. The SQL lives with its aggregate.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::storage::error::StoreError;
use crate::storage::sessions::AnySessionStore;
use crate::storage::{Backend, Store};

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
    Ok(Store::new(
        Backend::Sqlite(pool.clone()),
        AnySessionStore::Sqlite(sessions, pool),
    ))
}
