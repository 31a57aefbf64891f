//! Signing in with a passkey from `/login` (the button carrying `data-passkey-signin`, run by
//! `/static/passkey.js`): `POST /login/passkey/start` (the options for
//! `navigator.credentials.get`) and `POST /login/passkey/finish?next=` (the assertion; signs
//! in like the password form: a new session id and CSRF token, the session's `amr` (the key's
//! `hwk`/`swk` and `mfa`), the session index and `session_created`, the device cookie, then
//! the `next` target — the pending OAuth authorization request included).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::PublicKeyCredential;

use crate::app::state::AppState;
use crate::domain::passkeys::error::PasskeyError;
use crate::domain::redirect::LocalPath;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::passkey::PasskeyAttempt;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, WebSession, session_failed};
use crate::http::pages::login::{cookie_value, device_cookie_name, set_device_cookie};
use crate::http::pages::security::sessions::index_new_session;
use crate::http::passkeys::{PasskeyApiError, check_csrf};

/// The session key of a passwordless sign-in in progress.
const SIGN_IN: &str = "passkey_sign_in";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login/passkey/start", post(login_passkey_start_post))
        .route("/login/passkey/finish", post(login_passkey_finish_post))
}

/// `POST /login/passkey/start`. The ceremony lives in the session: a browser without one
/// starts one within its network's budget for ceremonies (`Door::CeremonyStarted`, apart from
/// the up-front CAPTCHA's), past it `429`.
pub async fn login_passkey_start_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    session: WebSession,
    headers: HeaderMap,
) -> Result<Json<Value>, PasskeyApiError> {
    check_csrf(&state, &session, &headers).await?;
    let ceremony = state.passkeys.start_sign_in()?;
    // Loads the session: no id now means the store holds none for this browser.
    session
        .0
        .get::<String>(SIGN_IN)
        .await
        .map_err(session_failed)?;
    if session.0.id().is_none()
        && let Err(retry_after) = state
            .login
            .new_session_budget(crate::domain::throttle::Door::CeremonyStarted, ctx.ip)
    {
        return Err(SignInError::RateLimited { retry_after }.into());
    }
    session.put(SIGN_IN, &ceremony.state).await?;
    Ok(Json(json!({ "publicKey": ceremony.options })))
}

/// The query of `/finish`.
#[derive(Debug, Deserialize)]
pub struct FinishQuery {
    next: Option<String>,
}

/// The body of `/finish`.
#[derive(Debug, Deserialize)]
pub struct FinishBody {
    /// The authenticator's answer.
    credential: PublicKeyCredential,
}

/// `POST /login/passkey/finish`: `{"redirect": "<next>"}` with the session cookie.
pub async fn login_passkey_finish_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    session: WebSession,
    Query(q): Query<FinishQuery>,
    headers: HeaderMap,
    body: Result<Json<FinishBody>, JsonRejection>,
) -> Result<Response, PasskeyApiError> {
    check_csrf(&state, &session, &headers).await?;
    // Single use: whatever follows, this ceremony cannot be finished again.
    let pending = session.take(SIGN_IN).await?;
    let Json(body) = body.map_err(|_| HttpError::BadRequest("The request could not be read."))?;
    let pending = pending.ok_or(PasskeyError::NoCeremony)?;
    let cookie_name = device_cookie_name(state.config.is_https());
    let attempt = PasskeyAttempt {
        state: &pending,
        answer: &body.credential,
        device_cookie: cookie_value(&headers, cookie_name),
    };
    let done = state
        .login
        .login_with_passkey(&ctx, &state.passkeys, attempt)
        .await?;
    session.sign_in_with(&state, &done.signed_in).await?;
    let (account, note) = (&done.signed_in.account, done.signed_in.note.clone());
    index_new_session(
        &state,
        &session,
        &ctx,
        &account.id,
        account.session_epoch,
        note,
    )
    .await?;
    let target = q
        .next
        .as_deref()
        .and_then(LocalPath::parse)
        .unwrap_or_else(LocalPath::account);
    let mut res = Json(json!({ "redirect": target.as_str() })).into_response();
    if let Some(value) = &done.signed_in.new_device_cookie {
        set_device_cookie(&mut res, cookie_name, value, state.config.is_https());
    }
    Ok(res)
}
