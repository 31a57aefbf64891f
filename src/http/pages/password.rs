//! `GET|POST /password/forgot` and `GET|POST /password/reset`. Asking for a link answers the
//! same page whether or not the address has an account.

use askama::Template;
use askama_web::WebTemplate;
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
use crate::domain::signin::pass::Gate;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;

const GATE: Gate = Gate::Form(Form::Forgot);

/// The reset form's answer when the two passwords differ.
const MISMATCH: &str = "The two passwords differ. Enter the new password twice.";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_get).post(forgot_post))
        .route("/password/reset", get(reset_get).post(reset_post))
}

/// The forgot-password page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/forgot.html")]
pub struct ForgotPage {
    csrf_token: String,
    sent: bool,
    error: Option<&'static str>,
    challenge: Option<challenge::ChallengeView>,
}

/// The new-password page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/reset.html")]
pub struct ResetPage {
    csrf_token: String,
    token: String,
    usable: bool,
    error: Option<&'static str>,
    /// The error is about the confirmation (the two differ), not the password itself.
    confirm_invalid: bool,
}

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
    /// The password again (the page asks for it; a script may leave it out).
    password_confirm: Option<SecretString>,
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
    ClientContext(ctx): ClientContext,
    session: WebSession,
) -> Result<Response, HttpError> {
    // The network already asked past the rung: the CAPTCHA now, so one submit is enough.
    let challenge = challenge::up_front(&state, &session, &ctx, GATE, None).await?;
    Ok(ForgotPage {
        csrf_token: session.csrf_token(&state).await?,
        sent: false,
        error: None,
        challenge,
    }
    .into_response())
}

/// `POST /password/forgot`.
pub async fn forgot_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<ForgotForm>,
) -> Result<Response, HttpError> {
    let answer = challenge::answer(&state, &session, &form.answers, ctx.ip, GATE).await?;
    match state.login.gate_form(&ctx, Form::Forgot, answer).await {
        Ok(()) => challenge::release(&session, GATE).await?,
        Err(SignInError::ChallengeRequired { work }) => {
            let page = ForgotPage {
                csrf_token: session.csrf_token(&state).await?,
                sent: false,
                error: Some("Please confirm you're not a robot and send the form again."),
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
        confirm_invalid: false,
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
    use secrecy::ExposeSecret;
    let differs = form.password_confirm.as_ref().is_some_and(|c| {
        let (a, b) = (c.expose_secret().as_bytes(), form.password.expose_secret());
        !bool::from(subtle::ConstantTimeEq::ct_eq(a, b.as_bytes()))
    });
    if differs {
        // Nothing changed: the form again, the link still usable.
        let page = ResetPage {
            csrf_token: session.csrf_token(&state).await?,
            usable: state.resets.is_usable(&form.token).await?,
            token: form.token,
            error: Some(MISMATCH),
            confirm_invalid: true,
        };
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
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
                confirm_invalid: false,
            };
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
