//! The HTTP layer: routes and extractors only. Handlers extract, call one domain function and
//! map the result; errors become responses in `error.rs` (pages), `api_error.rs` (admin and
//! risk JSON) and `oauth/error.rs` (RFC 6749 JSON).

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, Response, StatusCode};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::app::lane::LaneHandle;
use crate::app::state::AppState;
use crate::storage::sessions::AnySessionStore;

/// The admin JSON API and its OpenAPI document.
pub mod admin;
/// The admin and risk APIs' JSON error.
pub mod api_error;
/// The CSRF cookie of the forms shown before sign-in.
pub mod client_ip;
/// CORS for public clients' origins on the endpoints browser apps call.
pub mod cors;
pub mod csrf;
/// Error types and their responses.
pub mod error;
/// Our extractors.
pub mod extract;
/// Security headers and metrics.
pub mod middleware;
/// OAuth 2.0 / OIDC endpoints.
pub mod oauth;
/// Health, readiness, metrics, static assets.
pub mod ops;
/// Browser pages.
pub mod pages;
/// The passkey JSON endpoints (enrolment, passwordless sign-in).
pub mod passkeys;
/// "Keep me signed in" in the session.
pub mod remember;
/// Pages rendered with the brand and the template overrides; `/static/brand.css`.
pub mod render;
/// `POST /risk/evaluate`.
pub mod risk;
/// The step-up's keys in the session.
pub mod step_up_session;

/// Largest request body accepted (forms are small; 64 KiB leaves room for long fields).
pub const MAX_BODY: usize = 64 * 1024;

pub use render::templates;

/// The session cookie's name: `__Host-` prefixed (host-only, Secure, Path=/) under https.
pub fn session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-authd_session"
    } else {
        "authd_session"
    }
}

/// The full router with its layers.
///
/// Layer order, outermost first: a client's malformed request id is dropped → request id is
/// set (the client's if well-formed, else a new UUID) → trace span (request id, method,
/// matched path) → panic catcher (a generic 500, no stack trace to the client) → metrics →
/// untrusted `X-Forwarded-For` noted → security headers → request id is copied to the
/// response → body limit → for browser routes only, the page lane (`app::lane`: the rest runs
/// on its lower-priority threads) → pages rendered with the brand and overrides
/// (`render::brand_pages`) → for browser routes only, CSRF cookie → session → routes.
/// The machine routes (probes, token, userinfo, JWKS, discovery, revocation, introspection,
/// the admin API, risk evaluation) never read a session or a form's CSRF cookie, so they skip
/// those layers: no cookie parsing, no session handle and no drawn CSRF nonce per call.
/// The OAuth endpoints (token, userinfo, JWKS, discovery, revocation, introspection) and risk
/// evaluation also note each request for the password-hashing pool
/// (`middleware::yield_hashing`); the probes and the admin API do not (a load balancer's
/// probes would keep the pool yielding for nothing, and an operator's bulk import through the
/// admin API hashes passwords itself).
/// `/metrics` is not here: it has its own listener (`ops::metrics_router`).
pub fn router(state: AppState, sessions: AnySessionStore, lane: LaneHandle) -> Router {
    let https = state.config.is_https();
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(session_cookie_name(https))
        .with_secure(https)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(state.config.session_idle_timeout));
    let request_id = HeaderName::from_static("x-request-id");
    let browser = Router::new()
        .merge(pages::router())
        .merge(passkeys::router())
        .merge(ops::router())
        .merge(oauth::router())
        .route(
            "/static/brand.css",
            axum::routing::get(render::brand_css_get),
        )
        .fallback(|| async { error::HttpError::NotFound })
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    csrf::csrf_cookie,
                ))
                .layer(session_layer),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            render::brand_pages,
        ))
        .layer(axum::middleware::from_fn_with_state(
            lane,
            middleware::on_page_lane,
        ));
    // The OAuth endpoints' and risk evaluation's requests make the steady hash thread yield for
    // a moment: a resource server asks both on every use of a token.
    let oauth_routes = Router::new()
        .merge(oauth::browser_router(&state))
        .merge(oauth::introspection())
        .merge(risk::router())
        .layer(middleware::yield_hashing(
            state.accounts.hasher().yield_handle(),
        ));
    let machine = Router::new()
        .merge(ops::probes())
        .merge(oauth_routes)
        .merge(admin::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            render::brand_pages,
        ));
    Router::new()
        .merge(machine)
        .merge(browser)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_request(
                    middleware::sanitize_request_id,
                ))
                .layer(SetRequestIdLayer::new(
                    request_id.clone(),
                    middleware::MakeRequestId,
                ))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_failure(log_failure),
                )
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(axum::middleware::from_fn(middleware::track_metrics))
                .layer(axum::middleware::from_fn_with_state(
                    middleware::ForwardingCheck::new(&state.config.trusted_proxies),
                    middleware::note_untrusted_forwarding,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::security_headers,
                ))
                .layer(PropagateRequestIdLayer::new(request_id)),
        )
        .with_state(state)
}

/// A failed response, as tower-http's default logs it, except `503`: whoever answers one logs
/// it (a request shed by busy password hashers, throttled: `error::noted_as_shed`; readiness:
/// `ops::readyz_get`), so a flood's shed requests do not write a line each.
#[allow(clippy::needless_pass_by_value)] // tower-http's `OnFailure` hands the class over by value
fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass as Class;
    if matches!(class, Class::StatusCode(StatusCode::SERVICE_UNAVAILABLE)) {
        return;
    }
    tracing::error!(classification = %class, latency_ms = latency.as_millis(), "response failed");
}

fn make_span(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id,
        user_id = tracing::field::Empty,
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<axum::body::Body> {
    tracing::error!("handler panicked");
    let mut res = Response::new(axum::body::Body::from("Internal Server Error"));
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    res
}
