//! The admin JSON API under `/admin/api/`, authorised by a client-credentials token of a client
//! holding the `admin` scope, and its OpenAPI document (generated from the code by utoipa).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::state::AppState;
use crate::domain::error::DomainError;
use crate::domain::tokens::jwt::AccessClaims;
use crate::domain::tokens::rejection::TokenRejection;
use crate::http::extract::ClientContext;
use crate::http::oauth::extract::bearer;

/// `GET /admin/api/events`.
pub mod events;
/// `POST /admin/api/labels`, `POST /admin/api/model/train`.
pub mod model;
/// `GET /openapi.json`.
pub mod openapi;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/api/events", get(events::events_get))
        .route("/admin/api/labels", axum::routing::post(model::labels_post))
        .route(
            "/admin/api/model/train",
            axum::routing::post(model::train_post),
        )
        .route("/openapi.json", get(openapi::openapi_get))
}

/// A `DomainError` answered as `{"error", "message"}` JSON.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, message) = match &self.0 {
            DomainError::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "a valid bearer token is required",
            ),
            DomainError::InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the admin scope is required",
            ),
            DomainError::InvalidInput(m) => (StatusCode::BAD_REQUEST, "invalid_request", *m),
            DomainError::OAuth { description, .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request", *description)
            }
            DomainError::NotFound => (StatusCode::NOT_FOUND, "not_found", "not found"),
            DomainError::ChallengeRequired => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "interaction required",
            ),
            DomainError::InvalidCredentials
            | DomainError::EmailTaken
            | DomainError::RegistrationClosed => {
                (StatusCode::BAD_REQUEST, "invalid_request", "not available")
            }
            DomainError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests",
            ),
            DomainError::Busy { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "busy", "try again shortly")
            }
            DomainError::Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            ),
        };
        if status.is_server_error() {
            tracing::error!(error = ?self.0, "admin api request failed");
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

/// A valid client-credentials access token carrying the `admin` scope.
#[derive(Debug)]
pub struct AdminBearer(pub AccessClaims);

impl FromRequestParts<AppState> for AdminBearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or(DomainError::InvalidToken(TokenRejection::Missing))?
            .to_owned();
        let ClientContext(ctx) = ClientContext::from_request_parts(parts, state)
            .await
            .map_err(|_| DomainError::InvalidToken(TokenRejection::Context))?;
        let claims = state.oauth.authenticate_bearer(&ctx, &token).await?;
        // Only a client acting for itself: a user's token never opens the admin API.
        if !claims.has_scope("admin") || claims.sub != claims.client_id {
            return Err(DomainError::InsufficientScope.into());
        }
        Ok(Self(claims))
    }
}
