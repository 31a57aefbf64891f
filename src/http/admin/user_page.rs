//! The admin API's user search and a user's page, the console's `GET /admin/users?q=` and
//! `GET /admin/users/{id}` as JSON: the same domain calls (`AdminConsole::search`,
//! `AdminConsole::user`), so the same matching, limits and reads. Read-only.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::events::AuthEvent;
use crate::http::admin::AdminBearer;
use crate::http::admin::users::SessionBody;
use crate::http::api_error::{ApiError, ApiPath, ApiQuery};

/// The search's query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserSearchQuery {
    /// Text the email contains (case-insensitive; `%` and `_` are taken literally; at most
    /// 254 characters). Empty or absent: no account is listed.
    q: Option<String>,
}

/// An account found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FoundUser {
    /// The account id.
    id: String,
    /// Its email.
    email: String,
}

/// The accounts found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserSearchResponse {
    /// By email, at most 50.
    users: Vec<FoundUser>,
}

/// One account's state, sessions and grants, and newest events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserResponse {
    /// The account id.
    id: String,
    /// Its email.
    email: String,
    /// Whether it has the admin role.
    admin: bool,
    /// Whether the address is verified.
    verified: bool,
    /// Whether it is disabled (no sign-in by any path).
    disabled: bool,
    /// Since when it is disabled (RFC 3339).
    disabled_at: Option<String>,
    /// Whether the account-wide lock is on now.
    locked: bool,
    /// The lock's end (RFC 3339), while it is on.
    locked_until: Option<String>,
    /// How many of its sources (networks, devices) are blocked now.
    blocked_sources: usize,
    /// Its second factors: `passkey`, `totp`, `email`.
    factors: Vec<&'static str>,
    /// Its live browser sessions, then its app grants.
    sessions: Vec<SessionBody>,
    /// Its 50 newest events, newest first, with their risk where scored.
    events: Vec<AuthEvent>,
}

fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

/// `GET /admin/api/users?q=`.
#[utoipa::path(get, path = "/admin/api/users",
    params(UserSearchQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts whose email contains the text, by email, at most 50", body = UserSearchResponse),
        (status = 400, description = "An unknown parameter, or a text no email can contain (too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    ))]
pub async fn users_get(
    State(state): State<AppState>,
    _admin: AdminBearer,
    ApiQuery(query): ApiQuery<UserSearchQuery>,
) -> Result<Json<UserSearchResponse>, ApiError> {
    let found = state
        .admin_console
        .search(query.q.as_deref().unwrap_or_default())
        .await?;
    let users = found
        .into_iter()
        .map(|a| FoundUser {
            id: a.id,
            email: a.email,
        })
        .collect();
    Ok(Json(UserSearchResponse { users }))
}

/// `GET /admin/api/users/{id}`.
#[utoipa::path(get, path = "/admin/api/users/{id}",
    params(("id" = String, Path, description = "Account id or email")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's state, sessions and grants, newest events", body = UserResponse),
        (status = 400, description = "Not an account id or email (empty, too long, control characters)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
        (status = 404, description = "No such account"),
    ))]
pub async fn user_get(
    State(state): State<AppState>,
    _admin: AdminBearer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserResponse>, ApiError> {
    let d = state.admin_console.user(&id, None).await?;
    let locked_until = d
        .locked_until
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    Ok(Json(UserResponse {
        id: d.account.id,
        email: d.account.email,
        admin: d.account.is_admin,
        verified: d.account.email_verified_at.is_some(),
        disabled: d.account.disabled_at.is_some(),
        disabled_at: d.account.disabled_at.and_then(rfc3339),
        locked: d.locked_until.is_some(),
        locked_until: locked_until.and_then(rfc3339),
        blocked_sources: d.blocked_sources,
        factors: d.factors,
        sessions: d.sessions.into_iter().map(SessionBody::from).collect(),
        events: d.events,
    }))
}
