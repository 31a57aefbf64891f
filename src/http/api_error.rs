//! `ApiError`: the `{"error", "message"}` JSON answer of the admin API and the risk API, mapped
//! exhaustively from the domain enums those endpoints can meet (`AdminError` from the admin
//! operations, `ConsoleError` from the acts on an account, `BearerError` from the bearer check in front of both) and the request's own
//! faults. No area behind it is rate-limited or runs on a bounded pool, so unlike the other two
//! mappers it never answers 429 or 503; a variant that needs one adds both, and
//! `Retry-After`, here.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::admin::AdminError;
use crate::domain::admin_console::ConsoleError;
use crate::domain::admin_ops::OpsError;
use crate::domain::oauth::error::BearerError;

/// A JSON request body for the admin API: any rejection (not JSON, no JSON content type, a
/// missing or mistyped field) is the API's documented `400` with its JSON answer, not axum's
/// bare `415`/`422`.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| Self(v))
            .map_err(|_| {
                ApiError::BadRequest("the body must be a JSON object with the documented fields")
            })
    }
}

/// A query string for the admin API: unknown parameters and malformed values are the API's
/// documented `400` with its JSON answer, not axum's plain-text rejection (the query types deny
/// unknown fields, so a misspelt filter is refused rather than silently ignored).
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|_| ApiError::BadRequest("unknown or malformed query parameter"))
    }
}

/// A path parameter of the admin API: one that does not parse (a version that is not a
/// number, a segment that is not UTF-8 once percent-decoded) is the API's documented `400`
/// with its JSON answer, not axum's plain-text rejection.
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|_| ApiError::BadRequest("malformed path parameter"))
    }
}

/// An admin or risk API failure, answered as JSON.
#[derive(Debug)]
pub enum ApiError {
    /// An admin operation's outcome.
    Admin(AdminError),
    /// An act on an account (shared with the admin console).
    Console(ConsoleError),
    /// The bearer check's outcome (no token, a refused one, or one without the right scope).
    Bearer(BearerError),
    /// The request body or query is malformed; the message is safe to send.
    BadRequest(&'static str),
    /// An operator's act on clients, keys or the model.
    Ops(OpsError),
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        Self::Ops(e)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        Self::Admin(e)
    }
}

impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> Self {
        Self::Console(e)
    }
}

impl From<BearerError> for ApiError {
    fn from(e: BearerError) -> Self {
        Self::Bearer(e)
    }
}

/// How an error is answered: status, `error`, `message`.
type Answer = (StatusCode, &'static str, &'static str);

/// The risk API's 403: who may ask (the admin API's own says "the admin scope").
pub(crate) const NOT_THE_AUDIENCE: &str = "only a confidential client may ask, with its own \
    client-credentials token, and only about tokens issued to it";

const SERVER_ERROR: Answer = (
    StatusCode::INTERNAL_SERVER_ERROR,
    "server_error",
    "internal error",
);

fn admin(e: &AdminError) -> Answer {
    match e {
        AdminError::InvalidInput(m) => (StatusCode::BAD_REQUEST, "invalid_request", m),
        AdminError::Unexpected(_) => SERVER_ERROR,
    }
}

fn console(e: &ConsoleError) -> Answer {
    match e {
        ConsoleError::NotFound => (
            StatusCode::NOT_FOUND,
            "not_found",
            "no such account, session, grant or event",
        ),
        ConsoleError::InvalidInput(m) => (StatusCode::BAD_REQUEST, "invalid_request", m),
        ConsoleError::Refused(m) => (StatusCode::CONFLICT, "refused", m),
        ConsoleError::Unexpected(_) => SERVER_ERROR,
    }
}

fn ops(e: &OpsError) -> Answer {
    match e {
        OpsError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
        OpsError::Invalid(m) => (StatusCode::BAD_REQUEST, "invalid_request", m),
        OpsError::Unexpected(_) => SERVER_ERROR,
    }
}

fn bearer(e: &BearerError) -> Answer {
    match e {
        BearerError::InvalidToken(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "a valid bearer token is required",
        ),
        BearerError::InsufficientScope => (
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the admin scope is required",
        ),
        BearerError::NotTheAudience => (
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            NOT_THE_AUDIENCE,
        ),
        BearerError::Unexpected(_) => SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, message) = match &self {
            Self::Admin(e) => admin(e),
            Self::Console(e) => console(e),
            Self::Bearer(e) => bearer(e),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", *m),
            Self::Ops(e) => ops(e),
        };
        if status.is_server_error() {
            tracing::error!(error = ?self, "admin api request failed");
        }
        let mut res = (status, Json(json!({ "error": error, "message": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"authd\", error=\"invalid_token\""),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tokens::rejection::TokenRejection;

    async fn answer(e: impl Into<ApiError>) -> (StatusCode, Option<String>, serde_json::Value) {
        let r = e.into().into_response();
        let status = r.status();
        let www = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, www, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn bad_input_is_400_with_its_message() {
        let (s, w, v) = answer(AdminError::InvalidInput("since must be RFC 3339")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(w.is_none());
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["message"], "since must be RFC 3339");
        let (s, _, v) = answer(ApiError::BadRequest("ip is not an IP address")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["message"], "ip is not an IP address");
    }

    #[tokio::test]
    async fn a_refused_token_is_401_with_a_bearer_challenge() {
        let (s, w, v) = answer(BearerError::InvalidToken(TokenRejection::Missing)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(
            w.as_deref(),
            Some("Bearer realm=\"authd\", error=\"invalid_token\"")
        );
        assert_eq!(v["error"], "invalid_token");
    }

    #[tokio::test]
    async fn a_token_without_the_scope_is_403() {
        let (s, w, v) = answer(BearerError::InsufficientScope).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(w.is_none());
        assert_eq!(v["error"], "insufficient_scope");
    }

    #[tokio::test]
    async fn a_risk_api_caller_not_the_audience_is_403_saying_who_may_ask() {
        let (s, w, v) = answer(BearerError::NotTheAudience).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(w.is_none());
        assert_eq!(v["error"], "insufficient_scope");
        assert_eq!(v["message"], NOT_THE_AUDIENCE);
    }

    #[tokio::test]
    async fn server_errors_are_500_and_do_not_leak_causes() {
        for e in [
            ApiError::from(AdminError::Unexpected(anyhow::anyhow!("secret detail"))),
            ApiError::from(BearerError::Unexpected(anyhow::anyhow!("secret detail"))),
        ] {
            let (s, _, v) = answer(e).await;
            assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(v["error"], "server_error");
            assert!(!v.to_string().contains("secret detail"));
        }
    }
}
