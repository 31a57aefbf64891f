//! `GET /jwks.json`: every published key (active and recently retired), with `kid`, `use`, `alg`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::domain::oauth::OAuthService;

/// `GET /jwks.json`.
pub async fn jwks_get(State(oauth): State<OAuthService>) -> impl IntoResponse {
    (
        // Short cache: a rotation must reach relying parties well before old keys retire.
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(oauth.keys().jwks()),
    )
}
