//! Work a request leaves running after its answer (a password-reset lookup and mail, an alert):
//! spawned through one tracker, so shutdown and tests can wait until it has settled instead of
//! sleeping and hoping; and `retried`, which such work uses for writes that may wait out a
//! database error. Plain tokio; no HTTP, no SQL.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Spawns after-the-answer work and knows when all of it has finished. Cheap to clone; clones
/// share one count.
#[derive(Debug, Clone, Default)]
pub struct Background {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

/// Counts one task as finished when dropped, so a task that panics is counted too.
struct Running(Arc<Inner>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Background {
    /// Runs `work` on the runtime, counted until it finishes.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        let running = Running(self.inner.clone());
        tokio::spawn(async move {
            let _running = running;
            work.await;
        });
    }

    /// How many tasks are running now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Returns once no task is running (at once when none is). Work spawned by the awaited
    /// tasks is awaited too, since it is counted before its parent finishes.
    pub async fn settled(&self) {
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            // Registered before the check, so a notification between the two is not lost.
            idle.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// How many times `retried` tries a write, and its first pause (doubling each time: 0.25 +
/// 0.5 + … + 8 s, about 16 s in all): long enough for a database's restart or fail-over blip.
/// A graceful stop waits 5 s for work left running (`app::SETTLE_ON_STOP`): the tries due
/// after that are not made.
const TRIES: u32 = 7;
const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Tries that failed and were made again since the process started, per `what`. Not a metric:
/// a lock's record is retried only for real accounts, and no metric moves only for them
/// (docs/security.md); each retry is logged as a warning instead.
static RETRIES: std::sync::Mutex<Vec<(&'static str, u64)>> = std::sync::Mutex::new(Vec::new());

/// How many tries of `what` failed and were made again (`retried`) in this process: for tests.
pub fn retries(what: &str) -> u64 {
    let counts = RETRIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    counts
        .iter()
        .find(|(w, _)| *w == what)
        .map_or(0, |(_, n)| *n)
}

fn count_retry(what: &'static str) {
    let mut counts = RETRIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match counts.iter_mut().find(|(w, _)| *w == what) {
        Some((_, n)) => *n += 1,
        None => counts.push((what, 1)),
    }
}

/// Runs `attempt` until it succeeds, at most `TRIES` times, pausing between tries; the last
/// error if none did. For after-the-answer writes whose loss would lose a record of something
/// already committed (a lock's event and notice): nobody is waiting for them, so they can wait
/// for the database. `attempt` must be safe to repeat (the same ids each time, so a try whose
/// answer was lost but which was written is recognised, not written twice).
pub async fn retried<T, E, F, Fut>(what: &'static str, mut attempt: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = FIRST_PAUSE;
    let mut tries = 1;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if tries >= TRIES => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, what, tries, "a write after the answer failed; trying again");
                count_retry(what);
                tokio::time::sleep(pause).await;
                pause *= 2;
                tries += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failing_write_is_tried_again_with_growing_pauses_then_given_up() {
        let started = tokio::time::Instant::now();
        let tries = AtomicUsize::new(0);
        let third = retried("test", || async {
            let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 {
                Err(format!("down {n}"))
            } else {
                Ok(n)
            }
        });
        let before = retries("test");
        assert_eq!(third.await, Ok(3));
        assert_eq!(started.elapsed(), FIRST_PAUSE * 3, "0.25 s, then 0.5 s");
        assert_eq!(retries("test") - before, 2, "two tries made again");
        tries.store(0, Ordering::SeqCst);
        let never = retried("test", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("down")
        });
        assert_eq!(never.await, Err("down"));
        assert_eq!(tries.load(Ordering::SeqCst), TRIES as usize);
    }

    #[tokio::test]
    async fn settled_waits_for_every_spawned_task() {
        let bg = Background::default();
        bg.settled().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let inner = bg.clone();
        bg.spawn(async move {
            let _ = rx.await;
            // Work spawned from tracked work is tracked too.
            let d2 = d.clone();
            inner.spawn(async move {
                tokio::task::yield_now().await;
                d2.fetch_add(1, Ordering::SeqCst);
            });
            d.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(bg.running(), 1);
        let waiter = tokio::spawn({
            let bg = bg.clone();
            async move { bg.settled().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        tx.send(()).unwrap();
        waiter.await.unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 2);
        assert_eq!(bg.running(), 0);
    }

    #[tokio::test]
    async fn a_panicking_task_still_counts_as_finished() {
        let bg = Background::default();
        bg.spawn(async { panic!("boom") });
        bg.settled().await;
        assert_eq!(bg.running(), 0);
    }
}
