//! The sessions-and-devices section (`<section id="sessions">`): the rows, and
//! `POST /account/security/sessions` with `action` = `sign_out` or `not_me` (and `session`, an
//! opaque id) or `sign_out_others`. Also indexes a new session at sign-in
//! (`index_new_session`), so every signed-in browser appears here.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::account_security::sessions::{SessionView, SignInNote};
use crate::domain::context::RequestContext;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser, WebSession};
use crate::http::pages::security::{Done, answer, require_reauth};

/// Indexes the session just signed in (its new id saved now) and records `session_created`.
pub(crate) async fn index_new_session(
    state: &AppState,
    session: &WebSession,
    ctx: &RequestContext,
    user_id: &str,
    epoch: i64,
    note: SignInNote,
) -> Result<(), HttpError> {
    let key = session.save_now().await?;
    let row = state
        .security
        .session_started(ctx, user_id, epoch, &key, note)
        .await?;
    session.set_index_row(&row).await
}

/// One row of the section, as the template shows it.
#[derive(serde::Serialize)]
pub struct SessionRow {
    /// The opaque id (`data-session`).
    pub id: String,
    /// "Firefox on Linux", or the app's client id.
    pub title: String,
    /// Whether it is an app's grant.
    pub is_app: bool,
    /// Network and country ("203.0.113.9, FR"); empty for an app.
    pub place: String,
    /// Signed in (or granted), UTC.
    pub first_seen: String,
    /// Last used, UTC.
    pub last_seen: String,
    /// This request's session.
    pub current: bool,
    /// Why its sign-in was challenged ("new country, …"); empty if it was not.
    pub risk: String,
}

const WHEN: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");

impl From<SessionView> for SessionRow {
    fn from(v: SessionView) -> Self {
        let place = match (&v.network, &v.country) {
            (Some(n), Some(c)) => format!("{n}, {c}"),
            (Some(n), None) => n.clone(),
            (None, _) => String::new(),
        };
        Self {
            title: v.app.clone().unwrap_or_else(|| v.device.clone()),
            is_app: v.app.is_some(),
            id: v.id,
            place,
            first_seen: v.first_seen.format(WHEN).unwrap_or_default(),
            last_seen: v.last_seen.format(WHEN).unwrap_or_default(),
            current: v.current,
            risk: v.risk_reasons.join(", "),
        }
    }
}

/// The section's rows for `user`.
pub(crate) async fn load(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<SessionRow>, HttpError> {
    let current = user.session.index_row().await?;
    let views = state
        .security
        .sessions(&user.user_id, current.as_deref())
        .await?;
    Ok(views.into_iter().map(SessionRow::from).collect())
}

/// The section's form.
#[derive(Deserialize)]
pub struct SessionForm {
    csrf_token: String,
    action: String,
    #[serde(default)]
    session: String,
}

impl CsrfProtected for SessionForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /account/security/sessions`.
pub async fn sessions_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, session }: CsrfForm<SessionForm>,
) -> Result<Response, HttpError> {
    if let Some(refused) = require_reauth(&state, &user).await? {
        return Ok(refused);
    }
    let current = session.index_row().await?;
    let (uid, current) = (user.user_id.as_str(), current.as_deref());
    let security = &state.security;
    let done = match form.action.as_str() {
        "sign_out" => match security.sign_out(&ctx, uid, &form.session).await {
            Ok(ended) if ended.is(current) => {
                session.end().await?;
                return Ok(Redirect::to("/login").into_response());
            }
            Ok(_) => Done::SignedOut,
            Err(e) => return answer(&state, &user, e).await,
        },
        "not_me" => match security.not_me(&ctx, uid, &form.session, current).await {
            Ok(()) => Done::NotMe,
            Err(e) => return answer(&state, &user, e).await,
        },
        "sign_out_others" => {
            security.sign_out_others(&ctx, uid, current).await?;
            Done::SignedOutOthers
        }
        _ => return Err(HttpError::BadRequest("Unknown action.")),
    };
    Ok(done.redirect())
}
