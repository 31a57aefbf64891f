//! `GET /login` and `POST /login`: the sign-in form and its outcomes (INTERFACE.md): 303 with a
//! fresh session on success, 401 with the same generic form for any wrong credential.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::error::DomainError;
use crate::domain::redirect::LocalPath;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_get).post(login_post))
}

/// Query of `/login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    registered: Option<String>,
    /// Set after a password reset.
    reset: Option<String>,
    /// Show the form even to a signed-in user (`prompt=login`, `max_age`).
    reauth: Option<String>,
    /// Prefill the email (OIDC `login_hint`).
    login_hint: Option<String>,
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: SecretString,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for LoginForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The sign-in page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    csrf_token: String,
    action: String,
    username: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    registration_open: bool,
}

fn target(next: Option<&str>) -> LocalPath {
    next.and_then(LocalPath::parse)
        .unwrap_or_else(LocalPath::account)
}

fn action(next: Option<&str>) -> String {
    match next.and_then(LocalPath::parse) {
        Some(p) => format!("/login?next={}", urlencode(p.as_str())),
        None => "/login".to_owned(),
    }
}

/// `GET /login`.
pub async fn login_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<LoginQuery>,
) -> Result<Response, HttpError> {
    if q.reauth.is_none() && session.user_id().await?.is_some() {
        return Ok(Redirect::to(target(q.next.as_deref()).as_str()).into_response());
    }
    let page = LoginPage {
        csrf_token: session.csrf_token(&state).await?,
        action: action(q.next.as_deref()),
        username: q.login_hint.unwrap_or_default().chars().take(254).collect(),
        error: None,
        notice: match (q.registered, q.reset) {
            (Some(_), _) => Some("If that address could be registered, you can now sign in."),
            (_, Some(_)) => Some("Your password was changed. Sign in with the new one."),
            _ => None,
        },
        registration_open: state.config.registration_open,
    };
    Ok(page.into_response())
}

/// `POST /login`.
pub async fn login_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<LoginQuery>,
    CsrfForm { form, session }: CsrfForm<LoginForm>,
) -> Result<Response, HttpError> {
    match state.login.login(&ctx, &form.username, form.password).await {
        Ok(signed_in) => {
            session
                .sign_in(
                    &state,
                    &signed_in.account.id,
                    signed_in.at,
                    signed_in.account.session_epoch,
                )
                .await?;
            state
                .login
                .session_created(&ctx, &signed_in.account.id)
                .await?;
            Ok(Redirect::to(target(q.next.as_deref()).as_str()).into_response())
        }
        Err(DomainError::InvalidCredentials) => {
            let page = LoginPage {
                csrf_token: session.csrf_token(&state).await?,
                action: action(q.next.as_deref()),
                username: form.username.chars().take(254).collect(),
                error: Some("Incorrect email or password."),
                notice: None,
                registration_open: state.config.registration_open,
            };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
