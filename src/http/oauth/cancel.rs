//! `GET /authorize/cancel?next=/authorize?…`: the "Cancel" link of the sign-in (and step-up)
//! page that an authorization request sent the user to. The client hears `access_denied` (with
//! its `state` and `iss`) at its redirect URI instead of waiting for a sign-in that will not
//! come. Nothing changes on the server (a link, not a form: anyone could send a browser to the
//! client's own error address anyway). The request is validated again: an unknown client or
//! redirect URI gets the error page, as at `/authorize`; a `next` that is not an authorization
//! request is refused (400).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::oauth::error::OAuthCode;
use crate::domain::redirect::LocalPath;
use crate::http::error::HttpError;

/// The link's path (with the sign-in page's `?next=`).
pub const CANCEL_PATH: &str = "/authorize/cancel";

/// The pending request, from the query.
#[derive(Deserialize)]
pub struct CancelQuery {
    next: Option<String>,
}

/// `GET /authorize/cancel`.
pub async fn cancel_get(
    State(state): State<AppState>,
    Query(q): Query<CancelQuery>,
) -> Result<Response, HttpError> {
    let raw = q
        .next
        .as_deref()
        .and_then(LocalPath::parse)
        .and_then(|p| p.as_str().strip_prefix("/authorize?").map(str::to_owned))
        .ok_or(HttpError::BadRequest(
            "There is no application request to cancel.",
        ))?;
    let req = match super::authorize::validate(&state, Some(&raw)).await? {
        Ok(req) => req,
        Err(response) => return Ok(response),
    };
    let why = "the user cancelled the sign-in";
    let location = state
        .oauth
        .error_redirect(&req, OAuthCode::AccessDenied, why);
    Ok(Redirect::to(&location).into_response())
}
