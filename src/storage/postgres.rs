//! PostgreSQL, the scale-out engine shared by several authd instances: the pools, the
//! migrations (serialised by advisory locks, so instances may start together) and the scratch
//! databases the test suites use. The SQL of the stores lives with its aggregate.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::storage::error::StoreError;
use crate::storage::sessions::AnySessionStore;
use crate::storage::{Backend, Store};

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
    // The relaxed pool serves only the sign-in counters (see `Backend::Postgres`).
    Ok(Store::new(
        Backend::Postgres {
            pool: pool.clone(),
            relaxed,
        },
        AnySessionStore::Postgres(sessions, pool),
    ))
}

/// Whether the database at `url` holds authd's tables (a command other than `serve` and
/// `migrate` refuses to create them by accident). Creates nothing.
pub async fn has_schema(url: &str) -> Result<bool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    let found: bool = sqlx::query_scalar("select to_regclass('account') is not null")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(found)
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
