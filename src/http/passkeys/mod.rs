//! The passkey JSON endpoints the pages' own script (`/static/passkey.js`) calls: enrolment
//! on the security page (`enrol.rs`), the passwordless sign-in from `/login` (`signin.rs`) and
//! the step-up's passkey rung after a right password (`step_up.rs`).
//! Each is CSRF-protected by the `x-csrf-token` header (the page's token: the session's once
//! signed in, the CSRF cookie's before); the ceremony state stays in the server-side session,
//! single use. Answers are JSON `{"error", "message"}` (`PasskeyApiError`), mapped
//! exhaustively.

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::Duration;

use crate::app::state::AppState;
use crate::domain::accounts::model::Account;
use crate::domain::error::Unexpected;
use crate::domain::passkeys::error::PasskeyError;
use crate::domain::signin::error::SignInError;
use crate::http::error::HttpError;
use crate::http::extract::{CurrentUser, WebSession};

/// Adding and removing passkeys on the security page.
pub mod enrol;
/// Signing in with a passkey.
pub mod signin;
/// A passkey as the step-up's second factor.
pub mod step_up;

/// The header carrying the page's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How recent the password (or factor) must be to change the account's sign-in methods.
pub const REAUTH_WITHIN: Duration = Duration::minutes(5);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(enrol::router())
        .merge(signin::router())
        .merge(step_up::router())
}

/// Why a passkey request failed, answered as JSON.
#[derive(Debug)]
pub enum PasskeyApiError {
    /// The passkey area's outcome.
    Passkey(PasskeyError),
    /// A passwordless sign-in's outcome.
    SignIn(SignInError),
    /// The request's own faults and the session (CSRF, no session, the body).
    Http(HttpError),
    /// The account's sign-in methods change only after a recent re-authentication.
    ReauthRequired,
    /// ...and, on an account its second factor guards, once this session proved that factor.
    FactorRequired,
    /// No step-up is pending in this session (none began, it expired, or too many failures
    /// dropped it): the sign-in starts again.
    SignInAgain,
}

impl From<PasskeyError> for PasskeyApiError {
    fn from(e: PasskeyError) -> Self {
        Self::Passkey(e)
    }
}

impl From<SignInError> for PasskeyApiError {
    fn from(e: SignInError) -> Self {
        Self::SignIn(e)
    }
}

impl From<HttpError> for PasskeyApiError {
    fn from(e: HttpError) -> Self {
        Self::Http(e)
    }
}

impl From<Unexpected> for PasskeyApiError {
    fn from(e: Unexpected) -> Self {
        Self::Http(HttpError::Unexpected(e))
    }
}

/// Status, `error`, `message`, `Retry-After`.
type Answer = (StatusCode, &'static str, &'static str, Option<u64>);

const SERVER_ERROR: Answer = (
    StatusCode::INTERNAL_SERVER_ERROR,
    "server_error",
    "Something went wrong on our side. Please try again.",
    None,
);

fn passkey(e: &PasskeyError) -> Answer {
    let bad = |error: &'static str, message: &'static str| {
        (StatusCode::BAD_REQUEST, error, message, None)
    };
    match e {
        PasskeyError::Unavailable => (
            StatusCode::NOT_FOUND,
            "unavailable",
            "Passkeys are not available on this server.",
            None,
        ),
        PasskeyError::NoCeremony => bad("no_ceremony", "Start again: the request expired."),
        PasskeyError::Rejected => bad("rejected", "The passkey was not accepted."),
        PasskeyError::AlreadyRegistered => (
            StatusCode::CONFLICT,
            "already_registered",
            "This passkey is registered already.",
            None,
        ),
        PasskeyError::NotFound => (StatusCode::NOT_FOUND, "not_found", "No such passkey.", None),
        PasskeyError::Unexpected(_) => SERVER_ERROR,
    }
}

fn sign_in(e: &SignInError) -> Answer {
    match e {
        SignInError::InvalidCredentials
        | SignInError::ChallengeRequired { .. }
        | SignInError::StepUpRequired(_) => (
            StatusCode::UNAUTHORIZED,
            "rejected",
            "The passkey was not accepted.",
            None,
        ),
        SignInError::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many attempts. Please wait a moment and try again.",
            Some(*retry_after),
        ),
        SignInError::Busy { retry_after } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Too busy right now. Please try again.",
            Some(*retry_after),
        ),
        SignInError::Unexpected(_) => SERVER_ERROR,
    }
}

fn http(e: &HttpError) -> Answer {
    let bad = |m: &'static str| (StatusCode::BAD_REQUEST, "invalid_request", m, None);
    match e {
        HttpError::Csrf => (
            StatusCode::FORBIDDEN,
            "csrf",
            "Reload the page and try again.",
            None,
        ),
        HttpError::SignInRequired { .. } => (
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "Sign in first.",
            None,
        ),
        HttpError::BadRequest(m) => bad(m),
        HttpError::PayloadTooLarge => bad("The request is too large."),
        HttpError::UnsupportedMediaType => bad("Send JSON."),
        HttpError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found.", None),
        HttpError::Conflict(m) => (StatusCode::CONFLICT, "refused", m, None),
        HttpError::SignIn(e) => sign_in(e),
        HttpError::Security(e) => {
            let (status, message, retry_after) = crate::http::error::security(e);
            (status, "refused", message, retry_after)
        }
        HttpError::Account(_) | HttpError::Unexpected(_) => SERVER_ERROR,
    }
}

impl IntoResponse for PasskeyApiError {
    fn into_response(self) -> Response {
        let (status, error, message, retry_after) = match &self {
            Self::Passkey(e) => passkey(e),
            Self::SignIn(e) => sign_in(e),
            Self::Http(e) => http(e),
            Self::ReauthRequired => (
                StatusCode::FORBIDDEN,
                "reauth_required",
                "Confirm it is you first: enter your password again.",
                None,
            ),
            Self::FactorRequired => (
                StatusCode::FORBIDDEN,
                "factor_required",
                "Changing how you sign in needs your second factor too: choose \"Verify with \
                 your second factor\" first.",
                None,
            ),
            Self::SignInAgain => (
                StatusCode::UNAUTHORIZED,
                "sign_in_again",
                "Please sign in again.",
                None,
            ),
        };
        if !crate::http::error::noted_as_shed(status, retry_after) && status.is_server_error() {
            tracing::error!(error = ?self, "passkey request failed");
        }
        let mut res = (status, Json(json!({ "error": error, "message": message }))).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// Checks the `x-csrf-token` header against the page's token.
pub(crate) async fn check_csrf(
    state: &AppState,
    session: &WebSession,
    headers: &HeaderMap,
) -> Result<(), PasskeyApiError> {
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if session.csrf_matches(state, sent).await? {
        Ok(())
    } else {
        Err(HttpError::Csrf.into())
    }
}

/// The re-authentication gate of sign-in method changes: the password (or a factor) entered
/// within `REAUTH_WITHIN`, and on an account a factor guards, a factor proved in this session
/// (`security::factor_check`). The one place to switch to the security page's own re-auth.
pub(crate) async fn check_reauth(
    state: &AppState,
    user: &CurrentUser,
    account: &Account,
) -> Result<(), PasskeyApiError> {
    if state.clock.now() - user.auth_at > REAUTH_WITHIN {
        // The security page's re-authentication (password or a factor, within 5 minutes).
        let mark = user.session.reauth_mark().await?;
        if state
            .security
            .check_reauth(&user.user_id, mark.as_deref())
            .is_err()
        {
            return Err(PasskeyApiError::ReauthRequired);
        }
    }
    match crate::http::pages::security::factor_check(state, user, account).await? {
        Ok(()) => Ok(()),
        Err(_) => Err(PasskeyApiError::FactorRequired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: PasskeyApiError) -> StatusCode {
        e.into_response().status()
    }

    #[test]
    fn every_refusal_is_a_4xx_with_json() {
        assert_eq!(status(HttpError::Csrf.into()), StatusCode::FORBIDDEN);
        assert_eq!(
            status(PasskeyApiError::ReauthRequired),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(PasskeyApiError::SignInAgain),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(PasskeyError::Rejected.into()),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(PasskeyError::NoCeremony.into()),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(PasskeyError::AlreadyRegistered.into()),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(PasskeyError::Unavailable.into()),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(SignInError::InvalidCredentials.into()),
            StatusCode::UNAUTHORIZED
        );
        let limited = PasskeyApiError::from(SignInError::RateLimited { retry_after: 7 });
        let res = limited.into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "7");
    }
}
