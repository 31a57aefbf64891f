//! `POST /account/security/reauth`: the password re-authenticates the session for five minutes
//! (a `ReauthMark` in the session). The second factors re-authenticate through their own forms
//! and `SecurityService::reauth_by_factor`, then `WebSession::mark_reauth` the same way.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};
use crate::http::pages::security::{PATH, answer};

/// The re-authentication form.
#[derive(Deserialize)]
pub struct ReauthForm {
    csrf_token: String,
    password: SecretString,
}

impl CsrfProtected for ReauthForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /account/security/reauth`.
pub async fn reauth_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, session }: CsrfForm<ReauthForm>,
) -> Result<Response, HttpError> {
    match state
        .security
        .reauth_by_password(&ctx, &user.user_id, &form.password)
        .await
    {
        Ok(mark) => {
            session.mark_reauth(&mark).await?;
            Ok(Redirect::to(PATH).into_response())
        }
        Err(e) => answer(&state, &user, e).await,
    }
}
