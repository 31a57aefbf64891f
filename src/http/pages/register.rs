//! `GET /register` and `POST /register`. A taken email gets exactly the answer a new one gets
//! (a redirect to the sign-in page), so registration cannot be used to probe for accounts.
//! A pending OAuth authorization request (`?next=`, from the sign-in page) survives the
//! detour: the form posts it back, the sign-in page it leads to carries it, and the session
//! keeps it (`PENDING_NEXT`) for the verification link's page to continue to.

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
use crate::domain::accounts::service::Origin;
use crate::domain::redirect::LocalPath;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::forms::Form;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;
use crate::http::pages::login::with_next;

/// The session key of the request a registration was a detour from (a local path).
pub(crate) const PENDING_NEXT: &str = "pending_next";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/register", get(register_get).post(register_post))
}

/// `/register`'s query: where the visitor was going (a pending authorization request).
#[derive(Deserialize)]
pub struct RegisterQuery {
    next: Option<String>,
}

impl RegisterQuery {
    fn next(&self) -> Option<LocalPath> {
        self.next.as_deref().and_then(LocalPath::parse)
    }
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
#[derive(Template, serde::Serialize)]
#[template(path = "pages/register.html")]
pub struct RegisterPage {
    csrf_token: String,
    /// The form's action and the sign-in link, each carrying `next`.
    action: String,
    login_link: String,
    email: String,
    error: Option<&'static str>,
    challenge: Option<challenge::ChallengeView>,
}
crate::page!(
    RegisterPage,
    "pages/register.html",
    [csrf_token, action, login_link, email, error, challenge]
);

impl RegisterPage {
    async fn new(
        state: &AppState,
        session: &WebSession,
        q: &RegisterQuery,
        email: &str,
    ) -> Result<Self, HttpError> {
        let next = q.next.as_deref();
        Ok(Self {
            csrf_token: session.csrf_token(state).await?,
            action: with_next("/register", next),
            login_link: with_next("/login", next),
            email: email.chars().take(254).collect(),
            error: None,
            challenge: None,
        })
    }
}

/// Where a registration leads: the sign-in page, with the pending request kept (in the link
/// and in the session, for the verification link's page).
async fn registered(session: &WebSession, q: &RegisterQuery) -> Result<Response, HttpError> {
    let Some(next) = q.next() else {
        return Ok(Redirect::to("/login?registered=1").into_response());
    };
    session.put(PENDING_NEXT, next.as_str()).await?;
    let to = format!("/login?registered=1&next={}", urlencode(next.as_str()));
    Ok(Redirect::to(&to).into_response())
}

/// `GET /register`.
pub async fn register_get(
    State(state): State<AppState>,
    Query(q): Query<RegisterQuery>,
    session: WebSession,
) -> Result<Response, HttpError> {
    if !state.config.registration_open {
        return Err(AccountError::RegistrationClosed.into());
    }
    Ok(RegisterPage::new(&state, &session, &q, "")
        .await?
        .into_response())
}

/// `POST /register`.
pub async fn register_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<RegisterQuery>,
    CsrfForm { form, session }: CsrfForm<RegisterForm>,
) -> Result<Response, HttpError> {
    if !state.config.registration_open {
        return Err(AccountError::RegistrationClosed.into());
    }
    let answer = challenge::answer(&state, &session, &form.answers, ctx.ip).await?;
    match state.login.gate_form(&ctx, Form::Register, answer).await {
        Ok(()) => {}
        Err(SignInError::ChallengeRequired { work }) => {
            let mut page = RegisterPage::new(&state, &session, &q, &form.email).await?;
            page.error = Some("Please complete the extra check below.");
            page.challenge = Some(challenge::show(&state, &session, work).await?);
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
            registered(&session, &q).await
        }
        Err(AccountError::EmailTaken) => registered(&session, &q).await,
        Err(AccountError::InvalidInput(msg)) => {
            let mut page = RegisterPage::new(&state, &session, &q, &form.email).await?;
            page.error = Some(msg);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
