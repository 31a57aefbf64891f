//! Cross-cutting middleware: security headers on every response, and request metrics labelled
//! by the matched route (never the raw URI, whose query may carry codes or tokens).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::state::AppState;

/// The Content-Security-Policy: same-origin everything, no inline script or style, no framing.
///
/// `form-action` is left out on purpose: browsers apply it to the whole redirect chain after a
/// form post, and the sign-in form of an OAuth flow must end in a redirect to the client.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The CSP for a deployment: the strict one, plus the provider's origins for scripts, frames
/// and connections when a third-party CAPTCHA is configured.
pub fn csp_for(remote: Option<crate::domain::captcha::RemoteKind>) -> String {
    match remote {
        None => CSP.to_owned(),
        Some(kind) => {
            let o = kind.origins();
            CSP.replace("script-src 'self'", &format!("script-src 'self' {o}"))
                .replace("connect-src 'self'", &format!("connect-src 'self' {o}"))
                + &format!("; frame-src {o}")
        }
    }
}

/// Adds the security headers; HSTS only when the issuer is https.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&state.csp) {
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

/// Counts requests and records latency by method, matched route and status.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("authd_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("authd_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}
