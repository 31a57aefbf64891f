//! The page lane: the browser routes' handlers (sign-in, registration, the account, step-up
//! and admin pages) run on a small runtime of their own whose threads sit at nice `HASH_NICE`,
//! below the main runtime's request threads that serve the machine routes (token, userinfo,
//! introspection, revocation, probes). A sign-in flood's work besides the hash (the form, the
//! CSRF check, the session, the ladder's reads, the page) then takes a core only when no token
//! request wants it, instead of sharing the main runtime's two worker queues with the token
//! traffic (docs/benchmarks.md, "A lane of their own for the pages"). With no other work the
//! lane's threads run at full speed.
//!
//! Only the polling moves: each poll of a lane task enters the main runtime's context, so what
//! a handler creates (a PostgreSQL connection's socket, a timer, a spawned task such as a reset
//! mail) belongs to the main runtime and is driven by its threads, never by a lane thread that
//! a busy core has put aside (a token request on a connection a page opened would wait for it).
//! Dropping the caller's future (the client went away) aborts the lane task, as hyper drops a
//! handler's future on the main runtime; a panic in the handler resumes in the caller, where
//! the panic catcher answers it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::{JoinError, JoinHandle};

/// Stack of each lane thread (as the main runtime's, `main.rs`: room for a debug build's
/// request futures; only touched pages count).
const THREAD_STACK: usize = 8 << 20;

/// Owns the lane's runtime; dropping it stops the lane (tasks still on it are dropped).
pub struct PageLane {
    runtime: Option<Runtime>,
    handle: LaneHandle,
}

/// Where the router sends a browser route's handler. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LaneHandle {
    lane: Handle,
    main: Handle,
}

/// The lane was stopped before the task finished (only during a stop).
#[derive(Debug, thiserror::Error)]
#[error("the page lane has stopped")]
pub struct LaneStopped;

impl PageLane {
    /// Starts `threads` lane threads (`authd-pages`) at the hash threads' nice value; must be
    /// called from within the main runtime, whose context every lane task runs in.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let main = Handle::current();
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .max_blocking_threads(1)
            .thread_name("authd-pages")
            .thread_stack_size(THREAD_STACK)
            .on_thread_start(crate::domain::accounts::hash_workers::lower_own_priority)
            .build()?;
        let handle = LaneHandle {
            lane: runtime.handle().clone(),
            main,
        };
        Ok(Self {
            runtime: Some(runtime),
            handle,
        })
    }

    /// A handle for the router.
    pub fn handle(&self) -> LaneHandle {
        self.handle.clone()
    }
}

impl Drop for PageLane {
    fn drop(&mut self) {
        // Not `Runtime::drop`: that blocks, and the lane is dropped inside the main runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl LaneHandle {
    /// Runs `work` on the lane (in the main runtime's context) and returns its output.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, LaneStopped>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = AbortOnDrop(self.lane.spawn(InMain {
            main: self.main.clone(),
            work: Some(Box::pin(work)),
        }));
        match task.await {
            Ok(out) => Ok(out),
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(LaneStopped),
            },
        }
    }
}

/// A future polled, and dropped, with the main runtime's context entered (a dropped database
/// connection may start its clean-up, with a timer, on the current runtime).
struct InMain<F> {
    main: Handle,
    work: Option<Pin<Box<F>>>,
}

impl<F: Future> Future for InMain<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _main = this.main.enter();
        let Some(work) = this.work.as_mut() else {
            return Poll::Pending; // not polled again once it has answered
        };
        let out = work.as_mut().poll(cx);
        if out.is_ready() {
            this.work = None;
        }
        out
    }
}

impl<F> Drop for InMain<F> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            let _main = self.main.enter();
            drop(work);
        }
    }
}

/// A lane task's handle that aborts the task when dropped before it finished.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_on_a_lane_thread_below_the_callers_priority() {
        let lane = PageLane::start(2).unwrap();
        let (name, nice) = lane
            .handle()
            .run(async {
                let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
                (thread_name(), nice.unwrap())
            })
            .await
            .unwrap();
        assert_eq!(name, "authd-pages");
        let caller = rustix::process::getpriority_process(None).unwrap();
        // A test runner already niced further keeps its own value.
        assert!(nice >= caller.max(10), "lane {nice}, caller {caller}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_the_work_creates_belongs_to_the_main_runtime() {
        let lane = PageLane::start(1).unwrap();
        let (spawned_on, slept) = lane
            .handle()
            .run(async {
                // The lane runtime has no timer of its own: this sleep needs the main one.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let spawned = tokio::spawn(async { thread_name() }).await.unwrap();
                (spawned, true)
            })
            .await
            .unwrap();
        assert!(slept);
        assert_ne!(spawned_on, "authd-pages");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_resumes_in_the_caller() {
        let lane = PageLane::start(1).unwrap();
        let handle = lane.handle();
        let caught = tokio::spawn(async move {
            let _: Result<(), LaneStopped> = handle.run(async { panic!("boom") }).await;
        })
        .await
        .unwrap_err();
        assert!(caught.is_panic());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_caller_aborts_the_work() {
        let lane = PageLane::start(1).unwrap();
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        struct Signal(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for Signal {
            fn drop(&mut self) {
                // As a dropped database connection does: its clean-up is spawned on the current
                // runtime, with a timer (the lane has none: there it would panic unanswered).
                if let Some(tx) = self.0.take() {
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                        let _ = tx.send(());
                    });
                }
            }
        }
        let signal = Signal(Some(dropped_tx));
        let handle = lane.handle();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let caller = tokio::spawn(async move {
            handle
                .run(async move {
                    let _signal = signal;
                    let _ = started_tx.send(());
                    std::future::pending::<()>().await;
                })
                .await
        });
        // Aborted while it waits on the lane, so the lane drops it.
        started_rx.await.unwrap();
        caller.abort();
        tokio::time::timeout(std::time::Duration::from_secs(20), dropped_rx)
            .await
            .expect("the lane task was not dropped")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_lane_answers_stopped() {
        let lane = PageLane::start(1).unwrap();
        let handle = lane.handle();
        drop(lane);
        let out = handle.run(async { 1 }).await;
        assert!(out.is_err());
    }
}
