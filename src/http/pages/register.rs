//! `GET /register` and `POST /register`. A taken email gets exactly the answer a new one gets
//! (a redirect to the sign-in page), so registration cannot be used to probe for accounts. A
//! pending request (`?next=`) goes on to that sign-in page and waits in the session for the
//! verification link (`detour.rs`).

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
use crate::domain::accounts::service::{INVALID_EMAIL, Origin};
use crate::domain::signin::error::SignInError;
use crate::domain::signin::forms::Form;
use crate::domain::signin::pass::Gate;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;
use crate::http::pages::detour::{self, app_name};
use crate::http::pages::login::CONFIRM_AGAIN;

const GATE: Gate = Gate::Form(Form::Register);

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

/// The pending request a registration continues to (`detour.rs`).
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The registration page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/register.html")]
pub struct RegisterPage {
    csrf_token: String,
    email: String,
    error: Option<&'static str>,
    /// The error is about the email field (`aria-invalid`, focus there).
    email_invalid: bool,
    /// The error is about the password field.
    password_invalid: bool,
    challenge: Option<challenge::ChallengeView>,
    /// The form's action, keeping `next`.
    action: String,
    /// `?next=…` for the link back to the sign-in page.
    next_query: String,
    /// The application asking, when `next` is its authorization request.
    app_name: Option<String>,
}
crate::page!(
    RegisterPage,
    "pages/register.html",
    [
        csrf_token,
        email,
        error,
        email_invalid,
        password_invalid,
        challenge,
        action,
        next_query,
        app_name
    ]
);

impl RegisterPage {
    /// The form with the session's token, `email` kept (never the password).
    async fn new(
        state: &AppState,
        session: &WebSession,
        next: Option<&str>,
        email: &str,
    ) -> Result<Self, HttpError> {
        Ok(Self {
            csrf_token: session.csrf_token(state).await?,
            email: email.chars().take(254).collect(),
            error: None,
            email_invalid: false,
            password_invalid: false,
            challenge: None,
            action: detour::with_next("/register", next),
            next_query: detour::next_query(next),
            app_name: app_name(state, next).await?,
        })
    }
}

/// The answer to a registration, new address or taken: the sign-in page, which continues to
/// `next`; the verification link's page finds `next` in the session.
async fn registered(session: &WebSession, next: Option<&str>) -> Result<Response, HttpError> {
    session.keep_detour(next).await?;
    let to = detour::with_next("/login?registered=1", next);
    Ok(Redirect::to(&to).into_response())
}

/// `GET /register`.
pub async fn register_get(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    session: WebSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, HttpError> {
    if !state.config.registration_open {
        return Err(AccountError::RegistrationClosed.into());
    }
    let mut page = RegisterPage::new(&state, &session, q.next.as_deref(), "").await?;
    // The network already submitted this form past the rung: the CAPTCHA now, one submit.
    page.challenge = challenge::up_front(&state, &session, &ctx, GATE, None).await?;
    Ok(page.into_response())
}

/// `POST /register`.
pub async fn register_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<NextQuery>,
    CsrfForm { form, session }: CsrfForm<RegisterForm>,
) -> Result<Response, HttpError> {
    let next = q.next.as_deref();
    if !state.config.registration_open {
        return Err(AccountError::RegistrationClosed.into());
    }
    let answer = challenge::answer(&state, &session, &form.answers, ctx.ip, GATE).await?;
    match state.login.gate_form(&ctx, Form::Register, answer).await {
        Ok(()) => {}
        Err(SignInError::ChallengeRequired { work }) => {
            let mut page = RegisterPage::new(&state, &session, next, &form.email).await?;
            page.error = Some(CONFIRM_AGAIN);
            page.password_invalid = true;
            page.challenge = Some(challenge::show(&state, &session, GATE, work).await?);
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
            challenge::release(&session, GATE).await?;
            state.login.spawn_verification(&ctx, &account);
            registered(&session, next).await
        }
        Err(AccountError::EmailTaken) => {
            // Exactly what a new address gets.
            challenge::release(&session, GATE).await?;
            registered(&session, next).await
        }
        Err(AccountError::InvalidInput(msg)) => {
            // A right answer in this submit holds for the next; without one, the challenge
            // shows now if the next submit would meet it.
            challenge::hold(&state, &session, GATE, answer).await?;
            let mut page = RegisterPage::new(&state, &session, next, &form.email).await?;
            page.error = Some(msg);
            page.email_invalid = msg == INVALID_EMAIL;
            page.password_invalid = !page.email_invalid;
            page.challenge = challenge::up_front(&state, &session, &ctx, GATE, None).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
