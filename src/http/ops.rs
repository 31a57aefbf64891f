//! Operations endpoints: `/healthz` (process up), `/readyz` (database reachable), the
//! stylesheet (served locally: no CDN, no external fonts), and the metrics listener's own
//! router (`/metrics`, Prometheus text), never merged into the main one.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::app::state::AppState;
use crate::storage::HealthStore;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/static/style.css", get(style_get))
        .route("/favicon.ico", get(favicon_get))
        .route("/static/pow.js", get(pow_js_get))
        .route("/static/pow-worker.js", get(pow_worker_get))
        .route("/static/passkey.js", get(passkey_js_get))
        .route("/static/password-toggle.js", get(password_toggle_js_get))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/account") }),
        )
}

/// The probes, `GET /healthz` and `GET /readyz` (no session, no cookies: `http::router`).
pub(crate) fn probes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz_get))
        .route("/readyz", get(readyz_get))
}

/// `GET /healthz`.
pub async fn healthz_get() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when a trivial query succeeds, 503 otherwise.
pub async fn readyz_get(State(health): State<Arc<dyn HealthStore>>) -> impl IntoResponse {
    if health.is_reachable().await {
        (StatusCode::OK, "ready")
    } else {
        tracing::warn!("not ready: the database is unreachable");
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}

/// The metrics listener's whole router: `GET /metrics`, everything else `404`. Served on
/// `AUTHD_METRICS_BIND` only (loopback by default), since the counters describe every
/// client's traffic.
pub fn metrics_router(metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(metrics_get))
        .with_state(metrics)
}

/// `GET /metrics`.
pub async fn metrics_get(State(metrics): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

/// `GET /static/style.css`.
pub async fn style_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/static/style.css"),
    )
}

/// `GET /favicon.ico`: a small inline SVG mark, so browsers stop asking.
pub async fn favicon_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#0b5cad\"/></svg>",
    )
}

/// `GET /static/pow.js`: solves the builtin CAPTCHA's proof-of-work puzzle in the browser.
pub async fn pow_js_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/static/pow.js"),
    )
}

/// `GET /static/pow-worker.js`: the proof-of-work search, run in a worker by `pow.js`.
pub async fn pow_worker_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/static/pow-worker.js"),
    )
}

/// `GET /static/passkey.js`: the passkey ceremonies of the security page and `/login`.
pub async fn passkey_js_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/static/passkey.js"),
    )
}

/// `GET /static/password-toggle.js`: the forms' show-password buttons (no inline script: the
/// CSP allows scripts from this origin only).
pub async fn password_toggle_js_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/static/password-toggle.js"),
    )
}
