//! Browser pages, server-rendered with askama (auto-escaping on). No inline script or style:
//! the CSP forbids both.

use axum::Router;

use crate::app::state::AppState;

/// `/account`.
pub mod account;
/// `/admin`, the operator console.
pub mod admin;
/// The CAPTCHA kept in the session.
pub mod challenge;
/// The pending request (`next`) carried through the sign-in page's detours.
pub mod detour;
/// `/login`.
pub mod login;
/// `POST /logout`.
pub mod logout;
/// `/not-me`, the "wasn't you?" link.
pub mod not_me;
/// `/password/forgot` and `/password/reset`.
pub mod password;
/// `/register`.
pub mod register;
/// `/account/security`: factors, sessions and devices, password, recent events.
pub mod security;
/// The step-up on `/login` (second factors).
pub mod step_up;
/// `/unlock`.
pub mod unlock;
/// `/verify-email`, the registration's link.
pub mod verify;

/// The browser pages' routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(login::router())
        .merge(challenge::router())
        .merge(logout::router())
        .merge(register::router())
        .merge(account::router())
        .merge(security::router())
        .merge(password::router())
        .merge(unlock::router())
        .merge(not_me::router())
        .merge(verify::router())
        .merge(admin::router())
}
