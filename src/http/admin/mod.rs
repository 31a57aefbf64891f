//! The admin JSON API under `/admin/api/`, authorised by a client-credentials token of a client
//! holding the `admin` scope, and its OpenAPI document (generated from the code by utoipa).

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};

use crate::app::state::AppState;
use crate::domain::oauth::error::BearerError;
use crate::domain::tokens::jwt::AccessClaims;
use crate::domain::tokens::rejection::TokenRejection;
use crate::http::api_error::ApiError;
use crate::http::extract::ClientContext;
use crate::http::oauth::extract::bearer;

/// `GET|POST /admin/api/clients`, rotate a secret, disable, enable, delete.
pub mod clients;
/// `GET /admin/api/events`, `GET /admin/api/events/export`.
pub mod events;
/// Event exports as CSV or JSON Lines (the API's and the console's).
pub mod export;
/// The key ring and its rotation; the models and a promotion.
pub mod keys_model;
/// `POST /admin/api/labels`, `POST /admin/api/model/train`.
pub mod model;
/// `GET /openapi.json`.
pub mod openapi;
/// `GET /admin/api/users?q=`, `GET /admin/api/users/{id}`: the search and a user's page.
pub mod user_page;
/// `/admin/api/users/{id}/…`: the acts on an account.
pub mod users;
/// Response bodies mirroring domain results, with their schemas.
pub mod wire;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/api/events", get(events::events_get))
        .route("/admin/api/events/export", get(events::export_get))
        .route("/admin/api/labels", axum::routing::post(model::labels_post))
        .route(
            "/admin/api/model/train",
            axum::routing::post(model::train_post),
        )
        .route(
            "/admin/api/clients",
            get(clients::clients_get).post(clients::clients_post),
        )
        .route(
            "/admin/api/clients/{id}/rotate-secret",
            post(clients::rotate_post),
        )
        .route(
            "/admin/api/clients/{id}",
            axum::routing::delete(clients::client_delete),
        )
        .route(
            "/admin/api/clients/{id}/disable",
            post(clients::disable_post),
        )
        .route("/admin/api/clients/{id}/enable", post(clients::enable_post))
        .route("/admin/api/keys", get(keys_model::keys_get))
        .route("/admin/api/keys/rotate", post(keys_model::keys_rotate_post))
        .route("/admin/api/model", get(keys_model::model_get))
        .route(
            "/admin/api/model/{version}/promote",
            post(keys_model::promote_post),
        )
        .route("/openapi.json", get(openapi::openapi_get))
        .merge(users::router())
}

/// A valid client-credentials access token carrying the `admin` scope.
#[derive(Debug)]
pub struct AdminBearer(pub AccessClaims);

impl FromRequestParts<AppState> for AdminBearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or(BearerError::InvalidToken(TokenRejection::Missing))?
            .to_owned();
        let ClientContext(ctx) = ClientContext::from_request_parts(parts, state)
            .await
            .map_err(|_| BearerError::InvalidToken(TokenRejection::Context))?;
        // Only a client acting for itself, holding `admin` now: a user's token never opens it.
        Ok(Self(state.oauth.authenticate_admin(&ctx, &token).await?))
    }
}
