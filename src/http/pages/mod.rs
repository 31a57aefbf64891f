//! Browser pages, server-rendered with askama (auto-escaping on). No inline script or style:
//! the CSP forbids both.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::http::StatusCode;

use crate::state::AppState;

/// `/account`.
pub mod account;
/// The CAPTCHA kept in the session.
pub mod challenge;
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
/// `/unlock`.
pub mod unlock;

/// The browser pages' routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(login::router())
        .merge(logout::router())
        .merge(register::router())
        .merge(account::router())
        .merge(password::router())
        .merge(unlock::router())
        .merge(not_me::router())
}

/// The generic error page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    /// Numeric status.
    pub status: u16,
    /// Status reason phrase.
    pub title: &'static str,
    /// A generic, safe message.
    pub message: &'static str,
}

impl ErrorPage {
    /// The page for `status` with `message`.
    pub fn new(status: StatusCode, message: &'static str) -> Self {
        Self {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        }
    }
}
