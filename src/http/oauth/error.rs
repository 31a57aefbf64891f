//! Errors of the OAuth endpoints as RFC 6749 §5.2 / RFC 6750 §3 JSON, mapped exhaustively from
//! `DomainError`. Token responses are never cached.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::error::{DomainError, OAuthCode};

/// A `DomainError` answered the OAuth way.
#[derive(Debug)]
pub struct OAuthError(pub DomainError);

impl From<DomainError> for OAuthError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

fn parts(e: &DomainError) -> (StatusCode, &'static str, &'static str, Option<&'static str>) {
    match e {
        DomainError::OAuth {
            code: OAuthCode::InvalidClient,
            description,
        } => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            description,
            Some("Basic realm=\"authd\""),
        ),
        DomainError::OAuth { code, description } => {
            (StatusCode::BAD_REQUEST, code.as_str(), description, None)
        }
        DomainError::InvalidToken(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not valid",
            Some("Bearer realm=\"authd\", error=\"invalid_token\""),
        ),
        DomainError::InsufficientScope => (
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token does not allow this",
            Some("Bearer realm=\"authd\", error=\"insufficient_scope\""),
        ),
        DomainError::InvalidInput(msg) => (StatusCode::BAD_REQUEST, "invalid_request", msg, None),
        DomainError::ChallengeRequired => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "interaction required",
            None,
        ),
        DomainError::InvalidCredentials => (
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid credentials",
            None,
        ),
        DomainError::EmailTaken | DomainError::RegistrationClosed => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "not available",
            None,
        ),
        DomainError::NotFound => (StatusCode::NOT_FOUND, "invalid_request", "not found", None),
        DomainError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many requests",
            None,
        ),
        DomainError::Busy { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is busy",
            None,
        ),
        DomainError::Unexpected(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
            None,
        ),
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, error, description, challenge) = parts(&self.0);
        if status.is_server_error() {
            tracing::error!(error = ?self.0, "oauth request failed");
        }
        let mut res = (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(c) = challenge {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let DomainError::Busy { retry_after } | DomainError::RateLimited { retry_after } =
            &self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// `invalid_request` for a body or query that could not be read.
pub fn bad_request(description: &'static str) -> OAuthError {
    OAuthError(DomainError::OAuth {
        code: OAuthCode::InvalidRequest,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: DomainError) -> (StatusCode, Option<String>) {
        let r = OAuthError(e).into_response();
        let www = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status(), www)
    }

    #[test]
    fn statuses_and_challenges() {
        let (s, w) = status(DomainError::OAuth {
            code: OAuthCode::InvalidClient,
            description: "x",
        });
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(w.unwrap().starts_with("Basic"));
        assert_eq!(
            status(DomainError::OAuth {
                code: OAuthCode::InvalidGrant,
                description: "x"
            })
            .0,
            StatusCode::BAD_REQUEST
        );
        let (s, w) = status(DomainError::InvalidToken(
            crate::domain::tokens::rejection::TokenRejection::Expired,
        ));
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(w.unwrap().contains("invalid_token"));
        assert_eq!(
            status(DomainError::InsufficientScope).0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(DomainError::Busy { retry_after: 1 }).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(DomainError::Unexpected(anyhow::anyhow!("x"))).0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
