//! The event spool (SQLite only): lets `POST /token` and `POST /risk/evaluate` answer without
//! waiting for SQLite's one writer. A `token_issued` or `risk_evaluated` event is appended as one
//! JSON line to a segment file beside the database (`<db>-spool-<n>`, mode 0600) and handed to the
//! group writer, which stores it with the next batch; the request answers once the line is written.
//! That is the durability SQLite itself gives a commit with `synchronous = NORMAL` (a `write(2)`
//! into the log, not an `fsync`): the event survives a crash or `kill -9` of the process, not a
//! power loss of the machine. A segment is deleted once every event in it is in the database (the
//! current one at a graceful stop, `close`); whatever a crash left is stored at the next start
//! (`recover`, before the server listens; an event already stored is recognised by its id), the
//! database's log flushed to disk before the segments are deleted.
//!
//! Why: on a busy disk the writer's transactions sometimes wait for the log's `fsync`s
//! (checkpoints, a restart of the log), and every request waiting for its event waited with
//! them: the token endpoint's tail under a login flood (docs/benchmarks.md). Readers of the
//! event log (`EventSink::list`, `page`) first wait until the writer has taken in everything
//! spooled before them, so nothing read through the sink misses a spooled event.
//!
//! The start-up recovery is `spool/recovery.rs`.
//!
//! One process owns a database's spool, by an exclusive `flock` on `<db>-spool.lock` held for
//! its lifetime; a second server on the same file writes its events directly.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::events::{AuthEvent, EventKind};
use crate::storage::EventStore;
use crate::storage::error::StoreError;

mod recovery;

/// A segment is closed and a new one begun past this size (about 3 000 events).
const SEGMENT_BYTES: u64 = 1 << 20;

/// Whether events of `kind` go through the spool: only those a request would otherwise wait
/// on the writer for and nothing at the request's side reads back at once: the token
/// endpoint's `token_issued` and the risk API's `risk_evaluated` (a resource server asks it on
/// every use of a token; nothing scores from the log, the per-token networks are kept apart).
pub(crate) fn spooled(kind: EventKind) -> bool {
    matches!(kind, EventKind::TokenIssued | EventKind::RiskEvaluated)
}

/// One line of a segment: the event and its decision's stable code (not on the event's wire
/// form).
#[derive(Serialize, Deserialize)]
struct Line {
    event: AuthEvent,
    code: Option<String>,
}

/// The spool of one database file.
#[derive(Debug)]
pub struct Spool {
    /// `<db>-spool-`: a segment's path is this and its number.
    prefix: PathBuf,
    /// Holds the `flock` while the spool lives.
    _lock: File,
    state: Mutex<State>,
    /// Events appended and not yet stored (or given up on).
    pending: AtomicU64,
    /// Stored segments handed to the blocking pool for deletion and not yet deleted, and the
    /// signal each deletion gives (`delete_later`).
    deleting: Arc<(AtomicU64, tokio::sync::Notify)>,
}

#[derive(Debug)]
struct State {
    file: File,
    segment: u64,
    /// Set at a graceful stop (or when a failed write left a line that could not be cut off):
    /// nothing more is appended.
    closed: bool,
    len: u64,
    /// Per segment still on disk: (events appended, events stored).
    counts: BTreeMap<u64, (u64, u64)>,
}

fn segment_path(prefix: &Path, n: u64) -> PathBuf {
    let mut p = prefix.as_os_str().to_owned();
    p.push(format!("{n:08}"));
    PathBuf::from(p)
}

/// Deletes segments whose events are all stored (outside the spool's lock; on the request
/// path through `Spool::delete_later`).
fn delete(segments: impl IntoIterator<Item = PathBuf>) {
    for path in segments {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(error = %e, path = %path.display(), "an event spool segment could not be deleted");
        }
    }
}

fn create_segment(prefix: &Path, n: u64) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(segment_path(prefix, n))
}

/// Why the spool could not be opened or recovered.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file of the spool.
    #[error("event spool {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: io::Error,
    },
    /// Storing a recovered event.
    #[error("storing the event spool's events: {0}")]
    Store(#[from] StoreError),
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Spool {
    /// Takes the spool of the database file `db`: stores the events a previous process left in
    /// it, deletes their segments and begins a new one. `None` when another process holds it.
    pub async fn recover(db: &Path, store: &dyn EventStore) -> Result<Option<Self>, SpoolError> {
        let mut lock_path = db.as_os_str().to_owned();
        lock_path.push("-spool.lock");
        let lock_path = PathBuf::from(lock_path);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        let flags = rustix::fs::FlockOperation::NonBlockingLockExclusive;
        if rustix::fs::flock(&lock, flags).is_err() {
            tracing::warn!(lock = %lock_path.display(), "another process holds the event spool: events are written directly");
            return Ok(None);
        }
        let mut prefix = db.as_os_str().to_owned();
        prefix.push("-spool-");
        let prefix = PathBuf::from(prefix);
        let last = recovery::take_in(db, &prefix, store).await?;
        let segment = last + 1;
        let file = create_segment(&prefix, segment).map_err(io_at(&prefix))?;
        Ok(Some(Self {
            prefix,
            _lock: lock,
            state: Mutex::new(State {
                file,
                segment,
                closed: false,
                len: 0,
                counts: BTreeMap::from([(segment, (0, 0))]),
            }),
            pending: AtomicU64::new(0),
            deleting: Arc::default(),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `event` to the current segment; its number once the line is written.
    pub(crate) fn append(&self, event: &AuthEvent) -> io::Result<u64> {
        let mut line = serde_json::to_vec(&Line {
            event: event.clone(),
            code: event.decision_code.map(|d| d.code().to_owned()),
        })?;
        line.push(b'\n');
        let mut state = self.state();
        if state.closed {
            return Err(io::Error::other("the event spool is closed"));
        }
        // Closed segments found stored on the way (at most two), deleted once the lock is gone.
        let mut stored = Vec::new();
        if state.len >= SEGMENT_BYTES {
            stored.extend(self.next_segment(&mut state)?);
        }
        if let Err(e) = state.file.write_all(&line) {
            // Cut a partial line off, so the next line starts clean; failing that, the next
            // line goes to a segment of its own.
            // Failing both, the spool takes nothing more (a torn line must not be followed).
            if state.file.set_len(state.len).is_err() {
                match self.next_segment(&mut state) {
                    Ok(also) => stored.extend(also),
                    Err(_) => state.closed = true,
                }
            }
            drop(state);
            self.delete_later(stored);
            return Err(e);
        }
        state.len += line.len() as u64;
        let segment = state.segment;
        if let Some(c) = state.counts.get_mut(&segment) {
            c.0 += 1;
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        drop(state);
        self.delete_later(stored);
        Ok(segment)
    }

    /// Closes the current segment and begins the next; the closed one's path if every event in
    /// it is stored already (for the caller to delete once the lock is released).
    fn next_segment(&self, state: &mut State) -> io::Result<Option<PathBuf>> {
        let next = state.segment + 1;
        state.file = create_segment(&self.prefix, next)?;
        let closed = std::mem::replace(&mut state.segment, next);
        state.len = 0;
        state.counts.insert(next, (0, 0));
        Ok(self.forget_if_stored(state, closed))
    }

    /// At a graceful stop, once the writer has settled: nothing more is appended, and the
    /// current segment is deleted if every event in it is stored.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        let current = state.segment;
        let stored = self.forget_if_stored(&mut state, current);
        drop(state);
        delete(stored);
    }

    /// The writer is done with an event of `segment`: `stored`, or given up on (it stays in
    /// its segment, which is then kept for the next start to store).
    pub(crate) fn done(&self, segment: u64, stored: bool) {
        let mut state = self.state();
        if stored && let Some(c) = state.counts.get_mut(&segment) {
            c.1 += 1;
        }
        self.pending.fetch_sub(1, Ordering::AcqRel);
        let stored = (segment != state.segment || state.closed)
            .then(|| self.forget_if_stored(&mut state, segment))
            .flatten();
        drop(state);
        self.delete_later(stored);
    }

    /// Deletes stored segments on tokio's blocking pool, so the thread that found them stored
    /// (an async worker: a token answer's append, the group writer) does not wait on the disk:
    /// an unlink frees the file's blocks, on a file system mounted with `discard` by a
    /// synchronous discard, and the async worker that waited for it held up every request
    /// queued on it (docs/benchmarks.md, "The spool's unlink off the async workers"). Without a
    /// runtime, here. A segment a crash leaves undeleted is stored again at the next start,
    /// recognised by its events' ids.
    fn delete_later(&self, segments: impl IntoIterator<Item = PathBuf>) {
        let segments: Vec<PathBuf> = segments.into_iter().collect();
        if segments.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            delete(segments);
            return;
        };
        self.deleting.0.fetch_add(1, Ordering::AcqRel);
        let deleting = self.deleting.clone();
        runtime.spawn_blocking(move || {
            delete(segments);
            deleting.0.fetch_sub(1, Ordering::AcqRel);
            deleting.1.notify_waiters();
        });
    }

    /// Waits until every deletion handed to the blocking pool is done.
    #[cfg(test)]
    async fn deletions_done(&self) {
        loop {
            let signal = self.deleting.1.notified();
            if self.deleting.0.load(Ordering::Acquire) == 0 {
                return;
            }
            signal.await;
        }
    }

    /// Forgets a closed segment whose every event is stored; its path, to delete. The file is
    /// deleted by the caller after the lock is released: an unlink can wait on the disk (a
    /// discard, on a file system mounted with it), and every token answer's append waits on
    /// this lock.
    fn forget_if_stored(&self, state: &mut State, segment: u64) -> Option<PathBuf> {
        let &(appended, stored) = state.counts.get(&segment)?;
        (appended == stored).then(|| {
            state.counts.remove(&segment);
            segment_path(&self.prefix, segment)
        })
    }

    /// Whether the spool takes no more events (stopped, or broken by a failed write).
    pub(crate) fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Events appended and not yet taken in by the writer.
    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use time::OffsetDateTime;

    use super::*;
    use crate::domain::context::RequestContext;
    use crate::events::EventFilter;
    use crate::events::decision::Decision;
    use crate::storage::Store;

    fn issued(n: i64) -> AuthEvent {
        let ctx = RequestContext::new("192.0.2.7".parse().unwrap(), "ua/1", format!("r{n}"));
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000 + n).unwrap();
        let mut e = AuthEvent::new(EventKind::TokenIssued, &ctx, t)
            .decision(Decision::IssuedClientCredentials);
        e.client_id = Some("svc".into());
        e
    }

    /// A risk API answer's event: a user, a score with reasons, a decision with its own text.
    fn risk_checked(n: i64) -> AuthEvent {
        let ctx = RequestContext::new("198.51.100.4".parse().unwrap(), "rs/2", format!("q{n}"));
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000 + n).unwrap();
        let mut e = AuthEvent::new(EventKind::RiskEvaluated, &ctx, t)
            .decision_as(Decision::TokenUseChallenge, "risk_api:challenge")
            .risk(Some(crate::events::Risk {
                score: 0.8125,
                reasons: vec!["a network this token was not used from".into()],
                features: None,
            }));
        e.client_id = Some("web".into());
        e.user_id = Some("u-1".into());
        e
    }

    async fn store_in(dir: &Path) -> (PathBuf, Store) {
        let db = dir.join("a.db");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        (db, crate::storage::connect(&url, 1).await.unwrap())
    }

    /// A fresh database in a temporary directory and its spool.
    async fn opened() -> (tempfile::TempDir, PathBuf, Store, Spool) {
        let dir = tempfile::tempdir().unwrap();
        let (db, store) = store_in(dir.path()).await;
        let spool = Spool::recover(&db, store.events.as_ref())
            .await
            .unwrap()
            .unwrap();
        (dir, db, store, spool)
    }

    async fn stored(store: &Store) -> Vec<AuthEvent> {
        let filter = EventFilter {
            limit: 10_000,
            ..EventFilter::default()
        };
        let mut all = store.events.list(&filter).await.unwrap();
        all.reverse();
        all
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("-spool-"))
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn what_a_crash_left_in_the_spool_is_stored_at_the_next_start() {
        let (dir, db, store, spool) = opened().await;
        // A risk check between two issued tokens: its score, reasons and decision come back.
        let events: Vec<AuthEvent> = vec![issued(0), risk_checked(1), issued(2)];
        for e in &events {
            assert_eq!(spool.append(e).unwrap(), 1);
        }
        let mode = std::fs::metadata(segment_path(&spool.prefix, 1))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        // The first one had been stored by the writer before the crash.
        store.events.insert(&events[0]).await.unwrap();
        // A write the crash cut short: its request never had an answer.
        let mut torn = serde_json::to_vec(&Line {
            event: issued(9),
            code: None,
        })
        .unwrap();
        torn.truncate(torn.len() / 2);
        spool.state().file.write_all(&torn).unwrap();
        drop(spool);

        let again = Spool::recover(&db, store.events.as_ref())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored(&store).await,
            events,
            "each once, decisions kept, the torn line skipped"
        );
        assert_eq!(
            files(dir.path()),
            ["a.db-spool-00000002"],
            "the old segment is gone"
        );
        assert_eq!(again.pending(), 0);
    }

    #[tokio::test]
    async fn one_process_holds_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let (db, store) = store_in(dir.path()).await;
        let held = Spool::recover(&db, store.events.as_ref()).await.unwrap();
        assert!(held.is_some());
        let second = Spool::recover(&db, store.events.as_ref()).await.unwrap();
        assert!(second.is_none(), "a second server writes directly");
        drop(held);
        assert!(
            Spool::recover(&db, store.events.as_ref())
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_closed_segment_is_deleted_once_all_its_events_are_stored() {
        let (dir, _db, _store, spool) = opened().await;
        // Fills segment `n` and opens the next; the events written to `n`.
        let fill = |n: u64| {
            let mut count = 0;
            while spool.append(&issued(0)).unwrap() == n {
                count += 1;
            }
            count
        };
        let first = fill(1);
        assert!(first > 1000, "{first}");
        assert_eq!(files(dir.path()).len(), 2);
        for _ in 1..first {
            spool.done(1, true);
        }
        spool.deletions_done().await;
        assert_eq!(
            files(dir.path()).len(),
            2,
            "one event of the first is still out"
        );
        spool.done(1, true);
        spool.deletions_done().await;
        assert_eq!(files(dir.path()), ["a.db-spool-00000002"]);

        let second = fill(2) + 1; // and the one that opened it
        for _ in 1..second {
            spool.done(2, true);
        }
        spool.done(2, false);
        spool.done(3, true);
        spool.deletions_done().await;
        assert_eq!(
            files(dir.path()).len(),
            2,
            "an event given up on keeps its segment"
        );
        assert_eq!(spool.pending(), 0);
    }

    #[tokio::test]
    async fn a_spooled_event_answers_at_once_and_every_read_through_the_sink_sees_it() {
        let (dir, _db, store, spool) = opened().await;
        let spool = Arc::new(spool);
        let clock = Arc::new(crate::domain::clock::SystemClock);
        let sink = crate::events::sink::EventSink::with_spool(
            store.events.clone(),
            clock,
            Some(spool.clone()),
        );
        let events: Vec<AuthEvent> = (0..50).map(issued).collect();
        let segment = segment_path(&spool.prefix, 1);
        for e in &events {
            let before = std::fs::metadata(&segment).unwrap().len();
            sink.record(e.clone()).await.unwrap();
            assert!(
                std::fs::metadata(&segment).unwrap().len() > before,
                "spooled"
            );
        }
        let filter = EventFilter {
            limit: 100,
            ..EventFilter::default()
        };
        assert_eq!(sink.list(&filter).await.unwrap().len(), 50);
        assert_eq!(spool.pending(), 0);
        // Another kind still waits for its commit, without the spool.
        let ctx = RequestContext::new("192.0.2.7".parse().unwrap(), "ua/1", "r".into());
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_100).unwrap();
        let other = AuthEvent::new(EventKind::LoginFailed, &ctx, t);
        let before = std::fs::metadata(segment_path(&spool.prefix, 1))
            .unwrap()
            .len();
        sink.record(other).await.unwrap();
        assert_eq!(
            std::fs::metadata(segment_path(&spool.prefix, 1))
                .unwrap()
                .len(),
            before
        );
        assert_eq!(stored(&store).await.len(), 51);
        // A graceful stop: the last segment goes, and what comes after is written directly.
        sink.close().await;
        assert_eq!(files(dir.path()), Vec::<String>::new());
        assert!(spool.is_closed());
        sink.record(issued(60)).await.unwrap();
        assert_eq!(stored(&store).await.len(), 52);
    }

    #[tokio::test]
    async fn a_segment_with_an_unreadable_line_inside_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (db, store) = store_in(dir.path()).await;
        let mut text = Vec::new();
        for e in [issued(1), issued(2)] {
            text.extend(
                serde_json::to_vec(&Line {
                    event: e,
                    code: None,
                })
                .unwrap(),
            );
            text.extend(b"\n{\"not\": \"an event\"}\n");
        }
        std::fs::write(dir.path().join("a.db-spool-00000004"), text).unwrap();
        let spool = Spool::recover(&db, store.events.as_ref())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored(&store).await.len(), 2, "what can be read is stored");
        assert_eq!(
            files(dir.path()),
            ["a.db-spool-00000004.bad", "a.db-spool-00000005"]
        );
        drop(spool);
        let again = Spool::recover(&db, store.events.as_ref()).await.unwrap();
        assert_eq!(
            stored(&store).await.len(),
            2,
            "a kept-aside segment is not read again"
        );
        // Another bad segment of the same number never replaces the one kept aside.
        drop(again);
        std::fs::write(dir.path().join("a.db-spool-00000004"), b"x\ny\n").unwrap();
        let _last = Spool::recover(&db, store.events.as_ref()).await.unwrap();
        let names = files(dir.path());
        assert!(
            names.contains(&"a.db-spool-00000004.bad".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"a.db-spool-00000004.bad.1".to_owned()),
            "{names:?}"
        );
    }
}
