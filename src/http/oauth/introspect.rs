//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009), both client-authenticated.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::oauth::OAuthService;
use crate::http::extract::ClientContext;
use crate::http::oauth::error::{OAuthResponseError, bad_request};
use crate::http::oauth::extract::client_credentials;

/// The form of both endpoints (`token_type_hint` is accepted and not needed: authd tells the
/// two token kinds apart by their shape).
#[derive(Deserialize)]
pub struct TokenForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn read(
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<(crate::domain::clients::ClientCredentials, String), OAuthResponseError> {
    let Form(f) =
        form.map_err(|_| bad_request("the body must be a form with each parameter once"))?;
    let creds = client_credentials(headers, f.client_id.as_deref(), f.client_secret.as_deref())?;
    let token = f.token.ok_or_else(|| bad_request("token is required"))?;
    Ok((creds, token))
}

/// `POST /introspect`.
pub async fn introspect_post(
    State(oauth): State<OAuthService>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Json<Value>, OAuthResponseError> {
    let (creds, token) = read(&headers, form)?;
    Ok(Json(oauth.introspect(&ctx, &creds, &token).await?))
}

/// `POST /revoke`: 200 whether or not the token existed.
pub async fn revoke_post(
    State(oauth): State<OAuthService>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<StatusCode, OAuthResponseError> {
    let (creds, token) = read(&headers, form)?;
    oauth.revoke(&ctx, &creds, &token).await?;
    Ok(StatusCode::OK)
}
