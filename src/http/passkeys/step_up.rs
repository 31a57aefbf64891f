//! The passkey rung of the step-up after a right password (the login page's element carrying
//! `data-challenge="webauthn"`, run by `/static/passkey.js`): `POST /login/step-up/passkey/start`
//! (the options for `navigator.credentials.get`, for the pending step-up's account only; the
//! ceremony kept in the pending step-up of this session) and
//! `POST /login/step-up/passkey/finish?next=` (the assertion: signed in exactly as after a
//! code, answering `{"redirect": next}`; a refused one is a counted `challenge_failed`).
//! Without a pending step-up in this session both answer `sign_in_again`.

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
use crate::domain::signin::step_up::StepUpAnswer;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, WebSession};
use crate::http::pages::step_up::{self, Answered};
use crate::http::passkeys::{PasskeyApiError, check_csrf};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/login/step-up/passkey/start",
            post(login_step_up_passkey_start_post),
        )
        .route(
            "/login/step-up/passkey/finish",
            post(login_step_up_passkey_finish_post),
        )
}

/// `POST /login/step-up/passkey/start`.
pub async fn login_step_up_passkey_start_post(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
) -> Result<Json<Value>, PasskeyApiError> {
    check_csrf(&state, &session, &headers).await?;
    let mut pending = session
        .step_up()
        .await?
        .ok_or(PasskeyApiError::SignInAgain)?;
    let options = state.login.start_passkey_step_up(&mut pending).await?;
    session.set_step_up(&pending).await?;
    Ok(Json(json!({ "publicKey": options })))
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

/// `POST /login/step-up/passkey/finish`: `{"redirect": "<next>"}` with the session cookie.
pub async fn login_step_up_passkey_finish_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    session: WebSession,
    Query(q): Query<FinishQuery>,
    headers: HeaderMap,
    body: Result<Json<FinishBody>, JsonRejection>,
) -> Result<Response, PasskeyApiError> {
    check_csrf(&state, &session, &headers).await?;
    let pending = session
        .step_up()
        .await?
        .ok_or(PasskeyApiError::SignInAgain)?;
    let Json(body) = body.map_err(|_| HttpError::BadRequest("The request could not be read."))?;
    let answer = StepUpAnswer::Passkey(Box::new(body.credential));
    match step_up::answer(&state, &ctx, &session, pending, answer).await? {
        Answered::SignedIn(cookie) => {
            let target = q
                .next
                .as_deref()
                .and_then(LocalPath::parse)
                .unwrap_or_else(LocalPath::account);
            let res = Json(json!({ "redirect": target.as_str() })).into_response();
            Ok(step_up::with_device_cookie(&state, res, cookie.as_deref()))
        }
        Answered::Again(..) => Err(PasskeyError::Rejected.into()),
        Answered::Dropped => Err(PasskeyApiError::SignInAgain),
    }
}
