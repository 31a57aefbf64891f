//! `GET /admin/keys` (the signing key ring: kid, algorithm, active or published, age) and
//! `POST /admin/keys/rotate` (CSRF-checked; as `authd keys rotate`, recorded as
//! `admin_action`; back to the page).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::domain::operator::Operator;
use crate::http::error::HttpError;
use crate::http::extract::CsrfForm;
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::clients::{ActForm, ops_error};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/keys", get(keys_get))
        .route("/admin/keys/rotate", post(rotate_post))
}

/// Unix seconds as RFC 3339 (empty if out of range).
pub(crate) fn unix_text(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An age in words: days, else hours, else minutes.
fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s >= 86_400 => format!("{} d", s / 86_400),
        s if s >= 3_600 => format!("{} h", s / 3_600),
        s => format!("{} min", s / 60),
    }
}

/// A key row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyRow {
    kid: String,
    alg: String,
    state: String,
    created: String,
    age: String,
}

/// The keys page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/keys.html")]
pub struct KeysPage {
    csrf_token: String,
    keys: Vec<KeyRow>,
    rotated: bool,
}

crate::page!(
    KeysPage,
    "pages/admin/keys.html",
    [csrf_token, keys, rotated]
);

/// The page's query (`rotated=1` after a rotation).
#[derive(Deserialize)]
pub struct KeysQuery {
    rotated: Option<String>,
}

/// `GET /admin/keys`.
pub async fn keys_get(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(q): Query<KeysQuery>,
) -> Result<Response, HttpError> {
    let now = state.clock.now().unix_timestamp();
    let keys = state.admin_ops.keys().await.map_err(ops_error)?;
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            state: match k.retire_after {
                None => "active".to_owned(),
                Some(t) => format!("published until {}", unix_text(t)),
            },
            created: unix_text(k.created_at),
            age: age(now - k.created_at),
            kid: k.kid,
            alg: k.alg,
        })
        .collect();
    let page = KeysPage {
        csrf_token: admin.session.csrf_token(&state).await?,
        keys,
        rotated: q.rotated.is_some(),
    };
    Ok(page.into_response())
}

/// `POST /admin/keys/rotate`: back to the page.
pub async fn rotate_post(
    State(state): State<AppState>,
    admin: AdminSession,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_ops
        .keys_rotate(&admin.ctx, Operator::Admin(&admin.admin.id))
        .await
        .map_err(ops_error)?;
    Ok(Redirect::to("/admin/keys?rotated=1").into_response())
}
