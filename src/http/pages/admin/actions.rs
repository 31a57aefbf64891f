//! The console's acts on an account, each a CSRF-checked `POST /admin/users/{id}/…` making one
//! call of `domain::admin_console::actions` (which records `admin_action`) and sending the
//! browser back to the user's page with `?done=` naming what was done: `unlock`,
//! `sessions/end-all`, `sessions/end` (`session`: an `s-…`/`g-…` id), `password-reset`
//! (`end_sessions=1` to end them too), `factors/reset`, `disable`, `enable`, `label`
//! (`event_id`, `label=attack|legitimate`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::admin_console::actions::Operator;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{CsrfForm, CsrfProtected};
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::overview::console_error;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}/unlock", post(unlock_post))
        .route("/admin/users/{id}/sessions/end-all", post(end_all_post))
        .route("/admin/users/{id}/sessions/end", post(end_one_post))
        .route("/admin/users/{id}/password-reset", post(reset_post))
        .route("/admin/users/{id}/factors/reset", post(factors_post))
        .route("/admin/users/{id}/disable", post(disable_post))
        .route("/admin/users/{id}/enable", post(enable_post))
        .route("/admin/users/{id}/label", post(label_post))
}

/// Every act's form: the CSRF token and the act's own fields (absent where unused).
#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf_token: String,
    /// `sessions/end`: the session's or grant's opaque id.
    #[serde(default)]
    session: String,
    /// `password-reset`: present (any value) to end sessions too.
    end_sessions: Option<String>,
    /// `label`: the event's id.
    #[serde(default)]
    event_id: String,
    /// `label`: `attack` or `legitimate`.
    #[serde(default)]
    label: String,
}

impl CsrfProtected for ActForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Back to the user's page, saying what was done.
fn back(id: &str, done: &str) -> Response {
    let to = format!("/admin/users/{}?done={done}", urlencode(id));
    Redirect::to(&to).into_response()
}

/// `POST /admin/users/{id}/unlock` (as `authd user unlock`).
pub async fn unlock_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_console
        .unlock(&admin.ctx, Operator::Admin(&admin.admin), &id)
        .await
        .map_err(console_error)?;
    let to = format!("/admin/users/{}?unlocked=1", urlencode(&id));
    Ok(Redirect::to(&to).into_response())
}

/// `POST /admin/users/{id}/sessions/end-all` (as `authd user revoke`).
pub async fn end_all_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_console
        .end_sessions(&admin.ctx, Operator::Admin(&admin.admin), &id)
        .await
        .map_err(console_error)?;
    Ok(back(&id, "ended-all"))
}

/// `POST /admin/users/{id}/sessions/end`: one session or grant.
pub async fn end_one_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_console
        .end_one(
            &admin.ctx,
            Operator::Admin(&admin.admin),
            &id,
            &form.session,
        )
        .await
        .map_err(console_error)?;
    Ok(back(&id, "ended-one"))
}

/// `POST /admin/users/{id}/password-reset`: a reset link mailed, sessions ended if asked.
pub async fn reset_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    let end = form.end_sessions.is_some();
    let done = state
        .admin_console
        .force_reset(&admin.ctx, Operator::Admin(&admin.admin), &id, end)
        .await
        .map_err(console_error)?;
    let ended = if done.ended.is_some() { "-ended" } else { "" };
    Ok(back(&id, &format!("reset-{}{ended}", done.mail.code())))
}

/// `POST /admin/users/{id}/factors/reset` (as `authd user mfa reset`).
pub async fn factors_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    let removed = state
        .admin_console
        .reset_factors(&admin.ctx, Operator::Admin(&admin.admin), &id)
        .await
        .map_err(console_error)?;
    Ok(back(
        &id,
        if removed {
            "factors-reset"
        } else {
            "factors-none"
        },
    ))
}

/// `POST /admin/users/{id}/disable` (as `authd user disable`).
pub async fn disable_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_console
        .disable(&admin.ctx, Operator::Admin(&admin.admin), &id)
        .await
        .map_err(console_error)?;
    Ok(back(&id, "disabled"))
}

/// `POST /admin/users/{id}/enable` (as `authd user enable`).
pub async fn enable_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_console
        .enable(&admin.ctx, Operator::Admin(&admin.admin), &id)
        .await
        .map_err(console_error)?;
    Ok(back(&id, "enabled"))
}

/// `POST /admin/users/{id}/label`: one of the account's events labelled for training.
pub async fn label_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    let attack = match form.label.as_str() {
        "attack" => true,
        "legitimate" => false,
        _ => return Err(HttpError::BadRequest("The label is attack or legitimate.")),
    };
    let op = Operator::Admin(&admin.admin);
    state
        .admin_console
        .label(&admin.ctx, op, Some(&id), &form.event_id, attack)
        .await
        .map_err(console_error)?;
    Ok(back(
        &id,
        if attack {
            "labelled-attack"
        } else {
            "labelled-legitimate"
        },
    ))
}
