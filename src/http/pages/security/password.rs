//! The password section (`<section id="password">`): `POST /account/security/password` with
//! `current_password` and `new_password`. The current password is the re-authentication (it
//! is checked, throttled, like the re-authentication form's); every other session ends, and
//! this one is renewed: a new id under the account's new session epoch.

use axum::extract::State;
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::account_security::sessions::SignInNote;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};
use crate::http::pages::security::sessions::index_new_session;
use crate::http::pages::security::{Done, password_refused};

/// The change-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: SecretString,
    new_password: SecretString,
}

impl CsrfProtected for PasswordForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /account/security/password`.
pub async fn password_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, session }: CsrfForm<PasswordForm>,
) -> Result<Response, HttpError> {
    let row = session.index_row().await?;
    let changed = state
        .security
        .change_password(
            &ctx,
            &user.user_id,
            &form.current_password,
            form.new_password,
            row.as_deref(),
        )
        .await;
    let epoch = match changed {
        Ok(epoch) => epoch,
        Err(e) => return password_refused(&state, &user, &session, e).await,
    };
    session.renew(epoch).await?;
    match row {
        Some(row) => {
            let key = session.save_now().await?;
            state.security.session_renewed(&row, &key, epoch).await?;
        }
        None => {
            let note = SignInNote::default();
            index_new_session(&state, &session, &ctx, &user.user_id, epoch, note).await?;
        }
    }
    Ok(Done::PasswordChanged.redirect())
}
