//! The OAuth 2.0 / OpenID Connect endpoints. Every path is published in the discovery document;
//! clients never hard-code them.

use axum::Router;
use axum::routing::{get, post};

use crate::app::state::AppState;

/// `/authorize` and the consent form.
pub mod authorize;
/// `/authorize/cancel`: the sign-in page's way back to the application (`access_denied`).
pub mod cancel;
/// `/.well-known/openid-configuration` (and the RFC 8414 alias).
pub mod discovery;
/// `/end_session` (RP-initiated logout).
pub mod end_session;
/// OAuth JSON errors.
pub mod error;
/// Client-credential and bearer extraction.
pub mod extract;
/// `/introspect` (RFC 7662) and `/revoke` (RFC 7009).
pub mod introspect;
/// `/jwks.json`.
pub mod jwks;
/// `/token`.
pub mod token;
/// `/userinfo`.
pub mod userinfo;

/// Paths, relative to the issuer.
pub mod paths {
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/authorize";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// JWKS.
    pub const JWKS: &str = "/jwks.json";
    /// Userinfo.
    pub const USERINFO: &str = "/userinfo";
    /// Introspection.
    pub const INTROSPECT: &str = "/introspect";
    /// Revocation.
    pub const REVOKE: &str = "/revoke";
    /// RP-initiated logout.
    pub const END_SESSION: &str = "/end_session";
}

/// The browser-page endpoints (no CORS).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            paths::AUTHORIZE,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/authorize/consent", post(authorize::consent_post))
        .route(cancel::CANCEL_PATH, get(cancel::cancel_get))
        .route(
            paths::END_SESSION,
            get(end_session::end_session_get).post(end_session::end_session_post),
        )
}

/// Introspection: resource servers only (no CORS, no browser).
pub(crate) fn introspection() -> Router<AppState> {
    Router::new().route(paths::INTROSPECT, post(introspect::introspect_post))
}

/// The endpoints a browser app calls from its own origin: discovery, token, JWKS, userinfo
/// and revocation, with CORS for the public clients' origins (`http/cors.rs`).
pub(crate) fn browser_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery_get),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::discovery_get),
        )
        .route(paths::TOKEN, post(token::token_post))
        .route(paths::JWKS, get(jwks::jwks_get))
        .route(
            paths::USERINFO,
            get(userinfo::userinfo_get).post(userinfo::userinfo_get),
        )
        .route(paths::REVOKE, post(introspect::revoke_post))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::cors::cors,
        ))
}
