//! `GET /admin/api/events?kind=&user=&ip=&since=&limit=`: auth events, newest first.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::domain::error::DomainError;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::http::admin::{AdminBearer, ApiError};

/// Filters (all optional).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// An event kind, e.g. `login_failed`.
    kind: Option<String>,
    /// A user id or an email address.
    user: Option<String>,
    /// A client IP.
    ip: Option<String>,
    /// Only events at or after this RFC 3339 time.
    since: Option<String>,
    /// At most this many (1–1000, default 100).
    limit: Option<u32>,
}

/// The response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsResponse {
    /// Newest first.
    events: Vec<AuthEvent>,
}

/// `GET /admin/api/events`.
#[utoipa::path(
    get,
    path = "/admin/api/events",
    params(EventsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events, newest first", body = EventsResponse),
        (status = 400, description = "A filter is malformed"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope or is not a client-credentials token"),
    )
)]
pub async fn events_get(
    State(state): State<AppState>,
    _admin: AdminBearer,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventsResponse>, ApiError> {
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => {
            Some(EventKind::parse(k).ok_or(DomainError::InvalidInput("unknown event kind"))?)
        }
        None => None,
    };
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|_| DomainError::InvalidInput("since must be RFC 3339"))?,
        ),
        None => None,
    };
    // Filters reach SQL as bound values; control characters (PostgreSQL text has no NUL) and
    // oversized values are malformed.
    let bad = |v: &Option<String>| {
        v.as_ref()
            .is_some_and(|v| v.len() > 320 || v.chars().any(char::is_control))
    };
    if bad(&q.user) || bad(&q.ip) {
        return Err(DomainError::InvalidInput("user and ip must be printable and short").into());
    }
    let user_id = match q.user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) if u.contains('@') => Some(
            state
                .accounts
                .find_by_email(u)
                .await?
                // An unknown email matches nothing, not everything.
                .map_or_else(|| format!("unknown:{u}"), |a| a.id),
        ),
        Some(u) => Some(u.to_owned()),
        None => None,
    };
    let filter = EventFilter {
        kind,
        user_id,
        ip: q.ip.filter(|i| !i.is_empty()),
        since,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(EventsResponse {
        events: state
            .events
            .list(&filter)
            .await
            .map_err(DomainError::from)?,
    }))
}
