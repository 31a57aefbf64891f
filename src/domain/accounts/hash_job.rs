//! A queued hash job's life (`password.rs` queues them): its state shared with its caller
//! (waiting, started, given up), the job that answers its caller once whichever run finishes
//! first, and the place it holds in the admission bound and the depth gauge until a run has
//! finished or skipped it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::domain::accounts::hash_pace::Pace;
use crate::domain::accounts::hash_workers::{Job, Memory};

/// A queued job's state, shared by its caller and the job (`answering_once`): the caller gives
/// up only on a job no thread has started, and a thread skips a job its caller gave up on.
pub(super) const WAITING: u8 = 0;
pub(super) const STARTED: u8 = 1;
pub(super) const GIVEN_UP: u8 = 2;

/// Gives up on a job no thread has started; false when one has (its answer is coming).
pub(super) fn give_up(state: &AtomicU8) -> bool {
    state
        .compare_exchange(WAITING, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// The pool's job for `job`, answering on `reply`. A job may run twice (the steady thread
/// rescues one a starved helper holds, `hash_queue.rs`): the first run to finish answers and
/// alone goes into the hash-time histogram (a rescue is counted by its own counter); a run that
/// finds the answer given, the caller gone (a dropped request) or given up (`state`), does
/// nothing.
///
/// The job holds its place in the admission bound (`place`) until a run has finished or skipped
/// it, not only while its caller waits: a caller that gave up or went away leaves its job (and
/// the password in it) queued until a thread reaches it, and those count against the bound too.
/// The first run that starts it for a waiting caller reports its wait to `paced`.
pub(super) fn answering_once<T: Send + 'static>(
    job: impl Fn(&mut Memory) -> T + Send + Sync + 'static,
    reply: oneshot::Sender<T>,
    state: Arc<AtomicU8>,
    place: Option<Place>,
    paced: Option<Paced>,
) -> Job {
    let span = tracing::Span::current();
    let reply = std::sync::Mutex::new(Some(reply));
    let place = std::sync::Mutex::new(place);
    let free_place = move || drop(place.lock().ok().and_then(|mut p| p.take()));
    Arc::new(move |memory: &mut Memory| {
        let started = state.compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire);
        let pending = started != Err(GIVEN_UP)
            && reply
                .lock()
                .is_ok_and(|r| r.as_ref().is_some_and(|s| !s.is_closed()));
        if !pending {
            free_place();
            return;
        }
        if let (Ok(_), Some(p)) = (started, &paced) {
            let now = std::time::Instant::now();
            p.pace
                .started(p.ahead, now.saturating_duration_since(p.queued), now);
        }
        let started = std::time::Instant::now();
        let out = span.in_scope(|| job(memory));
        free_place();
        if let Some(reply) = reply.lock().ok().and_then(|mut r| r.take()) {
            metrics::histogram!("authd_password_hash_seconds")
                .record(started.elapsed().as_secs_f64());
            let _ = reply.send(out);
        }
    })
}

/// What an ordinary-lane job reports when it starts: the places it was admitted behind and when.
pub(super) struct Paced {
    pub(super) pace: Arc<Pace>,
    pub(super) ahead: u64,
    pub(super) queued: std::time::Instant,
}

/// A job's place: its permit in the admission bound and its count in the depth gauge, both
/// given back when a run has finished or skipped it (or the job is dropped unqueued).
/// (Fields drop in order: the depth first, so a freed permit never shows a stale depth.)
pub(super) struct Place {
    pub(super) _depth: DepthGuard,
    pub(super) _permit: OwnedSemaphorePermit,
}

/// Keeps the queue-depth gauge right whoever drops it: the job's run, its skip, or the pool.
pub(super) struct DepthGuard(Arc<AtomicI64>);

impl DepthGuard {
    pub(super) fn enter(depth: &Arc<AtomicI64>) -> Self {
        let now = depth.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("authd_hash_queue_depth").set(now as f64);
        Self(depth.clone())
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, Ordering::Relaxed) - 1;
        metrics::gauge!("authd_hash_queue_depth").set(now as f64);
    }
}
