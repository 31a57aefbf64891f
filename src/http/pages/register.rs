//! `GET /register` and `POST /register`. A taken email gets exactly the answer a new one gets
//! (a redirect to the sign-in page), so registration cannot be used to probe for accounts.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::accounts::error::AccountError;
use crate::domain::accounts::service::Origin;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::forms::Form;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/register", get(register_get).post(register_post))
}

/// The registration form's fields.
#[derive(Deserialize)]
pub struct RegisterForm {
    email: String,
    password: SecretString,
    #[serde(flatten)]
    answers: challenge::Answers,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for RegisterForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The registration page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/register.html")]
pub struct RegisterPage {
    csrf_token: String,
    email: String,
    error: Option<&'static str>,
    challenge: Option<challenge::ChallengeView>,
}

/// `GET /register`.
pub async fn register_get(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response, HttpError> {
    if !state.config.registration_open {
        return Err(AccountError::RegistrationClosed.into());
    }
    let page = RegisterPage {
        csrf_token: session.csrf_token(&state).await?,
        email: String::new(),
        error: None,
        challenge: None,
    };
    Ok(page.into_response())
}

/// `POST /register`.
pub async fn register_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<RegisterForm>,
) -> Result<Response, HttpError> {
    if !state.config.registration_open {
        return Err(AccountError::RegistrationClosed.into());
    }
    let answer = challenge::answer(&state, &session, &form.answers, ctx.ip).await?;
    match state.login.gate_form(&ctx, Form::Register, answer).await {
        Ok(()) => {}
        Err(SignInError::ChallengeRequired { work }) => {
            let page = RegisterPage {
                csrf_token: session.csrf_token(&state).await?,
                email: form.email.chars().take(254).collect(),
                error: Some("Please complete the extra check below."),
                challenge: Some(challenge::show(&state, &session, work).await?),
            };
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    let created = state
        .accounts
        .create(&form.email, form.password, false, Origin::Web(&ctx))
        .await;
    match created {
        Ok(account) => {
            state.login.spawn_verification(&ctx, &account);
            Ok(Redirect::to("/login?registered=1").into_response())
        }
        Err(AccountError::EmailTaken) => Ok(Redirect::to("/login?registered=1").into_response()),
        Err(AccountError::InvalidInput(msg)) => {
            let page = RegisterPage {
                csrf_token: session.csrf_token(&state).await?,
                email: form.email.chars().take(254).collect(),
                error: Some(msg),
                challenge: None,
            };
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
