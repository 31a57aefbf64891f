//! `GET /admin/users?q=` (search by email), `GET /admin/users/{id}` (an account's state and
//! newest events with their risk) and `POST /admin/users/{id}/unlock` (CSRF-checked; as
//! `authd user unlock`, recorded as `admin_action`). The GETs change nothing.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{CsrfForm, CsrfProtected};
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::overview::console_error;
use crate::storage::admin_stats::FoundAccount;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(search_get))
        .route("/admin/users/{id}", get(user_get))
        .route("/admin/users/{id}/unlock", post(unlock_post))
}

/// The search's query.
#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// The search page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/users.html")]
pub struct SearchPage {
    q: String,
    searched: bool,
    found: Vec<FoundAccount>,
}

crate::page!(SearchPage, "pages/admin/users.html", [q, searched, found]);

/// `GET /admin/users`.
pub async fn search_get(
    State(state): State<AppState>,
    _admin: AdminSession,
    Query(query): Query<SearchQuery>,
) -> Result<Response, HttpError> {
    let q = query.q.unwrap_or_default();
    let found = state
        .admin_console
        .search(&q)
        .await
        .map_err(console_error)?;
    let searched = !q.trim().is_empty();
    Ok(SearchPage { q, searched, found }.into_response())
}

/// One event row on a user's page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    when: String,
    kind: &'static str,
    ip: String,
    decision: String,
    risk: String,
}

/// A user's page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/user.html")]
pub struct UserPage {
    csrf_token: String,
    id: String,
    email: String,
    is_admin: bool,
    verified: bool,
    locked_until: Option<String>,
    blocked_sources: usize,
    factors: Vec<&'static str>,
    events: Vec<EventRow>,
    unlocked: bool,
}

crate::page!(
    UserPage,
    "pages/admin/user.html",
    [
        csrf_token,
        id,
        email,
        is_admin,
        verified,
        locked_until,
        blocked_sources,
        factors,
        events,
        unlocked
    ]
);

/// The user page's query (`unlocked=1` after an unlock).
#[derive(Deserialize)]
pub struct UserQuery {
    unlocked: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `GET /admin/users/{id}`.
pub async fn user_get(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
) -> Result<Response, HttpError> {
    let d = state.admin_console.user(&id).await.map_err(console_error)?;
    let events = d
        .events
        .iter()
        .map(|e| EventRow {
            when: rfc3339(e.ts),
            kind: e.kind.as_str(),
            ip: e.ip.clone().unwrap_or_default(),
            decision: e.decision.clone().unwrap_or_default(),
            risk: e
                .risk
                .as_ref()
                .map(|r| format!("{:.2} {}", r.score, r.reasons.join(", ")))
                .unwrap_or_default(),
        })
        .collect();
    let page = UserPage {
        csrf_token: admin.session.csrf_token(&state).await?,
        id: d.account.id,
        email: d.account.email,
        is_admin: d.account.is_admin,
        verified: d.account.email_verified_at.is_some(),
        locked_until: d
            .locked_until
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .map(rfc3339),
        blocked_sources: d.blocked_sources,
        factors: d.factors,
        events,
        unlocked: q.unlocked.is_some(),
    };
    Ok(page.into_response())
}

/// The unlock form (only the CSRF token).
#[derive(Deserialize)]
pub struct UnlockForm {
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for UnlockForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /admin/users/{id}/unlock`: back to the user's page.
pub async fn unlock_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<UnlockForm>,
) -> Result<Response, HttpError> {
    state
        .admin_console
        .unlock(&admin.ctx, &admin.admin, &id)
        .await
        .map_err(console_error)?;
    let to = format!("/admin/users/{}?unlocked=1", urlencode(&id));
    Ok(Redirect::to(&to).into_response())
}
