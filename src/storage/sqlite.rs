//! SQLite, the embedded default: the pools (WAL mode, foreign keys on; one connection for the
//! writes so writers queue in-process, and a busy timeout for what still meets a lock; readers
//! with a smaller page cache), the migrations, and the database file's mode: created
//! `0600` (SQLite gives its `-wal` and `-shm` files the database's mode), and tightened to
//! `0600` at start if an older version left it readable by others; and `one_transaction`,
//! several writes sent to the writer as one message, rolled back if its caller is dropped. The
//! SQL lives with its aggregate.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::storage::error::StoreError;
use crate::storage::sessions::AnySessionStore;
use crate::storage::sqlite_wal::WalCheckpoints;
use crate::storage::{Backend, Store};

/// The page cache of each reading connection, in KiB (SQLite's default, kept by the writer, is
/// 2 000 KiB). Each connection caches pages privately, so with the default the readers' caches
/// grew the resident set by up to 2 MiB per connection as a sustained load grew the database
/// (docs/benchmarks.md, "Memory under a login flood"); the operating system's page cache holds
/// the file once for all of them, and the b-trees' upper pages fit in this size.
pub const READER_CACHE_KIB: u32 = 512;

/// Runs `statements`, one query string of the form `begin immediate; …; commit` with its binds,
/// on the writer in one message to its worker thread: one hand-off and one commit for several
/// writes. A failed statement leaves the transaction open on the connection, so it is rolled
/// back before the connection goes back to the pool.
///
/// If the caller is dropped mid-way (a request cancelled by its timeout or its client), the
/// transaction may be left open on the connection (its worker stops at the first result nobody
/// waits for): otherwise every later write would join it and be lost with it. So the connection
/// is rolled back before it goes back to the pool, by a task on the runtime (`RollBackUnlessDone`).
pub(crate) async fn one_transaction<'q>(
    writer: &sqlx::SqlitePool,
    statements: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<(), sqlx::Error> {
    let mut held = RollBackUnlessDone(Some(writer.acquire().await?));
    let conn = held.0.as_mut().ok_or(sqlx::Error::PoolClosed)?;
    let result = statements.execute(&mut **conn).await;
    if result.is_err() {
        let _ = sqlx::query("rollback").execute(&mut **conn).await;
    }
    // Done either way: the connection goes back to the pool.
    held.0.take();
    result.map(|_| ())
}

/// A connection dropped before `one_transaction` finished with it: rolled back by a task
/// spawned on the runtime (the main one, also for a page's handler: the lane polls in its
/// context), then returned to the pool; closed where that cannot be done (no runtime, or the
/// rollback failed for another reason than there being no transaction).
///
/// Not closed outright: the pool would open the replacement in whichever task wrote next, and
/// SQLite's connection thread takes the priority of the thread that starts it. From a page's
/// handler that is the lane's nice 10 (`app/lane.rs`), which every later write, the machine
/// routes' included, would then wait on (a test below).
struct RollBackUnlessDone(Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>);

impl Drop for RollBackUnlessDone {
    fn drop(&mut self) {
        let Some(mut conn) = self.0.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            conn.close_on_drop();
            return;
        };
        runtime.spawn(async move {
            match sqlx::query("rollback").execute(&mut *conn).await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("no transaction is active") => {}
                Err(e) => {
                    tracing::warn!(error = %e, "closing the writer's connection: rollback failed");
                    conn.close_on_drop();
                }
            }
        });
    }
}

/// The readers' pool and the writer (one pool on an in-memory database), migrated, with SQLite's
/// own automatic checkpoint in the writer.
#[cfg(test)]
pub(crate) async fn open_pools(
    url: &str,
    max_connections: u32,
) -> Result<(sqlx::SqlitePool, sqlx::SqlitePool), StoreError> {
    open_pools_with(url, max_connections, 0)
        .await
        .map(|(pool, writer, _)| (pool, writer))
}

/// The readers' pool and the writer, migrated, and the background WAL copy when
/// `wal_restart_at` is above 0 on a file (`sqlite_wal.rs`).
pub(crate) async fn open_pools_with(
    url: &str,
    max_connections: u32,
    wal_restart_at: u32,
) -> Result<(sqlx::SqlitePool, sqlx::SqlitePool, Option<WalCheckpoints>), StoreError> {
    let file = database_file(url);
    if let Some(file) = &file
        && url.contains("mode=rwc")
    {
        create_private(file);
    }
    let options = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable in WAL mode except for the last transactions on power loss;
        // a process crash (kill -9) loses nothing.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    // One connection writes (`Backend::Sqlite`), the others read. An in-memory database is one
    // per connection: there, one pool of one connection does both.
    let in_memory = file.is_none();
    let checkpoints = file
        .as_deref()
        .and_then(|f| WalCheckpoints::new(options.clone(), f, wal_restart_at));
    let writer_options = match &checkpoints {
        Some(_) => options
            .clone()
            .pragma("wal_autocheckpoint", wal_restart_at.to_string()),
        None => options.clone(),
    };
    // Every connection is opened now, on the main runtime, and kept (a local file cannot drop
    // one): a connection's thread takes the priority of the thread that opens it, and one
    // opened later by a browser route's handler would run at the page lane's nice 10
    // (`app/lane.rs`), with the machine routes' statements behind it.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        // A local file cannot drop a connection: skip the ping sqlx makes before every
        // checkout (it costs a thread hop per query, half of a bearer check's time).
        .test_before_acquire(false)
        .connect_with(writer_options)
        .await?;
    sqlx::migrate!("migrations/sqlite")
        .run(&writer)
        .await
        .map_err(|e| StoreError::Backend(e.into()))?;
    let pool = if in_memory {
        writer.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(max_connections)
            .min_connections(max_connections)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options.pragma("cache_size", format!("-{READER_CACHE_KIB}")))
            .await?
    };
    if let Some(file) = &file {
        restrict(file);
    }
    Ok((pool, writer, checkpoints))
}

/// Opens (creating if asked by `mode=rwc`) and migrates the SQLite database at `url`; the
/// writer checkpoints the WAL at `wal_restart_at` pages and `Store::wal` copies it in the
/// background meanwhile (0: SQLite's own automatic checkpoint, no background copy).
pub async fn connect(
    url: &str,
    max_connections: u32,
    wal_restart_at: u32,
) -> Result<Store, StoreError> {
    let (pool, writer, checkpoints) = open_pools_with(url, max_connections, wal_restart_at).await?;
    let writes = tower_sessions_sqlx_store::SqliteStore::new(writer.clone());
    writes.migrate().await?;
    let mut store = Store::new(
        Backend::Sqlite {
            pool: pool.clone(),
            writer: writer.clone(),
        },
        AnySessionStore::Sqlite {
            writes,
            reader: pool,
            writer,
        },
    );
    store.wal = checkpoints;
    store.sessions.drop_plain_keyed().await?;
    Ok(store)
}

/// The database file a SQLite URL names; `None` for an in-memory database.
pub fn database_file(url: &str) -> Option<PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let name = options.get_filename();
    (!name.as_os_str().is_empty()).then(|| name.to_path_buf())
}

/// Creates the database file empty with mode `0600` if it does not exist yet (SQLite then
/// opens it as a new database). Failures are left for SQLite to report.
fn create_private(file: &Path) {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let _ = open.open(file);
}

/// Takes group and other access away from the database and its `-wal` and `-shm` files.
fn restrict(file: &Path) {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "database file made private (0600)")
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "database file is readable by others");
                }
            }
        }
    }
}

/// A connection setting's value, as `pragma NAME` reads it (for tests).
#[cfg(test)]
pub(crate) async fn pragma(pool: &sqlx::SqlitePool, name: &str) -> i64 {
    sqlx::query_scalar(&format!("pragma {name}"))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("pragma {name}: {e}"))
}

/// Query plans on a real schema, for the tests that check a statement uses its index.
#[cfg(test)]
pub(crate) mod scratch {
    /// A database migrated to the current schema in a temporary directory (gone when the
    /// `TempDir` is dropped) and its read pool.
    pub(crate) async fn pool() -> (tempfile::TempDir, sqlx::SqlitePool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let (pool, _) = super::open_pools(&url, 1).await.expect("open");
        (dir, pool)
    }

    /// The plan SQLite picks for `sql` with `binds`, one line per step.
    pub(crate) async fn plan(pool: &sqlx::SqlitePool, sql: &str, binds: &[&str]) -> String {
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sql);
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(pool).await.expect("explain");
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with a table `t`, its pools, and a reader holding the write lock.
    async fn locked_table() -> (
        tempfile::TempDir,
        sqlx::SqlitePool,
        sqlx::SqlitePool,
        sqlx::pool::PoolConnection<sqlx::Sqlite>,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let (pool, writer) = open_pools(&url, 2).await.expect("open");
        sqlx::query("create table t (x integer)")
            .execute(&writer)
            .await
            .expect("table");
        let mut holder = pool.acquire().await.expect("a reader");
        sqlx::query("begin immediate")
            .execute(&mut *holder)
            .await
            .expect("lock");
        (dir, pool, writer, holder)
    }

    /// A caller dropped while its transaction waits for the lock (a cancelled request) must
    /// not leave the transaction open on the writer: the next write would join it and never
    /// commit.
    #[tokio::test]
    async fn a_dropped_transaction_does_not_swallow_the_next_write() {
        let (_dir, pool, writer, mut holder) = locked_table().await;
        let waiting = one_transaction(
            &writer,
            sqlx::query("begin immediate; insert into t values (1); commit"),
        );
        let dropped = tokio::time::timeout(Duration::from_millis(100), waiting).await;
        assert!(dropped.is_err(), "it waited for the lock and was dropped");
        sqlx::query("commit")
            .execute(&mut *holder)
            .await
            .expect("unlock");
        drop(holder);
        sqlx::query("insert into t values (2)")
            .execute(&writer)
            .await
            .expect("the next write");
        let seen: Vec<i64> = sqlx::query_scalar("select x from t")
            .fetch_all(&pool)
            .await
            .expect("read");
        assert!(seen.contains(&2), "the next write is committed: {seen:?}");
    }

    /// SQLite's connection threads (`sqlx-sqlite-worker-N`) of this process and their nice
    /// values.
    #[cfg(target_os = "linux")]
    fn sqlite_threads() -> Vec<(i32, i32)> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("sqlx-sqlite-wor"))
            })
            .filter_map(|t| t.file_name().to_string_lossy().parse().ok())
            .filter_map(|tid: i32| {
                let pid = rustix::process::Pid::from_raw(tid)?;
                Some((tid, rustix::process::getpriority_process(Some(pid)).ok()?))
            })
            .collect()
    }

    /// A browser route's handler runs on a nice-10 thread (`app/lane.rs`), and a thread takes
    /// the priority of the thread that starts it: had the writer's connection been closed when
    /// such a handler was dropped mid-transaction, the next write from a page would open its
    /// replacement there, and every write after it (the token endpoint's too) would run on a
    /// nice-10 thread for the rest of the process's life. The connection is kept: rolled back
    /// and returned by a task on the main runtime.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_dropped_on_a_low_priority_thread_leaves_the_writer_where_it_was() {
        let (_dir, pool, writer, mut holder) = locked_table().await;
        let before: Vec<i32> = sqlite_threads().into_iter().map(|(tid, _)| tid).collect();
        // A page's thread: nice 10, polling in the main runtime's context, as the lane does.
        let main = tokio::runtime::Handle::current();
        let (w, (go_tx, go_rx)) = (writer.clone(), std::sync::mpsc::channel::<()>());
        let page = std::thread::spawn(move || {
            let me = rustix::thread::gettid();
            rustix::process::setpriority_process(Some(me), 10).expect("nice 10");
            main.block_on(async {
                let waiting = one_transaction(
                    &w,
                    sqlx::query("begin immediate; insert into t values (1); commit"),
                );
                let dropped = tokio::time::timeout(Duration::from_millis(100), waiting).await;
                assert!(dropped.is_err(), "it waited for the lock and was dropped");
            });
            go_rx.recv().expect("the lock released");
            main.block_on(one_transaction(&w, sqlx::query("insert into t values (2)")))
                .expect("the next write, from the page's thread");
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("commit")
            .execute(&mut *holder)
            .await
            .expect("unlock");
        drop(holder);
        go_tx.send(()).expect("go");
        tokio::task::spawn_blocking(move || page.join())
            .await
            .expect("joined")
            .expect("the page's thread");
        let seen: Vec<i64> = sqlx::query_scalar("select x from t")
            .fetch_all(&pool)
            .await
            .expect("read");
        assert_eq!(
            seen,
            vec![2],
            "the dropped write rolled back, the next one committed"
        );
        let opened: Vec<(i32, i32)> = sqlite_threads()
            .into_iter()
            .filter(|(tid, _)| !before.contains(tid))
            .collect();
        assert!(
            opened.iter().all(|&(_, nice)| nice == 0),
            "SQLite threads started since (tid, nice): {opened:?}"
        );
    }

    /// Dropped with no transaction open (SQLite refuses the rollback), the connection is still
    /// the pool's: the same one is handed out next, not a replacement.
    #[tokio::test]
    async fn a_connection_dropped_without_a_transaction_goes_back_to_the_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let (_pool, writer) = open_pools(&url, 1).await.expect("open");
        let mut conn = writer.acquire().await.expect("the writer");
        // A temporary table lives as long as its connection.
        sqlx::query("create temp table marker (x integer)")
            .execute(&mut *conn)
            .await
            .expect("marker");
        drop(RollBackUnlessDone(Some(conn)));
        let mut again = writer.acquire().await.expect("the writer again");
        let marked: i64 = sqlx::query_scalar("select count(*) from temp.marker")
            .fetch_one(&mut *again)
            .await
            .expect("the same connection");
        assert_eq!(marked, 0);
    }

    async fn cache_size(pool: &sqlx::SqlitePool) -> i64 {
        pragma(pool, "cache_size").await
    }

    #[tokio::test]
    async fn readers_keep_a_smaller_page_cache_than_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let (pool, writer) = open_pools(&url, 2).await.expect("open");
        assert_eq!(cache_size(&pool).await, -i64::from(READER_CACHE_KIB));
        // The writer keeps SQLite's default (2 000 KiB): its inserts walk every index.
        assert_eq!(cache_size(&writer).await, -2000);
    }

    /// The bundled SQLite is built without its memory statistics (`LIBSQLITE3_FLAGS` in
    /// `.cargo/config.toml`): with them, every allocation of every connection takes one
    /// process-wide mutex that request threads wait on (docs/benchmarks.md).
    #[tokio::test]
    async fn sqlite_is_built_without_memory_statistics() {
        // The options are the library's, not a database's: any connection tells.
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("open");
        let options: Vec<String> =
            sqlx::query_scalar("select compile_options from pragma_compile_options")
                .fetch_all(&pool)
                .await
                .expect("compile options");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }
}
