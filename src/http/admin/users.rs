//! The admin API's acts on one account, the same calls as the console's
//! (`domain::admin_console::actions`, each recording `admin_action` with the client as actor):
//! list its sessions and grants, unlock, end them all or one, mail a password reset, reset
//! its second factors, disable, enable (the search and a user's page are in `user_page.rs`).
//! `{id}` is the account id or its email; text that can be neither is a `400`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::domain::account_security::sessions::SessionView;
use crate::domain::admin_console::actions::Operator;
use crate::http::admin::AdminBearer;
use crate::http::admin::user_page;
use crate::http::api_error::{ApiError, ApiJson, ApiPath};
use crate::http::extract::ClientContext;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/api/users", get(user_page::users_get))
        .route("/admin/api/users/{id}", get(user_page::user_get))
        .route("/admin/api/users/{id}/sessions", get(sessions_get))
        .route("/admin/api/users/{id}/unlock", post(unlock_post))
        .route(
            "/admin/api/users/{id}/sessions/revoke",
            post(revoke_all_post),
        )
        .route(
            "/admin/api/users/{id}/sessions/{session}/revoke",
            post(revoke_one_post),
        )
        .route("/admin/api/users/{id}/password-reset", post(reset_post))
        .route("/admin/api/users/{id}/mfa/reset", post(mfa_reset_post))
        .route("/admin/api/users/{id}/disable", post(disable_post))
        .route("/admin/api/users/{id}/enable", post(enable_post))
}

/// A browser session or an app's grant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionBody {
    /// The opaque id to end it with (`s-…`: a browser session, `g-…`: a grant).
    id: String,
    /// `browser` or `app`.
    kind: &'static str,
    /// The app's client id (grants).
    client_id: Option<String>,
    /// Browser and system ("Firefox on Linux"); for a grant, its scope.
    device: String,
    /// The network signed in from (browser sessions).
    network: Option<String>,
    /// The country, when GeoIP is configured.
    country: Option<String>,
    /// Signed in or granted (RFC 3339).
    first_seen: String,
    /// Last used, to the minute (RFC 3339).
    last_seen: String,
    /// Why the sign-in was challenged, if it was.
    risk_reasons: Vec<String>,
}

impl From<SessionView> for SessionBody {
    fn from(v: SessionView) -> Self {
        let when = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        Self {
            kind: if v.app.is_some() { "app" } else { "browser" },
            first_seen: when(v.first_seen),
            last_seen: when(v.last_seen),
            id: v.id,
            client_id: v.app,
            device: v.device,
            network: v.network,
            country: v.country,
            risk_reasons: v.risk_reasons,
        }
    }
}

/// The account's sessions and grants.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionsResponse {
    /// Browser sessions, then grants.
    sessions: Vec<SessionBody>,
}

/// What an act did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ActResponse {
    /// Whether anything changed (unlock: a lock or block was lifted; disable, enable: the
    /// account's state changed; mfa reset: a factor was removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
    /// Browser sessions ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions_ended: Option<u64>,
    /// Grants revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    grants_revoked: Option<u64>,
    /// What ended (one session or grant), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    ended: Option<String>,
    /// The reset mail: `sent`, `mail_limit` (the address's reset-mail limit) or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mail: Option<&'static str>,
}

fn ended(s: usize, g: u64) -> ActResponse {
    ActResponse {
        sessions_ended: Some(s as u64),
        grants_revoked: Some(g),
        ..ActResponse::default()
    }
}

fn changed(c: bool) -> ActResponse {
    ActResponse {
        changed: Some(c),
        ..ActResponse::default()
    }
}

/// The password reset's options.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    /// Also end every session and grant (default false).
    #[serde(default)]
    end_sessions: bool,
}

/// `GET /admin/api/users/{id}/sessions`.
#[utoipa::path(get, path = "/admin/api/users/{id}/sessions",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The live browser sessions and grants", body = SessionsResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn sessions_get(
    State(state): State<AppState>,
    _admin: AdminBearer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionsResponse>, ApiError> {
    let list = state.admin_console.sessions(&id).await?;
    let sessions = list.into_iter().map(SessionBody::from).collect();
    Ok(Json(SessionsResponse { sessions }))
}

/// `POST /admin/api/users/{id}/unlock`: every lock and block lifted (`authd user unlock`).
#[utoipa::path(post, path = "/admin/api/users/{id}/unlock",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Unlocked; `changed`: there was a lock or block", body = ActResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn unlock_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let lifted = state.admin_console.unlock(&ctx, op, &id).await?;
    Ok(Json(changed(lifted)))
}

/// `POST /admin/api/users/{id}/sessions/revoke`: every session and grant ended.
#[utoipa::path(post, path = "/admin/api/users/{id}/sessions/revoke",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended", body = ActResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn revoke_all_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let (s, g) = state.admin_console.end_sessions(&ctx, op, &id).await?;
    Ok(Json(ended(s, g)))
}

/// `POST /admin/api/users/{id}/sessions/{session}/revoke`: one session or grant ended.
#[utoipa::path(post, path = "/admin/api/users/{id}/sessions/{session}/revoke",
    params(
        ("id" = String, Path, description = "Account id or email"),
        ("session" = String, Path, description = "The session's or grant's id, as listed"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended; `ended` says what", body = ActResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account, or no such live session or grant of it"),
    ))]
pub async fn revoke_one_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath((id, session)): ApiPath<(String, String)>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let what = state.admin_console.end_one(&ctx, op, &id, &session).await?;
    Ok(Json(ActResponse {
        ended: Some(what),
        ..ActResponse::default()
    }))
}

/// `POST /admin/api/users/{id}/password-reset`: a reset link mailed to the account.
#[utoipa::path(post, path = "/admin/api/users/{id}/password-reset",
    params(("id" = String, Path, description = "Account id or email")),
    request_body = ResetRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`mail` says whether the link went out; the counts when sessions were ended", body = ActResponse),
        (status = 400, description = "Malformed body, or not an account id or email"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn reset_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let done = state
        .admin_console
        .force_reset(&ctx, op, &id, req.end_sessions)
        .await?;
    let mut answer = match done.ended {
        Some((s, g)) => ended(s, g),
        None => ActResponse::default(),
    };
    answer.mail = Some(done.mail.code());
    Ok(Json(answer))
}

/// `POST /admin/api/users/{id}/mfa/reset`: every second factor removed (`authd user mfa
/// reset`; the owner is mailed).
#[utoipa::path(post, path = "/admin/api/users/{id}/mfa/reset",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`changed`: it had a factor", body = ActResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn mfa_reset_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let removed = state.admin_console.reset_factors(&ctx, op, &id).await?;
    Ok(Json(changed(removed)))
}

/// `POST /admin/api/users/{id}/disable` (`authd user disable`).
#[utoipa::path(post, path = "/admin/api/users/{id}/disable",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Disabled: no sign-in by any path, sessions ended, grants revoked", body = ActResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn disable_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let d = state.admin_console.disable(&ctx, op, &id).await?;
    let mut answer = ended(d.sessions_ended, d.grants_revoked);
    answer.changed = Some(d.changed);
    Ok(Json(answer))
}

/// `POST /admin/api/users/{id}/enable` (`authd user enable`).
#[utoipa::path(post, path = "/admin/api/users/{id}/enable",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Enabled; `changed`: it was disabled", body = ActResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn enable_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let c = state.admin_console.enable(&ctx, op, &id).await?;
    Ok(Json(changed(c)))
}
