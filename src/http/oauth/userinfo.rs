//! `GET|POST /userinfo` (OIDC Core §5.3) with a bearer access token.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::domain::oauth::OAuthService;
use crate::domain::oauth::error::BearerError;
use crate::domain::tokens::rejection::TokenRejection;
use crate::http::extract::ClientContext;
use crate::http::oauth::error::OAuthResponseError;
use crate::http::oauth::extract::bearer;

/// `GET|POST /userinfo`.
pub async fn userinfo_get(
    State(oauth): State<OAuthService>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthResponseError> {
    let token = bearer(&headers).ok_or(BearerError::InvalidToken(TokenRejection::Missing))?;
    Ok(Json(oauth.userinfo(&ctx, token).await?))
}
