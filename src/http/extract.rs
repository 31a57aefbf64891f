//! Our own extractors: `WebSession` (typed access to the server-side session), `CurrentUser`
//! (a valid signed-in session) and `CsrfForm<T>` (a form whose CSRF token matched: the
//! session's synchronizer token once signed in, before that the stateless token of the CSRF
//! cookie); `ClientContext` (`client_ip.rs`) is re-exported here.

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::app::state::AppState;
use crate::domain::account_security::reauth::ReauthMark;
use crate::domain::error::Unexpected;
use crate::domain::sessions::SessionState;
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::http::csrf::CsrfCookie;
use crate::http::error::HttpError;

pub use crate::http::client_ip::{ClientContext, client_ip, is_trusted_proxy};

/// Typed access to the server-side session (keys are constants, values small), with the
/// request's CSRF cookie.
#[derive(Debug, Clone)]
pub struct WebSession(pub Session, Option<CsrfCookie>);

const CSRF: &str = "csrf";
const USER_ID: &str = "uid";
const AUTH_AT: &str = "auth_at";
const SEEN_AT: &str = "seen_at";
const EPOCH: &str = "epoch";
const REAUTH: &str = "reauth";
/// The session's row in the session index (`user_session.id`).
const INDEX_ROW: &str = "sid";
/// How the session's sign-in authenticated (RFC 8176 `amr`, JSON list; `step_up_session.rs`).
pub(crate) const AMR: &str = "amr";

pub(crate) fn session_failed(e: tower_sessions::session::Error) -> HttpError {
    HttpError::Unexpected(Unexpected(anyhow::Error::new(e).context("session store")))
}

impl WebSession {
    /// The token a form carries: the session's synchronizer token once signed in; before,
    /// the stateless token of the browser's CSRF cookie, so showing a form to an anonymous
    /// visitor writes nothing server-side.
    pub async fn csrf_token(&self, state: &AppState) -> Result<String, HttpError> {
        if let Some(t) = self.0.get::<String>(CSRF).await.map_err(session_failed)? {
            return Ok(t);
        }
        let cookie = self.1.as_ref().ok_or_else(|| {
            HttpError::Unexpected(Unexpected(anyhow::anyhow!("CSRF cookie layer missing")))
        })?;
        Ok(state.csrf.token(cookie.nonce_for_form()))
    }

    /// Whether `submitted` is the session's token (constant time) or, for a session without
    /// one (not signed in), the token of the CSRF cookie the browser sent.
    pub async fn csrf_matches(&self, state: &AppState, submitted: &str) -> Result<bool, HttpError> {
        if submitted.is_empty() {
            return Ok(false);
        }
        if let Some(expected) = self.0.get::<String>(CSRF).await.map_err(session_failed)? {
            return Ok(bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())));
        }
        Ok(self
            .1
            .as_ref()
            .and_then(CsrfCookie::sent)
            .is_some_and(|nonce| state.csrf.matches(nonce, submitted)))
    }

    /// Marks the session signed in: a new session id (defeats fixation), a new CSRF token, and
    /// the sign-in time for the lifetime policy; a detour's kept request is dropped.
    pub async fn sign_in(
        &self,
        state: &AppState,
        user_id: &str,
        at: OffsetDateTime,
        epoch: i64,
    ) -> Result<(), HttpError> {
        // Loads the record first: a session the store does not hold (no cookie, or an id it
        // never issued or has dropped) has no id after that, and saving it draws a fresh one
        // from the store, so there is nothing to cycle and no row to delete. One that is
        // stored gets a new id and its old row is deleted (defeats fixation).
        self.0.remove::<String>(AMR).await.map_err(session_failed)?;
        if self.0.id().is_some() {
            self.0.cycle_id().await.map_err(session_failed)?;
        }
        // The detour's pending request is reached now (or given up): a later verification
        // link must not send this browser back to it.
        self.forget_detour().await?;
        self.0.insert(EPOCH, epoch).await.map_err(session_failed)?;
        let token = state.random.token(32);
        self.0.insert(CSRF, &token).await.map_err(session_failed)?;
        self.0
            .insert(USER_ID, user_id)
            .await
            .map_err(session_failed)?;
        self.0
            .insert(AUTH_AT, at.unix_timestamp())
            .await
            .map_err(session_failed)?;
        self.0
            .insert(SEEN_AT, at.unix_timestamp())
            .await
            .map_err(session_failed)?;
        Ok(())
    }

    /// Deletes the session server-side and clears the cookie.
    pub async fn end(&self) -> Result<(), HttpError> {
        self.0.flush().await.map_err(session_failed)
    }

    /// The signed-in user id, if any (without checking the lifetime policy). A session with a
    /// pending step-up is signed in as nobody: the step-up cannot be skipped.
    pub async fn user_id(&self) -> Result<Option<String>, HttpError> {
        if self.step_up().await?.is_some() {
            return Ok(None);
        }
        self.0.get::<String>(USER_ID).await.map_err(session_failed)
    }

    /// The session's re-authentication mark (`ReauthMark`'s encoding), if any.
    pub async fn reauth_mark(&self) -> Result<Option<String>, HttpError> {
        self.0.get::<String>(REAUTH).await.map_err(session_failed)
    }

    /// Keeps a re-authentication in the session (the account security page's changes check
    /// it with `SecurityService::check_reauth`).
    pub async fn mark_reauth(&self, mark: &ReauthMark) -> Result<(), HttpError> {
        self.0
            .insert(REAUTH, mark.encode())
            .await
            .map_err(session_failed)
    }

    /// The session's row in the session index, if it was indexed.
    pub async fn index_row(&self) -> Result<Option<String>, HttpError> {
        self.0
            .get::<String>(INDEX_ROW)
            .await
            .map_err(session_failed)
    }

    /// Saves the session now (creating it under its new id after a sign-in or a renewal) and
    /// returns that id, for the session index (which keeps it sealed).
    pub async fn save_now(&self) -> Result<String, HttpError> {
        self.0.save().await.map_err(session_failed)?;
        self.0.id().map(|id| id.to_string()).ok_or_else(|| {
            HttpError::Unexpected(Unexpected(anyhow::anyhow!("session saved without an id")))
        })
    }

    /// Remembers the session's row in the session index.
    pub async fn set_index_row(&self, row: &str) -> Result<(), HttpError> {
        self.0.insert(INDEX_ROW, row).await.map_err(session_failed)
    }

    /// After a re-authentication (the session may change the sign-in methods now): a new
    /// session id (the old one is deleted), so an id that leaked before gains nothing. The CSRF
    /// token stays (a form fetched before goes on working; it is worth nothing without the
    /// session's new id). The session's epoch, to index the new id under.
    pub async fn cycle(&self) -> Result<Option<i64>, HttpError> {
        self.0.cycle_id().await.map_err(session_failed)?;
        self.0.get::<i64>(EPOCH).await.map_err(session_failed)
    }

    /// After a password change: a new session id (the old one is deleted) under the account's
    /// new session epoch, so this session survives the epoch moving on.
    pub async fn renew(&self, epoch: i64) -> Result<(), HttpError> {
        self.0.cycle_id().await.map_err(session_failed)?;
        self.0.insert(EPOCH, epoch).await.map_err(session_failed)
    }

    /// Stores a small value under `key` (pending OAuth requests).
    pub async fn put(&self, key: &str, value: &str) -> Result<(), HttpError> {
        self.0.insert(key, value).await.map_err(session_failed)
    }

    /// Reads the value under `key` (kept).
    pub async fn value(&self, key: &str) -> Result<Option<String>, HttpError> {
        self.0.get::<String>(key).await.map_err(session_failed)
    }

    /// Takes (reads and removes) the value under `key`.
    pub async fn take(&self, key: &str) -> Result<Option<String>, HttpError> {
        self.0.remove::<String>(key).await.map_err(session_failed)
    }

    async fn time(&self, key: &str) -> Result<Option<OffsetDateTime>, HttpError> {
        let secs = self.0.get::<i64>(key).await.map_err(session_failed)?;
        Ok(secs.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()))
    }
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let cookie = parts.extensions.get::<CsrfCookie>().cloned();
        Session::from_request_parts(parts, state)
            .await
            .map(|session| Self(session, cookie))
            .map_err(|_| {
                HttpError::Unexpected(Unexpected(anyhow::anyhow!("session layer missing")))
            })
    }
}

/// A signed-in user whose session passed the idle and lifetime checks.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account id.
    pub user_id: String,
    /// When the user last entered their password.
    pub auth_at: OffsetDateTime,
    /// The session, for sign-out and CSRF.
    pub session: WebSession,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let next = next_after_sign_in(parts);
        let session = WebSession::from_request_parts(parts, state).await?;
        let (Some(user_id), Some(auth_at), Some(seen_at)) = (
            session.user_id().await?,
            session.time(AUTH_AT).await?,
            session.time(SEEN_AT).await?,
        ) else {
            return Err(HttpError::SignInRequired { next });
        };
        let now = state.clock.now();
        let epoch = session.0.get::<i64>(EPOCH).await.map_err(session_failed)?;
        // A password change moves the account's epoch on: every older session is dead.
        let current_epoch = state.accounts.session_epoch(&user_id).await?;
        let remembered = session.is_remembered().await?;
        let reason = match state
            .session_policy
            .check(now, auth_at, seen_at, remembered)
        {
            _ if current_epoch.is_none() || current_epoch != epoch => Decision::PasswordChanged,
            SessionState::Active { touch } => {
                if touch {
                    session
                        .0
                        .insert(SEEN_AT, now.unix_timestamp())
                        .await
                        .map_err(session_failed)?;
                    // The session index's last-seen time, on the same once-a-minute beat.
                    if let Some(row) = session.index_row().await? {
                        state.security.session_seen(&row).await?;
                    }
                }
                return Ok(Self {
                    user_id,
                    auth_at,
                    session,
                });
            }
            SessionState::IdleExpired => Decision::IdleTimeout,
            SessionState::LifetimeExpired => Decision::LifetimeExceeded,
        };
        session.end().await?;
        let ClientContext(ctx) = ClientContext::from_request_parts(parts, state).await?;
        state
            .login
            .session_ended(&ctx, &user_id, EventKind::SessionRevoked, reason)
            .await?;
        Err(HttpError::SignInRequired { next })
    }
}

/// Where a request that needs a sign-in goes back to after it: the page itself for a GET; for
/// a form's POST (whose session ended meanwhile) the page the form is on, since the browser
/// comes back with a GET, which a POST-only path answers `405`.
fn next_after_sign_in(parts: &Parts) -> String {
    let path = parts.uri.path();
    if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
        return parts
            .uri
            .path_and_query()
            .map_or(path, |p| p.as_str())
            .to_owned();
    }
    let page = ["/account/security", "/admin"]
        .into_iter()
        .find(|page| path == *page || path.starts_with(&format!("{page}/")))
        .unwrap_or("/account");
    page.to_owned()
}

/// A form that carries a `csrf_token` field.
pub trait CsrfProtected {
    /// The submitted token.
    fn csrf_token(&self) -> &str;
}

/// A form body whose CSRF token matched the session's synchronizer token.
#[derive(Debug)]
pub struct CsrfForm<T> {
    /// The parsed form.
    pub form: T,
    /// The session it was checked against.
    pub session: WebSession,
}

impl<T> FromRequest<AppState> for CsrfForm<T>
where
    T: DeserializeOwned + CsrfProtected + Send,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HttpError> {
        let (mut parts, body) = req.into_parts();
        let session = WebSession::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, state)
            .await
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => HttpError::PayloadTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => HttpError::UnsupportedMediaType,
                _ => HttpError::BadRequest("The form could not be read."),
            })?;
        if !session.csrf_matches(state, form.csrf_token()).await? {
            return Err(HttpError::Csrf);
        }
        Ok(Self { form, session })
    }
}
