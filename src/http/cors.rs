//! CORS on the endpoints a browser app calls (token, userinfo, revocation, JWKS, discovery):
//! an `Origin` equal to a **public** client's registered origin (`domain/cors.rs`: exact
//! scheme, host and port, read from the client table and cached) gets
//! `Access-Control-Allow-Origin` with that origin — never `*`, never credentials mode — and a
//! preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered `204` with the methods
//! and headers allowed. Any other origin gets no `Access-Control-*` header at all (its preflight
//! falls through to the route, `405`), so the browser refuses it. Every response of these
//! routes carries `Vary: Origin`.
//!
//! Why not tower-http's `CorsLayer`: it answers every preflight itself and adds the allowed
//! methods and headers whatever the origin; here an unknown origin must see nothing.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::oauth::OAuthService;

/// The methods a cross-origin caller may use.
pub const ALLOW_METHODS: &str = "GET, POST";
/// The request headers it may send.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type";
/// The response headers its script may read (a bearer error's reason, a rate limit's wait).
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Retry-After";
/// How long a browser may keep a preflight's answer (seconds).
pub const MAX_AGE: &str = "600";
/// The longest `Origin` looked up (a real one is far shorter).
const ORIGIN_MAX: usize = 512;

/// The middleware (layered on `oauth::browser_router`).
pub async fn cors(State(oauth): State<OAuthService>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .filter(|v| v.len() <= ORIGIN_MAX)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = match origin {
        None => None,
        Some(o) => match oauth.clients().origins().allows(&o).await {
            Ok(true) => HeaderValue::from_str(&o).ok(),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e.0, "CORS: the clients' origins could not be read");
                None
            }
        },
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = match (&allowed, preflight) {
        (Some(_), true) => {
            let mut res = StatusCode::NO_CONTENT.into_response();
            let h = res.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
            res
        }
        (Some(_), false) => {
            let mut res = next.run(req).await;
            res.headers_mut().insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
            res
        }
        (None, _) => next.run(req).await,
    };
    let h = res.headers_mut();
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    vary_origin(h);
    res
}

/// Adds `Origin` to `Vary` (keeping what is there).
fn vary_origin(h: &mut HeaderMap) {
    let already = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("origin"))
        });
    if !already {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
