//! Cross-cutting middleware: security headers on every response, request metrics labelled
//! from fixed sets (the matched route, never the raw URI whose query may carry codes or
//! tokens; a known method or `other`), the client's `X-Request-Id` kept only when well-formed,
//! the one warning about `X-Forwarded-For` from a peer that is not a trusted proxy, and the
//! browser routes' handlers sent to the page lane (`app::lane`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::app::lane::LaneHandle;
use crate::app::state::AppState;
use crate::domain::accounts::password::HashYield;

/// The Content-Security-Policy: same-origin everything, no inline script or style, no framing.
///
/// `form-action` is left out on purpose: browsers apply it to the whole redirect chain after a
/// form post, and the sign-in form of an OAuth flow must end in a redirect to the client.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The CSP for a deployment: the strict one, plus the provider's origins for scripts, frames
/// and connections when a third-party CAPTCHA is configured, and the logo's origin for images
/// when `AUTHD_LOGO_URL` is on another server.
pub fn csp_for(
    remote: Option<crate::domain::captcha::RemoteKind>,
    brand: &crate::render::Branding,
) -> String {
    let base = match brand.logo_url.as_deref().and_then(ImageOrigin::of) {
        Some(ImageOrigin(o)) => {
            CSP.replace("img-src 'self' data:", &format!("img-src 'self' data: {o}"))
        }
        None => CSP.to_owned(),
    };
    match remote {
        None => base,
        Some(kind) => {
            let o = kind.origins();
            base.replace("script-src 'self'", &format!("script-src 'self' {o}"))
                .replace("connect-src 'self'", &format!("connect-src 'self' {o}"))
                + &format!("; frame-src {o}")
        }
    }
}

/// A response extension: this page shows an image from `0` (an origin, `scheme://host[:port]`,
/// serialised by `url`), which the CSP's `img-src` then allows for this response only (an
/// application's registered logo on the consent page).
#[derive(Debug, Clone)]
pub struct ImageOrigin(pub String);

impl ImageOrigin {
    /// The origin of `uri`, if it has one that can stand in a CSP source list.
    pub fn of(uri: &str) -> Option<Self> {
        let origin = url::Url::parse(uri).ok()?.origin();
        origin
            .is_tuple()
            .then(|| Self(origin.ascii_serialization()))
    }
}

/// Adds the security headers; HSTS only when the issuer is https.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let csp: std::borrow::Cow<'_, str> = match res.extensions().get::<ImageOrigin>() {
        Some(ImageOrigin(o)) => state
            .csp
            .replace("img-src 'self' data:", &format!("img-src 'self' data: {o}"))
            .into(),
        None => (*state.csp).into(),
    };
    let h = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !is_static {
        // Pages carry CSRF tokens and personal data: never cache them.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// When the request timeout (`AUTHD_REQUEST_TIMEOUT_SECS`) answers this request `408`, set by
/// the connection's service (`app/serve.rs`).
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Instant);

/// Counts requests and records latency by method, matched route and status. Every label
/// value comes from a fixed set (routes are the router's; statuses are three digits), so no
/// client can grow the metrics' memory by sending new values. A request that never finishes
/// here is counted too, when it is dropped: past its deadline the request timeout answered it
/// (`408`); unwinding, the panic layer did (`500`); else the client went away unanswered
/// (`499`, as nginx counts it), so a database hang shows in the metrics it slows.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let mut pending = Pending {
        route: Some(route),
        method: method_label(req.method()),
        started: Instant::now(),
        deadline: req.extensions().get::<RequestDeadline>().map(|d| d.0),
    };
    let res = next.run(req).await;
    pending.record(res.status().as_u16());
    res
}

/// A request `track_metrics` has not recorded yet.
struct Pending {
    route: Option<String>,
    method: &'static str,
    started: Instant,
    deadline: Option<Instant>,
}

impl Pending {
    fn record(&mut self, status: u16) {
        let Some(route) = self.route.take() else {
            return;
        };
        let status = status.to_string();
        metrics::counter!("authd_http_requests_total", "method" => self.method, "route" => route.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("authd_http_request_duration_seconds", "route" => route)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let status = if std::thread::panicking() {
            500
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            408
        } else {
            499
        };
        self.record(status);
    }
}

/// The methods that label metrics as themselves; any other method string is `other`.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// A request's method as a metric label: one of the nine standard methods, or `other`.
pub fn method_label(method: &Method) -> &'static str {
    KNOWN_METHODS
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or("other")
}

/// The longest `X-Request-Id` taken from a client.
pub const MAX_REQUEST_ID: usize = 64;

/// Whether a client's `X-Request-Id` may be used as ours: 1–64 of `[A-Za-z0-9-]`.
pub fn is_acceptable_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// Drops a client's `X-Request-Id` unless it is exactly one acceptable value, so the layer
/// after this one generates ours: the id goes into every event and log line, and an
/// unchecked one would let a client store 60 KB per request or forge log structure.
pub async fn sanitize_request_id(mut req: Request) -> Request {
    let headers = req.headers_mut();
    let mut given = headers.get_all("x-request-id").iter();
    let keep = match (given.next(), given.next()) {
        (Some(one), None) => is_acceptable_request_id(one.as_bytes()),
        _ => false,
    };
    if !keep {
        headers.remove("x-request-id");
    }
    req
}

/// Request ids for requests that came without one: a random (version 4) UUID drawn from the
/// thread's generator. `tower_http`'s `MakeRequestUuid` asks the kernel for every one (a
/// `getrandom` call per request); an id needs to be unique, not secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestId;

impl tower_http::request_id::MakeRequestId for MakeRequestId {
    fn make_request_id<B>(
        &mut self,
        _: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let value = axum::http::HeaderValue::from_str(&id.to_string()).ok()?;
        Some(tower_http::request_id::RequestId::new(value))
    }
}

/// What the `X-Forwarded-For` check needs: the trusted proxies and whether it has warned.
#[derive(Debug, Clone)]
pub struct ForwardingCheck {
    trusted: Arc<[IpNet]>,
    warned: Arc<AtomicBool>,
}

impl ForwardingCheck {
    /// A check against `trusted` that has not warned yet (one per application).
    pub fn new(trusted: &[IpNet]) -> Self {
        Self {
            trusted: trusted.into(),
            warned: Arc::default(),
        }
    }
}

/// Counts requests that carry `X-Forwarded-For` from a peer that is not a trusted proxy (the
/// header is ignored for them) and warns about the first: behind a proxy that is missing from
/// `AUTHD_TRUSTED_PROXIES`, every client would share the proxy's address. Once, not per
/// request, so a client cannot flood the log with it.
pub async fn note_untrusted_forwarding(
    State(check): State<ForwardingCheck>,
    req: Request,
    next: Next,
) -> Response {
    if req.headers().contains_key("x-forwarded-for") {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        if !crate::http::extract::is_trusted_proxy(peer, &check.trusted) {
            metrics::counter!("authd_untrusted_forwarded_for_total").increment(1);
            if !check.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    %peer,
                    "X-Forwarded-For from a peer outside AUTHD_TRUSTED_PROXIES is ignored; if \
                     authd runs behind a proxy, list the proxy there (warned once; counted in \
                     authd_untrusted_forwarded_for_total)"
                );
            }
        }
    }
    next.run(req).await
}

/// Runs the rest of a browser route (CSRF cookie, session, handler, page) on the page lane,
/// in the request's trace span. Only while the server stops can the lane be gone: `503`.
pub async fn on_page_lane(State(lane): State<LaneHandle>, req: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    use tracing::Instrument;
    let work = next.run(req).instrument(tracing::Span::current());
    match lane.run(work).await {
        Ok(res) => res,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A layer that notes each request for the password-hashing pool: for a moment its steady
/// thread leaves new hashes to the idle-class helpers, so this request's threads never wait for
/// a hash's time slice (`domain/accounts/hash_queue.rs`). tower's `MapRequestLayer` rather than
/// `from_fn`: nothing cloned or boxed per request but one reference count.
pub fn yield_hashing(
    hashing: HashYield,
) -> tower::util::MapRequestLayer<impl Fn(Request) -> Request + Clone + Send + Sync + 'static> {
    tower::util::MapRequestLayer::new(move |req: Request| {
        hashing.machine_request();
        req
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_route_behind_the_yield_layer_notes_a_machine_request() {
        use tower::ServiceExt as _;
        let cheap = crate::domain::accounts::password::HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = crate::domain::accounts::password::PasswordHasher::new(cheap, 1, 1).unwrap();
        let handle = hasher.yield_handle();
        let router = axum::Router::new()
            .route("/token", axum::routing::post(|| async { "ok" }))
            .layer(yield_hashing(handle.clone()));
        assert!(!handle.noted());
        let req = axum::http::Request::post("/token")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = router.oneshot(req).await.unwrap();
        assert_eq!(res.status(), axum::http::StatusCode::OK);
        assert!(handle.noted());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_route_behind_the_lane_layer_runs_on_the_lane() {
        use tower::ServiceExt as _;
        let lane = crate::app::lane::PageLane::start(1).unwrap();
        let name = || async { std::thread::current().name().unwrap_or_default().to_owned() };
        let router = axum::Router::new()
            .route("/page", axum::routing::get(name))
            .layer(axum::middleware::from_fn_with_state(
                lane.handle(),
                on_page_lane,
            ))
            .merge(axum::Router::new().route("/machine", axum::routing::get(name)));
        let mut ran_on = Vec::new();
        for path in ["/page", "/machine"] {
            let req = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let res = router.clone().oneshot(req).await.unwrap();
            let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
            ran_on.push(String::from_utf8(body.to_vec()).unwrap());
        }
        assert_eq!(ran_on[0], "authd-pages");
        assert_ne!(ran_on[1], "authd-pages");
    }

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        use tower_http::request_id::MakeRequestId as _;
        let req = axum::http::Request::new(());
        let mut make = MakeRequestId;
        let ids: std::collections::BTreeSet<String> = (0..1000)
            .map(|_| {
                let id = make.make_request_id(&req).unwrap();
                id.header_value().to_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random));
            assert!(is_acceptable_request_id(id.as_bytes()));
        }
    }
}
