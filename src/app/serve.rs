//! The accept loop of both listeners (the main one and the metrics one): HTTP/1.1 with a
//! header-read timeout (a slowloris client is cut off), a request timeout (`408`), a cap on
//! connections served at once (more wait in the listen backlog), and a graceful stop.
//! `axum::serve` has none of the three limits. Knows no route.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// How long the loop rests after a failed `accept` (out of file descriptors, say) before it
/// tries again, so the failure does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `stop` turns true (or its sender is gone), then lets
/// every open connection finish the request it is in and returns when all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection task holds a clone of `open`; `closed()` resolves when none is left.
    let (all_closed, open) = watch::channel(());
    loop {
        // A slot first: while all are taken, new connections wait in the kernel's backlog
        // and the ones being served are not disturbed.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let service = connection_service(router.clone(), peer, limits.request_timeout);
        let (stop, open) = (stop.clone(), open.clone());
        tokio::spawn(async move {
            serve_connection(stream, service, limits.header_read_timeout, stop).await;
            drop((slot, open));
        });
    }
    drop(listener);
    drop(open);
    all_closed.closed().await;
}

/// Resolves once a stop is asked for.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: nobody can ask any more, so stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// One connection: HTTP/1.1 with the header-read timeout; on a stop, the request in flight is
/// finished and the connection closed.
async fn serve_connection<S>(
    stream: TcpStream,
    service: S,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    S: tower::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timer starts whenever a request head is awaited: on a new connection and on a
    // kept-alive one after each answer, so an idle or trickling client cannot keep its slot.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // A client that went away or was timed out; nothing the operator must act on.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The router as one connection's service: the peer address for `ConnectInfo`, and the
/// request timeout around the whole request (body read and answer).
fn connection_service(
    router: Router,
    peer: SocketAddr,
    timeout: Duration,
) -> impl tower::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |mut req: Request<Incoming>| {
        let router = router.clone();
        async move {
            req.extensions_mut().insert(ConnectInfo(peer));
            let deadline = std::time::Instant::now() + timeout;
            req.extensions_mut()
                .insert(crate::http::middleware::RequestDeadline(deadline));
            let answer = tokio::time::timeout(timeout, router.oneshot(req.map(Body::new))).await;
            Ok(match answer {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(_) => timed_out(),
            })
        }
    })
}

/// `408`, and the connection is not kept (the rest of a slow body is not waited for).
fn timed_out() -> Response<Body> {
    let mut res = Response::new(Body::from("Request Timeout"));
    *res.status_mut() = StatusCode::REQUEST_TIMEOUT;
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
