//! `/admin`, the operator console (docs/admin.md): the gate every console page passes
//! (`AdminSession`: an admin account, signed in with a second factor, console not idle past
//! `AUTHD_ADMIN_IDLE_SECS`), and `POST /admin/step-up`, which sends a password-only admin
//! through the sign-in's step-up. A non-admin gets the generic 404 (the console's existence is
//! not confirmed); a visitor not signed in is sent to `/login?next=…`.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::admin_console::{Admin, GateError};
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{
    ClientContext, CsrfForm, CsrfProtected, CurrentUser, WebSession, session_failed,
};

/// The acts on an account (`POST /admin/users/{id}/…`).
pub mod actions;
/// Clients: list, create, rotate a secret, delete.
pub mod clients;
/// The events explorer (`GET /admin/events`) and its export.
pub mod events;
/// The signing key ring and its rotation.
pub mod keys;
/// Model versions, training, promotion, labels.
pub mod model;
/// The overview (`GET /admin`).
pub mod overview;
/// The overview's further parts as drawn.
pub mod overview_more;
/// The user search and a user's page.
pub mod users;

/// The console's home.
pub const HOME: &str = "/admin";
/// The session's last console page (unix seconds), for the console's idle timeout.
const ADMIN_SEEN: &str = "admin_seen";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(overview::overview_get))
        .route("/admin/step-up", post(step_up_post))
        .merge(users::router())
        .merge(events::router())
        .merge(actions::router())
        .merge(clients::router())
        .merge(keys::router())
        .merge(model::router())
}

/// A request the console lets in: the admin, their session and the request's context.
#[derive(Debug)]
pub struct AdminSession {
    /// The admin.
    pub admin: Admin,
    /// The session (CSRF tokens).
    pub session: WebSession,
    /// Where the request came from (events).
    pub ctx: RequestContext,
}

/// The page for an admin whose sign-in used no second factor.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/step_up.html")]
pub struct StepUpPage {
    csrf_token: String,
    factors: Vec<&'static str>,
    /// The sign-in proved a factor, but too long before this act (`ACT_FRESH_SECS`).
    stale: bool,
}

crate::page!(
    StepUpPage,
    "pages/admin/step_up.html",
    [csrf_token, factors, stale]
);

/// A factor as the step-up page names it.
fn factor_text(name: &'static str) -> &'static str {
    match name {
        "passkey" => "a passkey",
        "totp" => "your authenticator app",
        "email" => "a code sent to your email",
        other => other,
    }
}

fn unexpected(e: anyhow::Error) -> Response {
    HttpError::Unexpected(Unexpected(e)).into_response()
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = CurrentUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let ClientContext(ctx) = ClientContext::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = user.session;
        let amr = session.amr().await.map_err(IntoResponse::into_response)?;
        let seen = session
            .0
            .get::<i64>(ADMIN_SEEN)
            .await
            .map_err(|e| session_failed(e).into_response())?;
        // A fresh sign-in counts as use: the console's clock runs from the later of the two.
        let signed_in_at = user.auth_at.unix_timestamp();
        let last = seen.max(Some(signed_in_at));
        // Anything but a read is an act: it needs a recent sign-in with the factor.
        let reads = [Method::GET, Method::HEAD].contains(&parts.method);
        let act = (!reads).then_some(signed_in_at);
        match state
            .admin_console
            .gate(&user.user_id, &amr, last, act)
            .await
        {
            Ok(mut admin) => {
                admin.session_row = session
                    .index_row()
                    .await
                    .map_err(IntoResponse::into_response)?;
                session
                    .0
                    .insert(ADMIN_SEEN, admin.seen_at)
                    .await
                    .map_err(|e| session_failed(e).into_response())?;
                Ok(Self {
                    admin,
                    session,
                    ctx,
                })
            }
            Err(GateError::NotAdmin) => Err(HttpError::NotFound.into_response()),
            Err(GateError::Idle) => {
                session.end().await.map_err(IntoResponse::into_response)?;
                state
                    .login
                    .session_ended(
                        &ctx,
                        &user.user_id,
                        EventKind::SessionRevoked,
                        Decision::IdleTimeout,
                    )
                    .await
                    .map_err(|e| HttpError::from(e).into_response())?;
                let next = parts.uri.path().to_owned();
                Err(HttpError::SignInRequired { next }.into_response())
            }
            Err(GateError::StepUpRequired { factors, stale }) => {
                let csrf_token = session
                    .csrf_token(state)
                    .await
                    .map_err(IntoResponse::into_response)?;
                let factors = factors.into_iter().map(factor_text).collect();
                let page = StepUpPage {
                    csrf_token,
                    factors,
                    stale,
                };
                Err((StatusCode::FORBIDDEN, page).into_response())
            }
            Err(GateError::Unexpected(e)) => Err(unexpected(e)),
        }
    }
}

/// The step-up form (only the CSRF token).
#[derive(Deserialize)]
pub struct StepUpForm {
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for StepUpForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /admin/step-up`: an admin's next sign-in in this session asks for a second factor;
/// sent to sign in again, back to the console after.
pub async fn step_up_post(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm { session, .. }: CsrfForm<StepUpForm>,
) -> Result<Response, HttpError> {
    let amr = session.amr().await?;
    match state
        .admin_console
        .gate(&user.user_id, &amr, None, None)
        .await
    {
        Err(GateError::NotAdmin) => return Err(HttpError::NotFound),
        Err(GateError::Unexpected(e)) => return Err(HttpError::Unexpected(Unexpected(e))),
        Ok(_) | Err(GateError::Idle | GateError::StepUpRequired { .. }) => {}
    }
    session.set_force_step_up().await?;
    let to = format!("/login?reauth=1&next={}", urlencode(HOME));
    Ok(Redirect::to(&to).into_response())
}
