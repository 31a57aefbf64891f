//! The HTTP layer's one error enum, its mapping to responses — exhaustive, in one place — and
//! the generic error page it renders. Clients see generic text; a 5xx's cause chain is logged
//! once, never sent. Pages import this module; it imports no page.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::domain::error::DomainError;

/// The generic error page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    /// Numeric status.
    pub status: u16,
    /// Status reason phrase.
    pub title: &'static str,
    /// A generic, safe message.
    pub message: &'static str,
}

impl ErrorPage {
    /// The page for `status` with `message`.
    pub fn new(status: StatusCode, message: &'static str) -> Self {
        Self {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        }
    }
}

/// Everything a handler or extractor can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A domain outcome.
    #[error(transparent)]
    Domain(#[from] DomainError),
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
}

impl HttpError {
    fn status_and_message(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Domain(d) => match d {
                DomainError::InvalidInput(msg) => (StatusCode::BAD_REQUEST, msg),
                DomainError::ChallengeRequired => {
                    (StatusCode::UNAUTHORIZED, "Please complete the extra check.")
                }
                DomainError::InvalidCredentials => {
                    (StatusCode::UNAUTHORIZED, "Incorrect email or password.")
                }
                DomainError::EmailTaken => {
                    (StatusCode::CONFLICT, "That request could not be completed.")
                }
                DomainError::RegistrationClosed => (
                    StatusCode::FORBIDDEN,
                    "Registration is closed on this server.",
                ),
                DomainError::Busy { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is busy. Please try again in a moment.",
                ),
                DomainError::NotFound => (StatusCode::NOT_FOUND, "Not found."),
                DomainError::RateLimited { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts. Please wait a moment and try again.",
                ),
                DomainError::OAuth { .. } => (
                    StatusCode::BAD_REQUEST,
                    "This sign-in request is not valid.",
                ),
                DomainError::InvalidToken(_) => {
                    (StatusCode::UNAUTHORIZED, "A valid token is required.")
                }
                DomainError::InsufficientScope => {
                    (StatusCode::FORBIDDEN, "This token does not allow that.")
                }
                DomainError::Unexpected(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Please try again.",
                ),
            },
            Self::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large."),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The request must be a form submission.",
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired. Please go back, reload the page and try again.",
            ),
            Self::SignInRequired { .. } => (StatusCode::SEE_OTHER, "Please sign in."),
            Self::NotFound => (StatusCode::NOT_FOUND, "This page does not exist."),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if let Self::SignInRequired { next } = &self {
            let target = format!("/login?next={}", urlencode(next));
            return Redirect::to(&target).into_response();
        }
        let (status, message) = self.status_and_message();
        if status.is_server_error() {
            // The one place a failure is logged, with its cause chain.
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = (status, ErrorPage::new(status, message)).into_response();
        if let Self::Domain(
            DomainError::Busy { retry_after } | DomainError::RateLimited { retry_after },
        ) = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: HttpError) -> StatusCode {
        e.into_response().status()
    }

    #[test]
    fn each_error_has_its_status() {
        assert_eq!(
            status(DomainError::InvalidInput("x").into()),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(DomainError::InvalidCredentials.into()),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(DomainError::EmailTaken.into()), StatusCode::CONFLICT);
        assert_eq!(
            status(DomainError::RegistrationClosed.into()),
            StatusCode::FORBIDDEN
        );
        assert_eq!(status(DomainError::NotFound.into()), StatusCode::NOT_FOUND);
        assert_eq!(
            status(DomainError::Unexpected(anyhow::anyhow!("db down")).into()),
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
        let r = HttpError::from(DomainError::RateLimited { retry_after: 7 }).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn busy_carries_retry_after() {
        let r = HttpError::from(DomainError::Busy { retry_after: 1 }).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
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
        let r = HttpError::from(DomainError::Unexpected(anyhow::anyhow!("secret detail")))
            .into_response();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("secret detail"));
    }
}
