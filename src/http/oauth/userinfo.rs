//! `GET|POST /userinfo` (OIDC Core §5.3) with a bearer access token.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::domain::error::DomainError;
use crate::domain::oauth::OAuthService;
use crate::domain::tokens::rejection::TokenRejection;
use crate::http::extract::ClientContext;
use crate::http::oauth::error::OAuthError;
use crate::http::oauth::extract::bearer;

/// `GET|POST /userinfo`.
pub async fn userinfo_get(
    State(oauth): State<OAuthService>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let token = bearer(&headers).ok_or(DomainError::InvalidToken(TokenRejection::Missing))?;
    Ok(Json(oauth.userinfo(&ctx, token).await?))
}
