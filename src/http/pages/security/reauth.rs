//! `POST /account/security/reauth`: the password re-authenticates the session for five minutes
//! (a `ReauthMark` in the session). `POST /account/security/step-up`: a session that must
//! prove a second factor before changing the sign-in methods (`require_factor`) signs in again
//! through the step-up, its strongest factor asked for, and comes back here.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};
use crate::http::pages::admin::StepUpForm;
use crate::http::pages::security::{PATH, password_refused};

/// Where the step-up form posts.
pub const STEP_UP_PATH: &str = "/account/security/step-up";

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
    let row = session.index_row().await?;
    let checked = state
        .security
        .reauth_by_password(&ctx, &user.user_id, &form.password, row.as_deref())
        .await;
    match checked {
        Ok(mark) => {
            session.mark_reauth(&mark).await?;
            // A privilege gained (changes for five minutes): a new session id, the session
            // index following it.
            let epoch = session.cycle().await?;
            if let (Some(row), Some(epoch)) = (row, epoch) {
                let key = session.save_now().await?;
                state.security.session_renewed(&row, &key, epoch).await?;
            }
            Ok(Redirect::to(PATH).into_response())
        }
        Err(e) => password_refused(&state, &user, &session, e).await,
    }
}

/// `POST /account/security/step-up` (the console's step-up form: only the CSRF token): this
/// session's next sign-in asks for the account's
/// second factor (as a client's `acr_values` does); sent to sign in again, back here after,
/// its `amr` then proving the factor.
pub async fn step_up_post(
    _user: CurrentUser,
    CsrfForm { session, .. }: CsrfForm<StepUpForm>,
) -> Result<Response, HttpError> {
    session.set_force_step_up().await?;
    let to = format!("/login?reauth=1&next={}", urlencode(PATH));
    Ok(Redirect::to(&to).into_response())
}
