//! SQLite's WAL checkpoints, mostly off the writer. With SQLite's own automatic checkpoint the
//! one writing connection copies the log into the database every 1 000 pages and then starts the
//! log again, and each such cycle costs the writer `fsync`s (the log, and the database after the
//! copy; then the restarted log's header) that every write queued behind it waits for: under
//! load, the token endpoint's tail (docs/benchmarks.md).
//!
//! Here the writer's automatic checkpoint is raised to `restart_at` pages, and a connection of
//! its own copies the log in the background every 50 ms (`BUSY_POLL`) while it grows (a *passive*
//! checkpoint: it never takes the write lock, so writers go on meanwhile; it syncs the log
//! before copying). The writer still checkpoints when the log reaches `restart_at` (only what
//! the background copy has not reached yet) and starts it again. Nothing about durability
//! changes: every commit is in the log exactly as before, and the log is copied and synced by
//! the same SQLite code.
//!
//! A passive copy that ends before the log does syncs the log but not the database file (SQLite
//! syncs that only when a copy reaches the log's end, which under a steady load only the
//! writer's does): the pages copied over a whole cycle would then be flushed by the writer's
//! checkpoint, in one long `fsync` every queued write waits for (100–220 ms on a slow disk).
//! So after every eighth of `restart_at` copied, the background flushes the database file
//! (`fdatasync`) through `held_open`: a descriptor opened once per file and **never closed**
//! while the process lives, since closing any descriptor of the file would drop the process's
//! POSIX locks on it, SQLite's included (sqlite.org/howtocorrupt.html, 2.2). Only that file: an
//! earlier `syncfs` of its whole file system also wrote out the event spool's young segments
//! beside it, so a token request appending to one waited on the page being written, and
//! deleting a stored segment waited on the disk's discard (docs/benchmarks.md).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// The WAL's length in pages at which the writer checkpoints and restarts it, when the
/// background copy is on; 0 = SQLite's own automatic checkpoint (1 000 pages, in the writer).
pub const DEFAULT_RESTART_AT: u32 = 8_000;

/// How often the log is copied while it grows.
pub const BUSY_POLL: Duration = Duration::from_millis(50);
/// How often it is looked at while it does not.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The background copy of one database file.
#[derive(Debug, Clone)]
pub struct WalCheckpoints {
    options: SqliteConnectOptions,
    /// The database file (what is flushed).
    file: PathBuf,
    /// Pages copied between two flushes of the database file.
    flush_every: i64,
}

/// What one passive checkpoint found: the log's frames and how many are in the database now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Copied {
    pub(crate) log: i64,
    pub(crate) copied: i64,
}

impl WalCheckpoints {
    /// The background copy for `file`, which `options` open (`None` when `restart_at` is 0:
    /// the writer keeps SQLite's own automatic checkpoint).
    pub(crate) fn new(options: SqliteConnectOptions, file: &Path, restart_at: u32) -> Option<Self> {
        (restart_at > 0).then(|| Self {
            options,
            file: file.to_path_buf(),
            flush_every: i64::from(restart_at / 8).max(1),
        })
    }

    /// Whether the database file is due a flush: `flush_every` pages copied since the last
    /// one (`flushed` is where that was; a log started again counts from its beginning).
    fn flush_due(&self, now: Copied, flushed: &mut i64) -> bool {
        if now.copied < *flushed {
            *flushed = 0;
        }
        if now.copied - *flushed >= self.flush_every {
            *flushed = now.copied;
            return true;
        }
        false
    }

    /// Flushes the database file, off the async threads.
    async fn flush(&self) {
        let path = self.file.clone();
        let done = tokio::task::spawn_blocking(move || held_open(&path)?.sync_data()).await;
        if let Ok(Err(e)) = done {
            tracing::debug!(error = %e, "flushing the database file failed");
        }
    }

    /// One passive checkpoint: copies what the log holds that no reader still needs from it.
    /// A checkpoint the writer is running makes this one return busy: not an error.
    pub(crate) async fn step(conn: &mut SqliteConnection) -> Result<Copied, sqlx::Error> {
        let (_busy, log, copied): (i64, i64, i64) =
            sqlx::query_as("pragma wal_checkpoint(passive)")
                .fetch_one(&mut *conn)
                .await?;
        Ok(Copied { log, copied })
    }

    /// Runs the background copy until the task is aborted (`app/jobs.rs`).
    pub async fn run(self) {
        let mut conn = loop {
            match SqliteConnection::connect_with(&self.options).await {
                Ok(c) => break c,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpointer cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        let mut seen = Copied::default();
        let mut flushed = 0;
        loop {
            let pause = match Self::step(&mut conn).await {
                Ok(now) => {
                    if self.flush_due(now, &mut flushed) {
                        self.flush().await;
                    }
                    // Nothing new since the last look (an idle server): look less often.
                    let moved = now != seen;
                    seen = now;
                    if moved { BUSY_POLL } else { IDLE_POLL }
                }
                // Busy (the writer's own checkpoint runs) or a passing fault: the writer's
                // automatic checkpoint at `restart_at` covers for this one meanwhile.
                Err(e) => {
                    tracing::debug!(error = %e, "background WAL checkpoint skipped");
                    BUSY_POLL
                }
            };
            tokio::time::sleep(pause).await;
        }
    }
}

/// A read-only descriptor of the database file at `path` for flushing it, opened at the first
/// call and then reused; **never closed** while the process lives (closing any descriptor of
/// the file would drop the process's POSIX locks on it, SQLite's included). One per file: a
/// file replaced at the same path (the inode changed) gets a new one, the old one kept open.
pub(crate) fn held_open(path: &Path) -> io::Result<&'static File> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, &'static File>>> = OnceLock::new();
    let mut held = HELD
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = std::fs::metadata(path)?;
    if let Some(file) = held.get(path)
        && let Ok(then) = file.metadata()
        && (then.dev(), then.ino()) == (now.dev(), now.ino())
    {
        return Ok(file);
    }
    // Leaked on purpose: closed only when the process ends.
    let file: &'static File = Box::leak(Box::new(File::open(path)?));
    held.insert(path.to_path_buf(), file);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::open_pools_with;

    async fn open(
        restart_at: u32,
    ) -> (tempfile::TempDir, sqlx::SqlitePool, Option<WalCheckpoints>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let (_, writer, wal) = open_pools_with(&url, 1, restart_at).await.expect("open");
        sqlx::query("create table filler (b blob)")
            .execute(&writer)
            .await
            .expect("table");
        (dir, writer, wal)
    }

    /// One commit of about one page.
    async fn write(writer: &sqlx::SqlitePool) {
        sqlx::query("insert into filler (b) values (randomblob(3000))")
            .execute(writer)
            .await
            .expect("insert");
    }

    async fn autocheckpoint(writer: &sqlx::SqlitePool) -> i64 {
        crate::storage::sqlite::pragma(writer, "wal_autocheckpoint").await
    }

    #[tokio::test]
    async fn the_writer_checkpoints_at_the_length_and_the_background_copies_meanwhile() {
        let (_dir, writer, wal) = open(400).await;
        let wal = wal.expect("a file database with a length above 0 gets the background copy");
        assert_eq!(
            autocheckpoint(&writer).await,
            400,
            "the writer's own checkpoint is raised"
        );
        let mut conn = SqliteConnection::connect_with(&wal.options)
            .await
            .expect("connect");
        // Whatever the migrations left, copied; the next commit starts the log again.
        WalCheckpoints::step(&mut conn).await.expect("step");
        write(&writer).await;
        for _ in 0..30 {
            write(&writer).await;
        }
        // Below the writer's length its own checkpoint has not run: the log only grew.
        let grown = WalCheckpoints::step(&mut conn).await.expect("step");
        assert!(grown.log >= 30 && grown.log < 400, "{grown:?}");
        assert_eq!(
            grown.copied, grown.log,
            "nothing wrote meanwhile: copied whole"
        );
        let again = WalCheckpoints::step(&mut conn).await.expect("step");
        assert_eq!(again, grown, "nothing new: nothing changes");
        write(&writer).await;
        let restarted = WalCheckpoints::step(&mut conn).await.expect("step");
        assert!(
            restarted.log < grown.log,
            "copied whole, the log starts again: {restarted:?}"
        );
    }

    #[test]
    fn the_database_file_is_flushed_every_eighth_of_the_length_copied() {
        let options = SqliteConnectOptions::new();
        let wal = WalCheckpoints::new(options, Path::new("/d/a.db"), 800).expect("on");
        assert_eq!(wal.file, Path::new("/d/a.db"));
        let mut flushed = 0;
        let at = |copied| Copied {
            log: copied,
            copied,
        };
        assert!(!wal.flush_due(at(99), &mut flushed));
        assert!(wal.flush_due(at(100), &mut flushed));
        assert!(
            !wal.flush_due(at(150), &mut flushed),
            "50 since the last flush"
        );
        assert!(wal.flush_due(at(260), &mut flushed));
        // The log started again: counted from its beginning.
        assert!(!wal.flush_due(at(40), &mut flushed));
        assert!(wal.flush_due(at(100), &mut flushed));
    }

    #[tokio::test]
    async fn the_flush_opens_the_database_file_once_and_keeps_it() {
        let (dir, writer, wal) = open(400).await;
        let wal = wal.expect("on");
        assert_eq!(wal.file, dir.path().join("w.db"));
        wal.flush().await;
        let first = held_open(&wal.file).expect("opened and kept") as *const File;
        wal.flush().await;
        let again = held_open(&wal.file).expect("kept");
        assert_eq!(again as *const File, first, "the same descriptor");
        // The database file itself, not its directory or file system.
        let (held, file) = (
            again.metadata().expect("held"),
            wal.file.metadata().expect("db"),
        );
        assert_eq!((held.dev(), held.ino()), (file.dev(), file.ino()));
        write(&writer).await;
        let gone = WalCheckpoints::new(SqliteConnectOptions::new(), &dir.path().join("no.db"), 8)
            .expect("on");
        gone.flush().await;
        assert!(
            held_open(&gone.file).is_err(),
            "a file that cannot be opened: nothing kept, no panic"
        );
    }

    #[test]
    fn a_file_replaced_at_the_same_path_gets_a_new_descriptor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        std::fs::write(&path, b"one").expect("write");
        let first = held_open(&path).expect("open") as *const File;
        assert_eq!(held_open(&path).expect("open") as *const File, first);
        std::fs::remove_file(&path).expect("remove");
        std::fs::write(&path, b"two").expect("write");
        let second = held_open(&path).expect("open");
        assert_ne!(second as *const File, first);
        let (held, file) = (
            second.metadata().expect("held"),
            path.metadata().expect("file"),
        );
        assert_eq!(held.ino(), file.ino());
    }

    #[tokio::test]
    async fn zero_keeps_sqlite_s_own_checkpoint_in_the_writer() {
        let (_dir, writer, wal) = open(0).await;
        assert!(wal.is_none());
        assert_eq!(autocheckpoint(&writer).await, 1000);
    }

    #[tokio::test]
    async fn an_in_memory_database_has_no_background_copy() {
        let (_, _, wal) = open_pools_with("sqlite::memory:", 1, 8000)
            .await
            .expect("open");
        assert!(wal.is_none());
    }
}
