//! Work a request leaves running after its answer (a password-reset lookup and mail, an alert):
//! spawned through one tracker, so shutdown and tests can wait until it has settled instead of
//! sleeping and hoping. Plain tokio; no HTTP, no SQL.

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

#[cfg(test)]
mod tests {
    use super::*;

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
