//! `GET /admin/api/events?kind=&user=&ip=&since=&until=&decision=&client=&cursor=&limit=`: auth
//! events, newest first, a page at a time (`next_cursor`); `GET /admin/api/events/export`: the
//! same filtered view as CSV or JSON Lines (`http/admin/export.rs`). The console's events
//! explorer makes the same domain calls.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::domain::admin::{AdminService, EventQuery};
use crate::domain::operator::Operator;
use crate::events::AuthEvent;
use crate::http::admin::AdminBearer;
use crate::http::admin::export::{ExportFormat, export_response};
use crate::http::api_error::{ApiError, ApiQuery};
use crate::http::extract::ClientContext;

/// Filters (all optional).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// An event kind, e.g. `login_failed`.
    kind: Option<String>,
    /// A user id or an email address.
    user: Option<String>,
    /// A client IP.
    ip: Option<String>,
    /// Only events at or after this time: RFC 3339, or `YYYY-MM-DDTHH:MM[:SS]` / `YYYY-MM-DD`
    /// taken as UTC.
    since: Option<String>,
    /// Only events before this time (same forms as `since`).
    until: Option<String>,
    /// A decision: its stable code (e.g. `deny`, `rate_limited_ip`) or its text as events show
    /// it (e.g. `rate_limited:ip`).
    decision: Option<String>,
    /// An OAuth client id.
    client: Option<String>,
    /// The `next_cursor` of the previous page (opaque).
    cursor: Option<String>,
    /// At most this many (1–1000, default 100); empty, like every other filter, is absent.
    #[serde(default, deserialize_with = "empty_is_absent")]
    #[param(value_type = Option<u32>)]
    limit: Option<u32>,
}

/// `limit=` (the interface's empty template) as no limit; a number as it is.
fn empty_is_absent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => n.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl From<EventsQuery> for EventQuery {
    fn from(q: EventsQuery) -> Self {
        Self {
            kind: q.kind,
            user: q.user,
            ip: q.ip,
            since: q.since,
            until: q.until,
            decision: q.decision,
            client: q.client,
            cursor: q.cursor,
            limit: q.limit,
        }
    }
}

/// The response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsResponse {
    /// Newest first.
    events: Vec<AuthEvent>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// `GET /admin/api/events`.
#[utoipa::path(
    get,
    path = "/admin/api/events",
    params(EventsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events, newest first", body = EventsResponse),
        (status = 400, description = "A filter or the cursor is malformed"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope or is not a client-credentials token"),
    )
)]
pub async fn events_get(
    State(admin): State<AdminService>,
    _admin: AdminBearer,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<EventsResponse>, ApiError> {
    let page = admin.search_events(q.into()).await?;
    Ok(Json(EventsResponse {
        events: page.events,
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// The export's format and filters (all optional but `format`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (a header row, then one row per event) or `jsonl` (one event per line).
    format: Option<String>,
    /// As for `/admin/api/events`.
    kind: Option<String>,
    /// As for `/admin/api/events`.
    user: Option<String>,
    /// As for `/admin/api/events`.
    ip: Option<String>,
    /// As for `/admin/api/events`.
    since: Option<String>,
    /// As for `/admin/api/events`.
    until: Option<String>,
    /// As for `/admin/api/events`.
    decision: Option<String>,
    /// As for `/admin/api/events`.
    client: Option<String>,
    /// Start below this cursor (to resume an export cut at its row limit).
    cursor: Option<String>,
}

impl ExportQuery {
    fn split(self) -> (Option<String>, EventQuery) {
        let query = EventQuery {
            kind: self.kind,
            user: self.user,
            ip: self.ip,
            since: self.since,
            until: self.until,
            decision: self.decision,
            client: self.client,
            cursor: self.cursor,
            limit: None,
        };
        (self.format, query)
    }
}

/// `GET /admin/api/events/export`.
#[utoipa::path(
    get,
    path = "/admin/api/events/export",
    params(ExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The events matching the filters, newest first, at most 100 000 \
            (the `X-Export-Row-Limit` header), as an attachment: `text/csv` with the columns id, ts, \
            kind, user_id, username, ip, user_agent, client_id, decision, risk_score, risk_reasons, \
            request_id (every cell quoted; a cell starting with = + - @ tab or CR gets a leading '), \
            or `application/x-ndjson` with one event per line as `/admin/api/events` shows it",
            content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "`format` is not csv or jsonl, or a filter or the cursor is malformed"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope or is not a client-credentials token"),
    )
)]
pub async fn export_get(
    State(admin): State<AdminService>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (format, query) = q.split();
    let format = ExportFormat::parse(format.as_deref())
        .ok_or(ApiError::BadRequest("format must be csv or jsonl"))?;
    let by = Operator::Client(&claims.client_id);
    let export = admin.export_events(&ctx, by, query).await?;
    Ok(export_response(format, export))
}
