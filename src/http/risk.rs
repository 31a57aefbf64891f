//! `POST /risk/evaluate`: a resource server (bearer: a client-credentials token of a
//! confidential client) asks how risky the use of an access token is, in the context it saw
//! it (`ip`, `user_agent`). Answers `{"score", "decision", "reasons"}`.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::{Json, Router, routing::post};
use serde::Deserialize;
use serde_json::Value;

use crate::app::state::AppState;
use crate::domain::context::RequestContext;
use crate::domain::oauth::error::BearerError;
use crate::domain::tokens::rejection::TokenRejection;
use crate::http::api_error::ApiError;
use crate::http::extract::ClientContext;
use crate::http::oauth::extract::bearer;

/// The request body.
#[derive(Debug, Deserialize)]
pub struct EvaluateRequest {
    token: String,
    ip: String,
    #[serde(default)]
    user_agent: String,
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/risk/evaluate", post(evaluate_post))
}

/// `POST /risk/evaluate`.
pub async fn evaluate_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
    body: Result<Json<EvaluateRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = bearer(&headers).ok_or(BearerError::InvalidToken(TokenRejection::Missing))?;
    let Json(req) = body
        .map_err(|_| ApiError::BadRequest("the body must be JSON with token, ip and user_agent"))?;
    let ip = req
        .ip
        .trim()
        .parse()
        .map_err(|_| ApiError::BadRequest("ip is not an IP address"))?;
    // A dual-stack server reports IPv4 clients as `::ffff:a.b.c.d`: the IPv4 network they are
    // (as for authd's own clients), not one IPv6 /48 shared by every IPv4 address.
    let ip = crate::http::client_ip::canonical(ip);
    if req.token.is_empty() || req.token.len() > crate::domain::tokens::jwt::MAX_TOKEN_LEN {
        return Err(ApiError::BadRequest("token is missing or too long"));
    }
    let seen = RequestContext::new(ip, &req.user_agent, ctx.request_id.clone());
    let answer = state
        .oauth
        .evaluate_risk(&ctx, caller, &req.token, &seen)
        .await?;
    Ok(Json(answer))
}
