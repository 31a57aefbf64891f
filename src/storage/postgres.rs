//! PostgreSQL, the scale-out engine shared by several authd instances: the pools, the
//! migrations (serialised by advisory locks, so instances may start together) and the scratch
//! databases the test suites use. The SQL of the stores lives with its aggregate.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

use crate::storage::error::StoreError;
use crate::storage::sessions::AnySessionStore;
use crate::storage::{Backend, Store};

/// A pooled connection idle for this long or longer is pinged before it is handed out.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The options of authd's pools: at most `max` connections, and no ping before every use.
///
/// sqlx pings each idle connection before handing it out by default: one more round trip per
/// statement, through a server process that must be scheduled, with the pool's place held
/// meanwhile. Under a login flood on two shared cores the token endpoint waited up to 150 ms
/// for a connection while most sat idle (docs/benchmarks.md, "PostgreSQL: a ping before every
/// statement"). Only a connection that sat idle for `PING_IDLE_AFTER` is pinged now, so one
/// the server closed while the service was quiet (a restart) is still replaced unseen; one
/// closed under traffic fails its next statement once, and the pool opens a new one.
fn pool_options(max: u32) -> PgPoolOptions {
    pool_options_pinging_after(max, PING_IDLE_AFTER)
}

/// [`pool_options`], pinging connections idle for `idle` or longer.
fn pool_options_pinging_after(max: u32, idle: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= idle {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Connects to and migrates the PostgreSQL database at `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    // The session-store migration below holds one connection for its advisory lock while the
    // store migrates on another.
    let pool = pool_options(max_connections.max(2)).connect(url).await?;
    sqlx::migrate!("migrations/postgres")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Backend(e.into()))?;
    let sessions = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
    migrate_sessions(&pool, &sessions).await?;
    let relaxed = pool_options((max_connections / 2).max(1))
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
    let store = Store::new(
        Backend::Postgres {
            pool: pool.clone(),
            relaxed,
        },
        AnySessionStore::Postgres(sessions, pool),
    );
    store.sessions.drop_plain_keyed().await?;
    Ok(store)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of one connection (pinged after `idle`) and the id of its server process.
    async fn one_connection(url: &str, idle: Duration) -> (PgPool, i32) {
        let pool = pool_options_pinging_after(1, idle)
            .connect(url)
            .await
            .unwrap();
        let pid = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        (pool, pid)
    }

    /// Ends the server process `pid` from another connection and waits until it is gone.
    async fn terminate(url: &str, pid: i32) {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap();
        let ended: bool = sqlx::query_scalar("select pg_terminate_backend($1, 10000)")
            .bind(pid)
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(ended);
        admin.close().await;
    }

    /// Asserts that `pool`'s next statement succeeds on another server process than `pid`.
    async fn served_by_another(pool: PgPool, pid: i32) {
        let next: i32 = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_ne!(next, pid);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_connection_used_a_moment_ago_is_not_pinged_and_a_dead_one_is_replaced() {
        let Some((base, url, name)) = crate::storage::contract::postgres_scratch().await else {
            return;
        };
        // Not pinged: the statement itself meets the closed connection, once.
        let (pool, pid) = one_connection(&url, Duration::from_secs(3600)).await;
        terminate(&url, pid).await;
        let first = sqlx::query("select 1").execute(&pool).await;
        assert!(
            first.is_err(),
            "the connection was pinged before the statement"
        );
        served_by_another(pool, pid).await;
        // Idle past the threshold (zero here): pinged, and the closed connection replaced
        // without the statement seeing it.
        let (pool, pid) = one_connection(&url, Duration::ZERO).await;
        terminate(&url, pid).await;
        served_by_another(pool, pid).await;
        drop_database(&base, &name).await.unwrap();
    }
}
