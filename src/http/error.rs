//! The pages' error (`HttpError`), its mapping to responses — exhaustive per domain enum, in one
//! place — and the generic error page it renders. Clients see generic text; a 5xx's cause chain
//! is logged once, never sent. Pages import this module; it imports no page. The JSON APIs have
//! their own: `http/api_error.rs` (admin, risk) and `http/oauth/error.rs` (RFC 6749).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::telemetry::LogThrottle;
use crate::domain::account_security::error::SecurityError;
use crate::domain::accounts::error::AccountError;
use crate::domain::error::Unexpected;
use crate::domain::signin::error::SignInError;

/// The generic error page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    /// Numeric status.
    pub status: u16,
    /// A heading in plain words (not the status's reason phrase).
    pub title: &'static str,
    /// A generic, safe message.
    pub message: &'static str,
}
crate::page!(ErrorPage, "pages/error.html", [status, title, message]);

impl ErrorPage {
    /// The page for `status` with `message`.
    pub fn new(status: StatusCode, message: &'static str) -> Self {
        Self {
            status: status.as_u16(),
            title: heading(status),
            message,
        }
    }
}

/// What a person reads as the error page's heading (the number stays, smaller, for support).
fn heading(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "Something in that request was not right",
        401 | 403 => "You can't do that here",
        404 => "There is no page at this address",
        405 => "This page can't be used that way",
        408 => "That took too long",
        409 => "That was not done",
        413 => "That was more than we accept",
        429 => "Too many attempts",
        503 => "We are busy right now",
        500..=599 => "Something went wrong on our side",
        _ => "Something went wrong",
    }
}

/// Everything a page handler or extractor can answer besides success: the domain errors of the
/// areas pages call (sign-in, accounts; every other call they make fails only `Unexpected`),
/// and the request's own faults.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A sign-in or a gated form's outcome.
    #[error(transparent)]
    SignIn(#[from] SignInError),
    /// A registration, password change or reset outcome.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A change on the account security page.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// An infrastructure failure (a lookup, an event write, the session store).
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
    /// The request body or query could not be read.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The body is larger than allowed.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is not a form.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The CSRF token is missing or wrong.
    #[error("csrf token mismatch")]
    Csrf,
    /// The page needs a signed-in user; `next` is where to come back to.
    #[error("sign-in required")]
    SignInRequired {
        /// Local path to return to after sign-in.
        next: String,
    },
    /// No such page.
    #[error("not found")]
    NotFound,
    /// The act is refused as it stands (an admin's own account or session on the console);
    /// the message says why.
    #[error("refused: {0}")]
    Conflict(&'static str),
}

/// How an error is answered: status, the page's generic message, and `Retry-After` seconds.
type Answer = (StatusCode, &'static str, Option<u64>);

const SERVER_ERROR: Answer = (
    StatusCode::INTERNAL_SERVER_ERROR,
    "Something went wrong on our side. Please try again.",
    None,
);

fn too_many(retry_after: u64) -> Answer {
    (
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts. Please wait a moment and try again.",
        Some(retry_after),
    )
}

fn busy(retry_after: u64) -> Answer {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The server is busy. Please try again in a moment.",
        Some(retry_after),
    )
}

fn sign_in(e: &SignInError) -> Answer {
    match e {
        SignInError::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "Incorrect email or password.",
            None,
        ),
        SignInError::ChallengeRequired { .. } | SignInError::StepUpRequired(_) => (
            StatusCode::UNAUTHORIZED,
            "Please complete the extra check.",
            None,
        ),
        SignInError::RateLimited { retry_after } => too_many(*retry_after),
        SignInError::Busy { retry_after } => busy(*retry_after),
        SignInError::Unexpected(_) => SERVER_ERROR,
    }
}

fn account(e: &AccountError) -> Answer {
    match e {
        AccountError::InvalidInput(msg) => (StatusCode::BAD_REQUEST, msg, None),
        AccountError::EmailTaken => (
            StatusCode::CONFLICT,
            "That request could not be completed.",
            None,
        ),
        AccountError::RegistrationClosed => (
            StatusCode::FORBIDDEN,
            "Registration is closed on this server.",
            None,
        ),
        AccountError::RateLimited { retry_after } => too_many(*retry_after),
        AccountError::Busy { retry_after } => busy(*retry_after),
        AccountError::Unexpected(_) => SERVER_ERROR,
    }
}

/// The account security page's outcomes (the page itself shows them beside its forms; this
/// answer is for a handler that does not).
pub(crate) fn security(e: &SecurityError) -> Answer {
    match e {
        SecurityError::ReauthRequired => (
            StatusCode::FORBIDDEN,
            "Confirm your password first: changes need a sign-in within the last five minutes.",
            None,
        ),
        SecurityError::FactorRequired => (
            StatusCode::FORBIDDEN,
            "Changing how you sign in needs your second factor too: choose \"Verify with your \
             second factor\" first.",
            None,
        ),
        SecurityError::WrongPassword => (StatusCode::UNAUTHORIZED, "Incorrect password.", None),
        // The page's handlers end the session and send the browser to sign in first.
        SecurityError::SessionEnded => (
            StatusCode::UNAUTHORIZED,
            "Too many wrong passwords: signed out.",
            None,
        ),
        SecurityError::InvalidInput(msg) => (StatusCode::BAD_REQUEST, msg, None),
        SecurityError::UnknownSession => (
            StatusCode::NOT_FOUND,
            "That session has already ended.",
            None,
        ),
        SecurityError::RateLimited { retry_after } => too_many(*retry_after),
        SecurityError::Busy { retry_after } => busy(*retry_after),
        SecurityError::Unexpected(_) => SERVER_ERROR,
    }
}

impl HttpError {
    fn answer(&self) -> Answer {
        match self {
            Self::SignIn(e) => sign_in(e),
            Self::Account(e) => account(e),
            Self::Security(e) => security(e),
            Self::Unexpected(_) => SERVER_ERROR,
            Self::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg, None),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request is too large.",
                None,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The request must be a form submission.",
                None,
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired. Please go back, reload the page and try again.",
                None,
            ),
            Self::SignInRequired { .. } => (StatusCode::SEE_OTHER, "Please sign in.", None),
            Self::NotFound => (StatusCode::NOT_FOUND, "This page does not exist.", None),
            Self::Conflict(msg) => (StatusCode::CONFLICT, msg, None),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if let Self::SignInRequired { next } = &self {
            let target = format!("/login?next={}", urlencode(next));
            return Redirect::to(&target).into_response();
        }
        let (status, message, retry_after) = self.answer();
        if !noted_as_shed(status, retry_after) && status.is_server_error() {
            // The one place a failure is logged, with its cause chain.
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = (status, ErrorPage::new(status, message)).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Whether an answer is a request shed because every password hasher is busy (`503` +
/// `Retry-After`, the mappers' `Busy`): load, not a fault, so it is noted here (a warning at
/// most once every ten seconds, with how many it stands for) instead of logged as a failure.
pub(crate) fn noted_as_shed(status: StatusCode, retry_after: Option<u64>) -> bool {
    let shed = status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some();
    if shed {
        note_shed();
    }
    shed
}

fn note_shed() {
    static SHED: LogThrottle = LogThrottle::new();
    // Seconds on the process's monotonic clock (a log's pace, not a time anything is decided
    // by), from 1: 0 is the throttle's "never".
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let elapsed = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs();
    let now = i64::try_from(elapsed).unwrap_or(i64::MAX - 1) + 1;
    if let Some(shed) = SHED.occurred(now, 10) {
        tracing::warn!(
            shed,
            "requests shed: every password hasher busy (503 + Retry-After)"
        );
    }
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_read_as_words_not_reason_phrases() {
        use askama::Template;
        for (status, words) in [
            (
                StatusCode::BAD_REQUEST,
                "Something in that request was not right",
            ),
            (StatusCode::NOT_FOUND, "There is no page at this address"),
            (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
        ] {
            let brand = crate::render::Branding::default();
            let html = ErrorPage::new(status, "Try again.")
                .render_with_values(&brand)
                .unwrap();
            assert!(html.contains(words), "{html}");
            let reason = status.canonical_reason().unwrap();
            assert!(!html.contains(&format!("· {reason}")), "{html}");
        }
    }

    fn status(e: HttpError) -> StatusCode {
        e.into_response().status()
    }

    fn unexpected(msg: &'static str) -> Unexpected {
        Unexpected(anyhow::anyhow!(msg))
    }

    #[test]
    fn each_error_has_its_status() {
        assert_eq!(
            status(AccountError::InvalidInput("x").into()),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(SignInError::InvalidCredentials.into()),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(
                SignInError::ChallengeRequired {
                    work: crate::domain::captcha::PowLevel::FIRST
                }
                .into()
            ),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(AccountError::EmailTaken.into()),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(AccountError::RegistrationClosed.into()),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(unexpected("db down").into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(SignInError::Unexpected(anyhow::anyhow!("db down")).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(AccountError::Unexpected(anyhow::anyhow!("db down")).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status(HttpError::BadRequest("x")), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(HttpError::PayloadTooLarge),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(HttpError::UnsupportedMediaType),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(status(HttpError::Csrf), StatusCode::FORBIDDEN);
        assert_eq!(status(HttpError::NotFound), StatusCode::NOT_FOUND);
    }

    #[test]
    fn rate_limited_is_429_with_retry_after() {
        let r = HttpError::from(SignInError::RateLimited { retry_after: 7 }).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        let r = HttpError::from(AccountError::RateLimited { retry_after: 9 }).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "9");
    }

    #[test]
    fn busy_carries_retry_after() {
        let r = HttpError::from(SignInError::Busy { retry_after: 1 }).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = HttpError::from(AccountError::Busy { retry_after: 2 }).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn other_errors_carry_no_retry_after() {
        for e in [
            HttpError::from(SignInError::InvalidCredentials),
            HttpError::from(AccountError::EmailTaken),
            HttpError::from(unexpected("x")),
            HttpError::Csrf,
        ] {
            assert!(
                e.into_response()
                    .headers()
                    .get(header::RETRY_AFTER)
                    .is_none()
            );
        }
    }

    #[test]
    fn sign_in_required_redirects_locally() {
        let r = HttpError::SignInRequired {
            next: "/account?a=b".into(),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "/login?next=%2Faccount%3Fa%3Db"
        );
    }

    #[tokio::test]
    async fn server_errors_do_not_leak_causes() {
        for e in [
            HttpError::from(unexpected("secret detail")),
            HttpError::from(SignInError::Unexpected(anyhow::anyhow!("secret detail"))),
            HttpError::from(AccountError::Unexpected(anyhow::anyhow!("secret detail"))),
        ] {
            let r = e.into_response();
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&body);
            assert!(!body.contains("secret detail"));
        }
    }
}
