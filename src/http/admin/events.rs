//! `GET /admin/api/events?kind=&user=&ip=&since=&limit=`: auth events, newest first.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use crate::domain::admin::{AdminService, EventQuery};
use crate::events::AuthEvent;
use crate::http::admin::AdminBearer;
use crate::http::api_error::ApiError;

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

impl From<EventsQuery> for EventQuery {
    fn from(q: EventsQuery) -> Self {
        Self {
            kind: q.kind,
            user: q.user,
            ip: q.ip,
            since: q.since,
            limit: q.limit,
        }
    }
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
    State(admin): State<AdminService>,
    _admin: AdminBearer,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventsResponse>, ApiError> {
    let events = admin.search_events(q.into()).await?;
    Ok(Json(EventsResponse { events }))
}
