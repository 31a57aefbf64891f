//! Errors of the OAuth endpoints as RFC 6749 §5.2 / RFC 6750 §3 JSON: `OAuthResponseError`,
//! mapped exhaustively from the two OAuth domain enums its endpoints can meet (`OAuthError` from
//! the token, introspection and revocation endpoints; `BearerError` from userinfo). Token
//! responses are never cached.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::oauth::error::{BearerError, OAuthCode, OAuthError};
use crate::domain::tokens::rejection::TokenRejection;
use crate::http::api_error::NOT_THE_AUDIENCE;

/// An OAuth endpoint's failure, answered the OAuth way.
#[derive(Debug)]
pub enum OAuthResponseError {
    /// A protocol endpoint's outcome (token, introspection, revocation).
    Protocol(OAuthError),
    /// A bearer check's outcome (userinfo).
    Bearer(BearerError),
}

impl From<OAuthError> for OAuthResponseError {
    fn from(e: OAuthError) -> Self {
        Self::Protocol(e)
    }
}

impl From<BearerError> for OAuthResponseError {
    fn from(e: BearerError) -> Self {
        Self::Bearer(e)
    }
}

/// How an error is answered: status, `error`, `error_description`, the `WWW-Authenticate`
/// challenge and `Retry-After` seconds.
struct Answer {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
    challenge: Option<&'static str>,
    retry_after: Option<u64>,
}

impl Answer {
    fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Self {
            status,
            error,
            description,
            challenge: None,
            retry_after: None,
        }
    }

    fn challenge(self, challenge: &'static str) -> Self {
        Self {
            challenge: Some(challenge),
            ..self
        }
    }
}

fn server_error() -> Answer {
    Answer::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server could not complete the request",
    )
}

fn protocol(e: &OAuthError) -> Answer {
    match e {
        OAuthError::Protocol {
            code: OAuthCode::InvalidClient,
            description,
        } => Answer::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
            .challenge("Basic realm=\"authd\""),
        OAuthError::Protocol { code, description } => {
            Answer::new(StatusCode::BAD_REQUEST, code.as_str(), description)
        }
        OAuthError::RateLimited { retry_after } => Answer {
            retry_after: Some(*retry_after),
            ..Answer::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "too many requests",
            )
        },
        OAuthError::Unexpected(_) => server_error(),
    }
}

fn bearer(e: &BearerError) -> Answer {
    match e {
        // RFC 6750 §3.1: a request with no authentication at all gets the bare challenge.
        BearerError::InvalidToken(TokenRejection::Missing) => Answer::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "no access token was sent",
        )
        .challenge("Bearer realm=\"authd\""),
        BearerError::InvalidToken(_) => Answer::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not valid",
        )
        .challenge("Bearer realm=\"authd\", error=\"invalid_token\""),
        BearerError::InsufficientScope => Answer::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token does not allow this",
        )
        .challenge("Bearer realm=\"authd\", error=\"insufficient_scope\""),
        BearerError::NotTheAudience => Answer::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            NOT_THE_AUDIENCE,
        )
        .challenge("Bearer realm=\"authd\", error=\"insufficient_scope\""),
        BearerError::Unexpected(_) => server_error(),
    }
}

impl IntoResponse for OAuthResponseError {
    fn into_response(self) -> Response {
        let a = match &self {
            Self::Protocol(e) => protocol(e),
            Self::Bearer(e) => bearer(e),
        };
        if a.status.is_server_error() {
            tracing::error!(error = ?self, "oauth request failed");
        }
        let mut res = (
            a.status,
            Json(json!({ "error": a.error, "error_description": a.description })),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(c) = a.challenge {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(secs) = a.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// `invalid_request` for a body or query that could not be read.
pub fn bad_request(description: &'static str) -> OAuthResponseError {
    OAuthError::protocol(OAuthCode::InvalidRequest, description).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tokens::rejection::TokenRejection;

    fn status(e: impl Into<OAuthResponseError>) -> (StatusCode, Option<String>) {
        let r = e.into().into_response();
        let www = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status(), www)
    }

    #[test]
    fn statuses_and_challenges() {
        let (s, w) = status(OAuthError::Protocol {
            code: OAuthCode::InvalidClient,
            description: "x",
        });
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(w.unwrap().starts_with("Basic"));
        assert_eq!(
            status(OAuthError::Protocol {
                code: OAuthCode::InvalidGrant,
                description: "x"
            })
            .0,
            StatusCode::BAD_REQUEST
        );
        let (s, w) = status(BearerError::InvalidToken(TokenRejection::Expired));
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(w.unwrap().contains("invalid_token"));
        let (s, w) = status(BearerError::InsufficientScope);
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(w.unwrap().contains("insufficient_scope"));
        assert_eq!(
            status(OAuthError::RateLimited { retry_after: 1 }).0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            status(OAuthError::Unexpected(anyhow::anyhow!("x"))).0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(BearerError::Unexpected(anyhow::anyhow!("x"))).0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn rate_limited_carries_retry_after_and_the_rfc_code() {
        let r =
            OAuthResponseError::from(OAuthError::RateLimited { retry_after: 7 }).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        let r = OAuthResponseError::from(BearerError::InsufficientScope).into_response();
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn bodies_are_rfc_6749_json_without_causes() {
        let body = |e: OAuthResponseError| async move {
            let r = e.into_response();
            let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&b).unwrap()
        };
        let v = body(bad_request("token is required")).await;
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["error_description"], "token is required");
        let v = body(OAuthError::Unexpected(anyhow::anyhow!("secret detail")).into()).await;
        assert_eq!(v["error"], "server_error");
        assert!(!v.to_string().contains("secret detail"));
    }
}
