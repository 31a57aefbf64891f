//! `POST /logout`: deletes the session server-side, so the old cookie is worthless.
//! `GET /logout` (a typed or bookmarked address) asks with a button instead of the bare 405:
//! a GET never signs out, so a link or an image on another site cannot.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::oauth::end_session::SignedOutPage;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/logout", get(logout_get).post(logout_post))
}

/// `GET /logout`: "Sign out?" with the button when signed in, "You are signed out" otherwise.
pub async fn logout_get(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response, HttpError> {
    let signed_in = session.user_id().await?.is_some();
    let csrf_token = if signed_in {
        session.csrf_token(&state).await?
    } else {
        String::new()
    };
    Ok(SignedOutPage {
        signed_in,
        csrf_token,
        app_asked: false,
    }
    .into_response())
}

/// The sign-out form (a CSRF token only).
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for LogoutForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /logout`.
pub async fn logout_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { session, .. }: CsrfForm<LogoutForm>,
) -> Result<Response, HttpError> {
    if let Some(user_id) = session.user_id().await? {
        state
            .login
            .session_ended(&ctx, &user_id, EventKind::Logout, Decision::SignedOut)
            .await?;
    }
    session.end().await?;
    Ok(Redirect::to("/login").into_response())
}
