//! `POST /logout`: deletes the session server-side, so the old cookie is worthless.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/logout", post(logout_post))
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
