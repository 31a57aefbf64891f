//! `GET /admin/users?q=` (search by email) and `GET /admin/users/{id}` (an account's state,
//! sessions and grants, newest events with their risk, and the forms of the acts in
//! `actions.rs`). The GETs change nothing.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::domain::account_security::sessions::SessionView;
use crate::http::error::HttpError;
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::overview::console_error;
use crate::storage::admin_stats::FoundAccount;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(search_get))
        .route("/admin/users/{id}", get(user_get))
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
    id: String,
    /// A sign-in (offered for labelling).
    sign_in: bool,
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
    disabled: bool,
    sessions: Vec<SessionRow>,
    events: Vec<EventRow>,
    notice: Option<&'static str>,
}

/// One session or grant row on a user's page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionRow {
    id: String,
    kind: &'static str,
    what: String,
    from: String,
    since: String,
    last: String,
    current: bool,
}

fn session_row(v: SessionView) -> SessionRow {
    let from = [v.network, v.country]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    SessionRow {
        kind: if v.app.is_some() {
            "app grant"
        } else {
            "browser"
        },
        what: match v.app {
            Some(app) => format!("{app} ({})", v.device),
            None => v.device,
        },
        from: from.join(", "),
        since: rfc3339(v.first_seen),
        last: rfc3339(v.last_seen),
        current: v.current,
        id: v.id,
    }
}

/// What the page says after an act (`?done=`), from a fixed list: nothing of the request is
/// echoed.
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "unlocked" => "Every lock and block of this account was lifted.",
        "ended-all" => "Every session and grant of this account was ended.",
        "ended-one" => "The session or grant was ended.",
        "reset-sent" => "A password reset link was mailed to the account's address.",
        "reset-sent-ended" => {
            "A password reset link was mailed to the account's address, and every session and \
             grant was ended."
        }
        "reset-mail_limit" => {
            "No link was mailed: the address has reached its reset-mail limit. Try again later."
        }
        "reset-mail_limit-ended" => {
            "No link was mailed (the address has reached its reset-mail limit); every session \
             and grant was ended."
        }
        "reset-disabled" | "reset-disabled-ended" => {
            "No link was mailed: the account is disabled. Enable it first."
        }
        "factors-reset" => "Every second factor was removed; the owner was told by mail.",
        "factors-none" => "The account had no second factor to remove.",
        "disabled" => "The account is disabled: its sessions ended and its grants were revoked.",
        "enabled" => "The account is enabled: it may sign in again.",
        "labelled-attack" => "The sign-in was labelled an attack; training will use it.",
        "labelled-legitimate" => "The sign-in was labelled legitimate; training will use it.",
        _ => return None,
    })
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
        disabled,
        sessions,
        events,
        notice
    ]
);

/// The user page's query (`done=` after an act; `unlocked=1`, the first slice's, still read).
#[derive(Deserialize)]
pub struct UserQuery {
    unlocked: Option<String>,
    done: Option<String>,
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
    let current = admin.admin.session_row.as_deref();
    let d = state
        .admin_console
        .user(&id, current)
        .await
        .map_err(console_error)?;
    let events = d
        .events
        .iter()
        .map(|e| EventRow {
            id: e.id.clone(),
            sign_in: e.kind.as_str().starts_with("login_"),
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
        disabled: d.account.disabled_at.is_some(),
        sessions: d.sessions.into_iter().map(session_row).collect(),
        events,
        notice: match (q.done.as_deref(), q.unlocked) {
            (Some(done), _) => notice(done),
            (None, Some(_)) => notice("unlocked"),
            (None, None) => None,
        },
    };
    Ok(page.into_response())
}
