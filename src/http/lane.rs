//! The browser lane: the browser routes' handlers (sign-in pages, forms, sessions, the
//! authorization endpoint, passkeys) run on a runtime of their own whose threads sit at a
//! lower priority (`AUTHD_BROWSER_NICE`, default 5) than the main runtime's, which keeps the
//! machine routes (token, introspection, userinfo, JWKS, probes, the admin and risk APIs).
//! A login flood is mostly browser-route work outside the hash (pages, sessions, the ladder,
//! the risk score, events); on a busy machine the kernel now gives the token traffic's threads
//! the CPU first instead of sharing it evenly with the flood's requests. The hash threads stay
//! below both (nice 10 and the idle class, `accounts::hash_workers`).
//!
//! A request whose client goes away is cancelled as before: dropping the waiting request
//! aborts its task on the lane. A panic in a handler is re-raised in the request, where the
//! panic layer answers it with the generic 500.

use std::sync::OnceLock;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::domain::error::Unexpected;
use crate::http::error::HttpError;

/// The browser lane's runtime, built on first use with `nice` for its threads; `None` when
/// `nice` is 0 (the lane off: browser routes run with the rest) or it could not be built.
fn lane(nice: i32) -> Option<Handle> {
    static LANE: OnceLock<Option<Runtime>> = OnceLock::new();
    if nice == 0 {
        return None;
    }
    LANE.get_or_init(|| build(nice))
        .as_ref()
        .map(|rt| rt.handle().clone())
}

fn build(nice: i32) -> Option<Runtime> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("authd-browser")
        // As the main runtime's (main.rs): room for a debug build's request futures.
        .thread_stack_size(8 << 20)
        .on_thread_start(move || set_own_nice(nice))
        .enable_all()
        .build()
        .inspect_err(|e| tracing::warn!(error = %e, "no browser lane: browser routes share the main runtime"))
        .ok()
}

fn set_own_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        tracing::warn!(error = %e, "could not lower a browser-lane thread's priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Aborts the task when the request waiting for it is dropped (its client went away).
struct AbortOnDrop(JoinHandle<Response>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The middleware: runs the rest of the request (session, CSRF cookie, handler) on the lane.
pub async fn on_browser_lane(State(nice): State<i32>, req: Request, next: Next) -> Response {
    let Some(lane) = lane(nice) else {
        return next.run(req).await;
    };
    let mut task = AbortOnDrop(lane.spawn(next.run(req).in_current_span()));
    match (&mut task.0).await {
        Ok(response) => response,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels a task the request still waits for.
        Err(_) => HttpError::Unexpected(Unexpected(anyhow::anyhow!("the browser lane stopped")))
            .into_response(),
    }
}
