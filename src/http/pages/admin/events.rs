//! `GET /admin/events`: the events explorer. The events API's filters in a GET form, 50 events a
//! page newest first with a "next page" link carrying the cursor, each row expandable
//! (`<details>`, no script) to its decision and risk (score, reasons); `GET
//! /admin/events/export?format=csv|jsonl&…`: the filtered view as an attachment. Both make the
//! admin API's domain calls (`AdminService::search_events`, `export_events`). Read-only.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::domain::admin::{AdminError, AdminService, EventQuery};
use crate::domain::error::Unexpected;
use crate::domain::operator::Operator;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};
use crate::http::admin::export::{ExportFormat, export_response};
use crate::http::error::{HttpError, urlencode};
use crate::http::pages::admin::AdminSession;

/// Events per page.
const PAGE_SIZE: u32 = 50;
/// The explorer's path.
pub const EVENTS: &str = "/admin/events";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(EVENTS, get(events_get))
        .route("/admin/events/export", get(export_get))
}

/// The filters as typed (kept to fill the form again and to build the links), the cursor and,
/// for the export, the format.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    client: String,
    #[serde(default, skip_serializing)]
    cursor: String,
    #[serde(default, skip_serializing)]
    format: String,
}

fn some(v: &str) -> Option<String> {
    Some(v.to_owned()).filter(|v| !v.trim().is_empty())
}

impl Filters {
    fn query(&self, limit: Option<u32>) -> EventQuery {
        EventQuery {
            kind: some(&self.kind),
            user: some(&self.user),
            ip: some(&self.ip),
            since: some(&self.since),
            until: some(&self.until),
            decision: some(&self.decision),
            client: some(&self.client),
            cursor: some(&self.cursor),
            limit,
        }
    }

    /// The non-empty filters as a query string (no cursor, no format).
    fn href_query(&self) -> String {
        [
            ("kind", &self.kind),
            ("user", &self.user),
            ("ip", &self.ip),
            ("since", &self.since),
            ("until", &self.until),
            ("decision", &self.decision),
            ("client", &self.client),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// `path` with the filters and `extra` (already encoded) as its query.
    fn href(&self, path: &str, extra: &str) -> String {
        let q = [self.href_query(), extra.to_owned()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    }
}

/// One event row, with what its details show.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    id: String,
    when: String,
    kind: &'static str,
    user_id: String,
    user_href: String,
    username: String,
    ip: String,
    client: String,
    decision: String,
    decision_code: &'static str,
    score: String,
    reasons: Vec<String>,
    user_agent: String,
    request_id: String,
}

impl From<AuthEvent> for Row {
    fn from(e: AuthEvent) -> Self {
        let user_id = e.user_id.unwrap_or_default();
        Self {
            user_href: format!("/admin/users/{}", urlencode(&user_id)),
            user_id,
            when: e.ts.format(&Rfc3339).unwrap_or_default(),
            kind: e.kind.as_str(),
            username: e.username.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            client: e.client_id.unwrap_or_default(),
            decision: e.decision.unwrap_or_default(),
            decision_code: e.decision_code.map(Decision::code).unwrap_or_default(),
            score: e
                .risk
                .as_ref()
                .map(|r| format!("{:.2}", r.score))
                .unwrap_or_default(),
            reasons: e.risk.map(|r| r.reasons).unwrap_or_default(),
            user_agent: e.user_agent.unwrap_or_default(),
            request_id: e.request_id.unwrap_or_default(),
            id: e.id,
        }
    }
}

/// The explorer page.
#[derive(Template, Serialize)]
#[template(path = "pages/admin/events.html")]
pub struct EventsPage {
    filters: Filters,
    kinds: Vec<&'static str>,
    decisions: Vec<&'static str>,
    rows: Vec<Row>,
    paged: bool,
    first_href: String,
    next_href: Option<String>,
    csv_href: String,
    jsonl_href: String,
}

crate::page!(
    EventsPage,
    "pages/admin/events.html",
    [
        filters, kinds, decisions, rows, paged, first_href, next_href, csv_href, jsonl_href
    ]
);

fn admin_error(e: AdminError) -> HttpError {
    match e {
        AdminError::InvalidInput(m) => HttpError::BadRequest(m),
        AdminError::Unexpected(e) => HttpError::Unexpected(Unexpected(e)),
    }
}

/// The query, or a 400 page when it cannot be read at all (e.g. a filter given twice).
fn filters(q: Result<Query<Filters>, QueryRejection>) -> Result<Filters, HttpError> {
    q.map(|Query(f)| f)
        .map_err(|_| HttpError::BadRequest("The filters could not be read."))
}

/// `GET /admin/events`.
pub async fn events_get(
    State(admin): State<AdminService>,
    _admin: AdminSession,
    q: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, HttpError> {
    let filters = filters(q)?;
    let page = admin
        .search_events(filters.query(Some(PAGE_SIZE)))
        .await
        .map_err(admin_error)?;
    let next_href = page
        .next
        .map(|c| filters.href(EVENTS, &format!("cursor={c}")));
    let page = EventsPage {
        kinds: EventKind::ALL.iter().map(|k| k.as_str()).collect(),
        decisions: Decision::ALL.iter().map(|d| d.code()).collect(),
        rows: page.events.into_iter().map(Row::from).collect(),
        paged: !filters.cursor.trim().is_empty(),
        first_href: filters.href(EVENTS, ""),
        next_href,
        csv_href: filters.href("/admin/events/export", "format=csv"),
        jsonl_href: filters.href("/admin/events/export", "format=jsonl"),
        filters,
    };
    Ok(page.into_response())
}

/// `GET /admin/events/export?format=csv|jsonl&…`. It records the export in the admin's name
/// (`admin_action`), so it answers only the console's own links or a typed or bookmarked URL
/// (`Sec-Fetch-Site` `same-origin` or `none`, or a browser that sends none): another site's
/// navigation (the `SameSite=Lax` cookie goes along) is refused as a forged request.
pub async fn export_get(
    State(admin): State<AdminService>,
    admin_session: AdminSession,
    headers: axum::http::HeaderMap,
    q: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, HttpError> {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err(HttpError::Csrf);
    }
    let filters = filters(q)?;
    let format = ExportFormat::parse(Some(&filters.format))
        .ok_or(HttpError::BadRequest("The format must be csv or jsonl."))?;
    let by = Operator::Admin(&admin_session.admin.id);
    let export = admin
        .export_events(&admin_session.ctx, by, filters.query(None))
        .await
        .map_err(admin_error)?;
    Ok(export_response(format, export))
}
