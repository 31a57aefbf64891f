//! Group commit of events: one writer task per process takes every event waiting to be stored
//! and writes them in one transaction, then answers each request. A request still answers only
//! after its own event is committed (durable before the answer, as with a direct insert); what
//! changes is that concurrent requests share one transaction instead of queueing for the
//! database's write lock one by one. On SQLite that queue was the token endpoint's tail:
//! writers that find the lock taken sleep in SQLite's busy handler (1, 2, 5, … 100 ms steps),
//! so eight concurrent `POST /token` had a p99 of 70–80 ms (docs/benchmarks.md). On PostgreSQL
//! a batch is one WAL flush instead of one per event.
//!
//! A batch the database refuses is retried event by event, so one bad event fails only its
//! own request. Without a tokio runtime (a plain unit test), or if the writer is gone, events
//! are inserted directly.
//!
//! On a SQLite file the server's `token_issued` and `risk_evaluated` events (`spool::spooled`) go
//! through the event spool instead (`spool.rs`): written to the spool's file, then handed to this
//! writer with nobody waiting; the writer tells the spool when each is stored. `settled` lets a
//! reader wait until everything spooled before it is in the database. Since nobody waits for a
//! spooled event, a batch of nothing but spooled events waits up to `LINGER` for more before it is
//! written: under token traffic the writer then commits full batches instead of one or two events
//! at a time, each commit writing the event table's and its indexes' pages to the log again
//! (docs/benchmarks.md, "Spooled events wait for a full batch"). An event a request waits for, or a
//! reader's `settled`, ends the wait at once.
//!
//! On PostgreSQL (`EventStore::relaxes_commits`) the same kinds' events of a batch are written
//! apart from the rest, first, with `insert_many_relaxed` (`synchronous_commit = off`): the token
//! endpoint's (and the risk API's) answer waits for the commit, not for the WAL flush, which under
//! a sign-in flood queued behind the flood's own flushes (docs/benchmarks.md, "PostgreSQL:
//! `token_issued` without the WAL flush"). That is the durability the spool gives on SQLite: the
//! event survives a crash of authd, not one of the database server or the machine.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::events::AuthEvent;
use crate::events::spool::{Spool, spooled};
use crate::storage::EventStore;
use crate::storage::error::StoreError;

/// Most events written in one transaction. Each batch size is one prepared statement kept on
/// the writer's connection; with spooled events batches come in every size, and 256 sizes cost
/// more writer CPU and memory than more, smaller transactions (docs/benchmarks.md, "The event
/// spool").
pub const MAX_BATCH: usize = 16;
/// Whether a refused spool append has been logged (once per process).
static REFUSAL_LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Attempts at storing a spooled event the batch could not, before it is left to the next start.
const SPOOLED_TRIES: usize = 3;
/// Events that may wait for the writer; beyond it a request waits to enqueue (back-pressure).
const QUEUE: usize = 4096;
/// Longest a batch holding only spooled events (nobody waiting) waits to fill up.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// What the writer is handed.
enum Job {
    /// An event whose request waits for its commit.
    Wait(AuthEvent, Reply),
    /// An event already in the spool's segment `u64`: nobody waits.
    Spooled(AuthEvent, u64),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The handle requests enqueue their events on. Cheap to clone.
#[derive(Clone)]
pub struct GroupWriter {
    store: Arc<dyn EventStore>,
    queue: Option<mpsc::Sender<Job>>,
    spool: Option<Arc<Spool>>,
}

impl GroupWriter {
    /// Starts the writer task on the current tokio runtime (none: direct inserts).
    pub fn start(store: Arc<dyn EventStore>) -> Self {
        Self::start_with(store, None)
    }

    /// [`GroupWriter::start`], with the spooled kinds' events (`token_issued`,
    /// `risk_evaluated`) going through `spool` (`spool.rs`).
    pub fn start_with(store: Arc<dyn EventStore>, spool: Option<Arc<Spool>>) -> Self {
        Self::start_lingering(store, spool, LINGER)
    }

    /// [`GroupWriter::start_with`], spooled events waiting up to `linger` for a full batch.
    fn start_lingering(
        store: Arc<dyn EventStore>,
        spool: Option<Arc<Spool>>,
        linger: std::time::Duration,
    ) -> Self {
        let queue = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let (tx, rx) = mpsc::channel(QUEUE);
            rt.spawn(write_batches(store.clone(), rx, spool.clone(), linger));
            tx
        });
        let spool = spool.filter(|_| queue.is_some());
        Self {
            store,
            queue,
            spool,
        }
    }

    /// Stores `event`: committed when this returns `Ok` (or, for a spooled kind, in the spool).
    pub async fn insert(&self, event: &AuthEvent) -> Result<(), StoreError> {
        if let (Some(spool), Some(queue)) = (&self.spool, &self.queue)
            && spooled(event.kind)
            && !spool.is_closed()
        {
            match spool.append(event) {
                Ok(segment) => {
                    // A request dropped while waiting for room in the queue leaves its event to
                    // the spool's next start, and the spool's count right.
                    let mut unsent = Unsent(Some((spool.as_ref(), segment)));
                    let sent = queue.send(Job::Spooled(event.clone(), segment)).await;
                    unsent.0 = None;
                    if sent.is_ok() {
                        return Ok(());
                    }
                    // The writer is gone (its runtime is stopping): stored here.
                    let result = self.store.insert(event).await;
                    spooled_done(Some(spool), segment, result);
                    return Ok(());
                }
                Err(e) => {
                    // Counted each time, logged once per process (a full disk refuses them all).
                    metrics::counter!("authd_event_spool_refused_total").increment(1);
                    if !REFUSAL_LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::warn!(error = %e, "the event spool refused an event: written directly (logged once; authd_event_spool_refused_total counts them)");
                    }
                }
            }
        }
        if let Some(queue) = &self.queue {
            let (reply, answer) = oneshot::channel();
            if queue.send(Job::Wait(event.clone(), reply)).await.is_ok() {
                match answer.await {
                    Ok(result) => return result,
                    // The writer went away with the event unanswered (its runtime is stopping):
                    // write it here; a conflict on its id means the writer had stored it.
                    Err(_) => {
                        return match self.store.insert(event).await {
                            Err(StoreError::Conflict { .. }) => Ok(()),
                            other => other,
                        };
                    }
                }
            }
        }
        self.store.insert(event).await
    }

    /// Deletes the spool's current segment if every event in it is stored (a graceful stop,
    /// after `settled`).
    pub fn close_spool(&self) {
        if let Some(spool) = &self.spool {
            spool.close();
        }
    }

    /// Returns once every event spooled before the call has been taken in by the writer
    /// (stored, or given up on and kept in the spool), so a read of the log sees it.
    pub async fn settled(&self) {
        let (Some(spool), Some(queue)) = (&self.spool, &self.queue) else {
            return;
        };
        if spool.pending() == 0 {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if queue.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// A spooled event not yet handed to the writer: if dropped so, the spool counts it as given
/// up on (it stays in its segment for the next start).
struct Unsent<'a>(Option<(&'a Spool, u64)>);

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        if let Some((spool, segment)) = self.0.take() {
            spool.done(segment, false);
        }
    }
}

/// The writer: waits for an event, takes every other one already waiting (up to `MAX_BATCH`;
/// a batch of only spooled events waits up to `linger` for more, see `fill`), writes them
/// together and answers each.
async fn write_batches(
    store: Arc<dyn EventStore>,
    mut rx: mpsc::Receiver<Job>,
    spool: Option<Arc<Spool>>,
    linger: std::time::Duration,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut relaxed = Vec::with_capacity(MAX_BATCH);
    let relaxes = store.relaxes_commits();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        fill(&mut rx, &mut batch, linger).await;
        if relaxes {
            relaxed
                .extend(batch.extract_if(.., |j| matches!(j, Job::Wait(e, _) if spooled(e.kind))));
            if !relaxed.is_empty() {
                write_group(store.as_ref(), &mut relaxed, true, spool.as_deref()).await;
            }
        }
        if !batch.is_empty() {
            write_group(store.as_ref(), &mut batch, false, spool.as_deref()).await;
        }
    }
}

/// Writes `batch`'s events in one statement (`relaxed`: with `insert_many_relaxed`) and
/// answers each of its jobs, draining it. Should the statement fail, each event is retried
/// alone with a plain `insert` (fully durable on every engine).
async fn write_group(
    store: &dyn EventStore,
    batch: &mut Vec<Job>,
    relaxed: bool,
    spool: Option<&Spool>,
) {
    let events: Vec<&AuthEvent> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Wait(e, _) | Job::Spooled(e, _) => Some(e),
            Job::Flush(_) => None,
        })
        .collect();
    #[allow(clippy::cast_precision_loss)] // at most MAX_BATCH
    metrics::histogram!("authd_event_batch_size").record(events.len() as f64);
    let together = match events.as_slice() {
        [] => Ok(()),
        many if relaxed => store.insert_many_relaxed(many).await,
        [one] => store.insert(one).await,
        many => store.insert_many(many).await,
    };
    let alone = events.len() == 1;
    drop(events);
    // When nothing of the batch was committed, each event is written on its own, with its
    // own answer (one event alone: its error is the answer).
    let (failed, mut own_error) = match together {
        Ok(()) => (false, None),
        Err(e) if alone => (true, Some(e)),
        Err(_) => (true, None),
    };
    for job in batch.drain(..) {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Wait(_, reply) if !failed => {
                let _ = reply.send(Ok(()));
            }
            Job::Spooled(_, segment) if !failed => {
                spooled_done(spool, segment, Ok(()));
            }
            Job::Wait(event, reply) => {
                let result = match own_error.take() {
                    Some(e) => Err(e),
                    None => store.insert(&event).await,
                };
                let _ = reply.send(result);
            }
            Job::Spooled(event, segment) => {
                let _ = own_error.take();
                let result = insert_retrying(store, &event).await;
                spooled_done(spool, segment, result);
            }
        }
    }
}

/// While `batch` holds only spooled events and has room, waits up to `linger` for more; stops
/// at once when a job somebody waits for (an event, a flush) joins it, or the queue closes.
async fn fill(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, linger: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + linger;
    let mut seen = 0;
    while batch.len() < MAX_BATCH {
        if !batch
            .iter()
            .skip(seen)
            .all(|j| matches!(j, Job::Spooled(..)))
        {
            return;
        }
        seen = batch.len();
        let more = rx.recv_many(batch, MAX_BATCH - batch.len());
        match tokio::time::timeout_at(deadline, more).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// A spooled event on its own, tried `SPOOLED_TRIES` times a moment apart (a busy or full disk
/// may pass; nobody waits for it).
async fn insert_retrying(store: &dyn EventStore, event: &AuthEvent) -> Result<(), StoreError> {
    let mut result = store.insert(event).await;
    for _ in 1..SPOOLED_TRIES {
        match result {
            Ok(()) | Err(StoreError::Conflict { .. }) => break,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                result = store.insert(event).await;
            }
        }
    }
    result
}

/// Tells the spool the writer is done with one of its events (a conflict on its id: it was
/// stored already).
fn spooled_done(spool: Option<&Spool>, segment: u64, result: Result<(), StoreError>) {
    let stored = match result {
        Ok(()) | Err(StoreError::Conflict { .. }) => true,
        Err(e) => {
            tracing::error!(error = %e, "a spooled event could not be stored: kept in the spool for the next start");
            false
        }
    };
    if let Some(spool) = spool {
        spool.done(segment, stored);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::context::RequestContext;
    use crate::events::decision::Decision;
    use crate::events::{EventFilter, EventKind, EventPage};
    use crate::storage::mail::MailRecord;

    /// The store's writes, as the sizes of the transactions they came in; `relaxes` says what
    /// `relaxes_commits` answers, and `log` keeps every write in order, `true` for a relaxed one.
    struct Counting {
        inner: Arc<dyn EventStore>,
        writes: Mutex<Vec<usize>>,
        relaxes: bool,
        log: Mutex<Vec<(bool, usize)>>,
    }

    impl Counting {
        fn over(inner: Arc<dyn EventStore>, relaxes: bool) -> Arc<Self> {
            Arc::new(Self {
                inner,
                writes: Mutex::new(Vec::new()),
                relaxes,
                log: Mutex::new(Vec::new()),
            })
        }
    }

    #[async_trait]
    impl EventStore for Counting {
        async fn insert(&self, event: &AuthEvent) -> Result<(), StoreError> {
            self.writes.lock().unwrap().push(1);
            self.log.lock().unwrap().push((false, 1));
            self.inner.insert(event).await
        }
        async fn insert_many(&self, events: &[&AuthEvent]) -> Result<(), StoreError> {
            self.writes.lock().unwrap().push(events.len());
            self.log.lock().unwrap().push((false, events.len()));
            self.inner.insert_many(events).await
        }
        async fn insert_many_relaxed(&self, events: &[&AuthEvent]) -> Result<(), StoreError> {
            self.log.lock().unwrap().push((true, events.len()));
            self.inner.insert_many_relaxed(events).await
        }
        fn relaxes_commits(&self) -> bool {
            self.relaxes
        }
        async fn insert_with_mail(&self, e: &AuthEvent, m: &MailRecord) -> Result<(), StoreError> {
            self.inner.insert_with_mail(e, m).await
        }
        async fn page(&self, filter: &EventFilter) -> Result<EventPage, StoreError> {
            self.inner.page(filter).await
        }
    }

    fn event(kind: EventKind, n: i64) -> AuthEvent {
        let ctx = RequestContext::new("192.0.2.7".parse().unwrap(), "ua/1", format!("r{n}"));
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000 + n).unwrap();
        let mut e = AuthEvent::new(kind, &ctx, t).decision(Decision::IssuedClientCredentials);
        e.client_id = Some("svc".into());
        e
    }

    /// A writer over a fresh SQLite file with its spool, spooled events waiting up to `linger`;
    /// the store counts the writer's writes.
    async fn writer(linger: Duration) -> (tempfile::TempDir, GroupWriter, Arc<Counting>) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let store = crate::storage::connect(&url, 1).await.unwrap();
        let spool = Spool::recover(&db, store.events.as_ref()).await.unwrap();
        let counting = Counting::over(store.events.clone(), false);
        let spool = spool.map(Arc::new);
        let writer = GroupWriter::start_lingering(counting.clone(), spool, linger);
        (dir, writer, counting)
    }

    /// Longer than any test waits: a batch written before it was ended by something else.
    const FOREVER: Duration = Duration::from_secs(3600);

    async fn soon<T>(f: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("ended by the job, not by the linger")
    }

    #[tokio::test]
    async fn spooled_events_arriving_a_moment_apart_are_written_in_one_transaction() {
        let (_dir, writer, counting) = writer(FOREVER).await;
        for n in 0..5 {
            writer
                .insert(&event(EventKind::TokenIssued, n))
                .await
                .unwrap();
            // Without the wait each would be its own transaction.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        soon(writer.settled()).await;
        assert_eq!(*counting.writes.lock().unwrap(), [5]);
    }

    #[tokio::test]
    async fn an_event_a_request_waits_for_or_a_reader_ends_the_wait_at_once() {
        let (_dir, writer, counting) = writer(FOREVER).await;
        writer
            .insert(&event(EventKind::TokenIssued, 0))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let kind = EventKind::LoginFailed;
        assert!(!spooled(kind));
        soon(writer.insert(&event(kind, 1))).await.unwrap();
        assert_eq!(*counting.writes.lock().unwrap(), [2]);
        writer
            .insert(&event(EventKind::TokenIssued, 2))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        soon(writer.settled()).await;
        assert_eq!(*counting.writes.lock().unwrap(), [2, 1]);
    }

    #[tokio::test]
    async fn risk_evaluations_are_spooled_like_issued_tokens() {
        // Neither waits for a write: both are in the spool when `insert` returns, and the
        // writer stores them together once a reader asks.
        let (_dir, writer, counting) = writer(FOREVER).await;
        for (n, kind) in [EventKind::RiskEvaluated, EventKind::TokenIssued]
            .into_iter()
            .enumerate()
        {
            soon(writer.insert(&event(kind, n as i64))).await.unwrap();
        }
        assert!(counting.writes.lock().unwrap().is_empty());
        assert_eq!(writer.spool.as_ref().unwrap().pending(), 2);
        soon(writer.settled()).await;
        assert_eq!(*counting.writes.lock().unwrap(), [2]);
    }

    #[tokio::test]
    async fn a_lone_spooled_event_is_written_when_the_wait_ends() {
        let (_dir, writer, counting) = writer(LINGER).await;
        let e = event(EventKind::TokenIssued, 0);
        writer.insert(&e).await.unwrap();
        let spool = writer.spool.clone().unwrap();
        soon(async {
            while spool.pending() > 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(*counting.writes.lock().unwrap(), [1]);
    }

    #[tokio::test]
    async fn where_commits_can_be_relaxed_issued_tokens_and_risk_checks_are_written_apart_and_first()
     {
        for relaxes in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
            let store = crate::storage::connect(&url, 1).await.unwrap();
            let counting = Counting::over(store.events.clone(), relaxes);
            // No spool: every event is waited for, as on PostgreSQL.
            let writer = GroupWriter::start_lingering(counting.clone(), None, FOREVER);
            let kinds = [
                EventKind::LoginFailed,
                EventKind::TokenIssued,
                EventKind::RiskEvaluated,
                EventKind::LoginSucceeded,
                EventKind::TokenIssued,
            ];
            let events: Vec<AuthEvent> = (0..5).map(|n| event(kinds[n], n as i64)).collect();
            // All five are queued before the writer runs (one thread): one batch.
            let answers = futures_util::future::join_all(events.iter().map(|e| writer.insert(e)));
            for answer in soon(answers).await {
                answer.unwrap();
            }
            let log = counting.log.lock().unwrap().clone();
            if relaxes {
                assert_eq!(log, [(true, 3), (false, 2)]);
            } else {
                assert_eq!(log, [(false, 5)]);
            }
            let all = EventFilter {
                limit: 10,
                ..EventFilter::default()
            };
            assert_eq!(store.events.list(&all).await.unwrap().len(), 5);
        }
    }
}
