//! The browser's CSRF cookie, for the forms shown before sign-in: the middleware takes the
//! nonce the browser sent (or draws a new one), hands it to the request, and sets the cookie on
//! the answer only when a page put a token derived from it into a form. The token is
//! `domain::csrf`'s; `WebSession` decides which token a form carries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::state::AppState;
use crate::domain::csrf::CsrfKey;

/// The CSRF cookie's name: `__Host-` prefixed (host-only, Secure, Path=/) under https, so a
/// sibling subdomain cannot plant one.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-authd_csrf"
    } else {
        "authd_csrf"
    }
}

/// This request's CSRF nonce (a request extension).
#[derive(Debug, Clone)]
pub struct CsrfCookie {
    nonce: String,
    /// Drawn for this request: the browser sent none (or a malformed one).
    fresh: bool,
    /// Set when a page derived a token from the nonce: the cookie must then go out.
    used: Arc<AtomicBool>,
}

impl CsrfCookie {
    /// The nonce to derive a form's token from; the answer will set the cookie if it is new.
    pub fn nonce_for_form(&self) -> &str {
        self.used.store(true, Ordering::Relaxed);
        &self.nonce
    }

    /// The nonce the browser sent, to check a submitted token against (a nonce drawn for
    /// this request matches no token).
    pub fn sent(&self) -> Option<&str> {
        (!self.fresh).then_some(self.nonce.as_str())
    }
}

/// Reads or draws the nonce; sets the cookie on the answer when a form used a new one.
pub async fn csrf_cookie(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let https = state.config.is_https();
    let name = cookie_name(https);
    let sent = crate::http::pages::login::cookie_value(req.headers(), name)
        .filter(|v| CsrfKey::is_nonce(v))
        .map(str::to_owned);
    let cookie = CsrfCookie {
        fresh: sent.is_none(),
        nonce: sent.unwrap_or_else(|| state.random.token(32)),
        used: Arc::default(),
    };
    req.extensions_mut().insert(cookie.clone());
    let mut res = next.run(req).await;
    if cookie.fresh && cookie.used.load(Ordering::Relaxed) {
        // A browser-session cookie: HttpOnly (scripts never need it), Lax like the session.
        let secure = if https { "; Secure" } else { "" };
        let value = format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
            cookie.nonce
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}
