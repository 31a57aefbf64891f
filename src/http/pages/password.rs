//! `GET|POST /password/forgot` and `GET|POST /password/reset`. Asking for a link answers the
//! same page whether or not the address has an account.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::accounts::error::AccountError;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::forms::Form;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_get).post(forgot_post))
        .route("/password/reset", get(reset_get).post(reset_post))
}

/// The forgot-password page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/forgot.html")]
pub struct ForgotPage {
    csrf_token: String,
    sent: bool,
    error: Option<&'static str>,
    challenge: Option<challenge::ChallengeView>,
}
crate::page!(
    ForgotPage,
    "pages/forgot.html",
    [csrf_token, sent, error, challenge]
);

/// The new-password page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/reset.html")]
pub struct ResetPage {
    csrf_token: String,
    token: String,
    usable: bool,
    error: Option<&'static str>,
}
crate::page!(
    ResetPage,
    "pages/reset.html",
    [csrf_token, token, usable, error]
);

/// The forgot form.
#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
    #[serde(flatten)]
    answers: challenge::Answers,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for ForgotForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The reset form.
#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: SecretString,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for ResetForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The reset link's query.
#[derive(Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
}

/// `GET /password/forgot`.
pub async fn forgot_get(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response, HttpError> {
    Ok(ForgotPage {
        csrf_token: session.csrf_token(&state).await?,
        sent: false,
        error: None,
        challenge: None,
    }
    .into_response())
}

/// `POST /password/forgot`.
pub async fn forgot_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<ForgotForm>,
) -> Result<Response, HttpError> {
    let answer = challenge::answer(&state, &session, &form.answers, ctx.ip).await?;
    match state.login.gate_form(&ctx, Form::Forgot, answer).await {
        Ok(()) => {}
        Err(SignInError::ChallengeRequired { work }) => {
            let page = ForgotPage {
                csrf_token: session.csrf_token(&state).await?,
                sent: false,
                error: Some("Please complete the extra check below."),
                challenge: Some(challenge::show(&state, &session, work).await?),
            };
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    state.resets.request(&ctx, &form.email).await?;
    Ok(ForgotPage {
        csrf_token: session.csrf_token(&state).await?,
        sent: true,
        error: None,
        challenge: None,
    }
    .into_response())
}

/// `GET /password/reset?token=`.
pub async fn reset_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<ResetQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let usable = state.resets.is_usable(&token).await?;
    let page = ResetPage {
        csrf_token: session.csrf_token(&state).await?,
        token,
        usable,
        error: None,
    };
    Ok(if usable {
        page.into_response()
    } else {
        (StatusCode::BAD_REQUEST, page).into_response()
    })
}

/// `POST /password/reset`.
pub async fn reset_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<ResetForm>,
) -> Result<Response, HttpError> {
    match state.resets.reset(&ctx, &form.token, form.password).await {
        Ok(()) => {
            // This browser's session is over too.
            session.end().await?;
            Ok(Redirect::to("/login?reset=1").into_response())
        }
        Err(AccountError::InvalidInput(msg)) => {
            let usable = state.resets.is_usable(&form.token).await?;
            let page = ResetPage {
                csrf_token: session.csrf_token(&state).await?,
                token: form.token,
                usable,
                error: Some(msg),
            };
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
