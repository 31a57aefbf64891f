//! `POST /token` (RFC 6749 §3.2).

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::oauth::grants::TokenRequest;
use crate::http::extract::ClientContext;
use crate::http::oauth::error::{OAuthResponseError, bad_request};
use crate::http::oauth::extract::client_credentials;

/// The token request's form.
#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl From<TokenForm> for TokenRequest {
    fn from(f: TokenForm) -> Self {
        Self {
            grant_type: f.grant_type,
            code: f.code,
            redirect_uri: f.redirect_uri,
            code_verifier: f.code_verifier,
            refresh_token: f.refresh_token,
            scope: f.scope,
        }
    }
}

/// `POST /token`.
pub async fn token_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthResponseError> {
    let Form(form) =
        form.map_err(|_| bad_request("the body must be a form with each parameter once"))?;
    let creds = client_credentials(
        &headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let response = state.oauth.token(&ctx, &creds, &form.into()).await?;
    let mut res = Json(response).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}
