//! `GET|POST /not-me?token=`: the "wasn't you?" link of the new-sign-in mail. The GET only asks
//! (mail scanners fetch links), and only for a valid, unused link (otherwise a 400 page says it
//! does not work); the POST (once per link) signs out every session, grant and device cookie,
//! then leads to a password reset.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/not-me", get(not_me_get).post(not_me_post))
}

/// The link's query.
#[derive(Deserialize)]
pub struct NotMeQuery {
    token: Option<String>,
}

/// The confirmation form.
#[derive(Deserialize)]
pub struct NotMeForm {
    token: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for NotMeForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The confirmation page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/not_me.html")]
pub struct NotMePage {
    csrf_token: String,
    token: String,
    valid: bool,
}
crate::page!(NotMePage, "pages/not_me.html", [csrf_token, token, valid]);

/// `GET /not-me`.
pub async fn not_me_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<NotMeQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let valid = state.login.not_me_link_is_valid(&token).await?;
    let page = NotMePage {
        csrf_token: session.csrf_token(&state).await?,
        token: if valid { token } else { String::new() },
        valid,
    };
    if !valid {
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    Ok(page.into_response())
}

/// `POST /not-me`.
pub async fn not_me_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<NotMeForm>,
) -> Result<Response, HttpError> {
    if state
        .login
        .report_not_me(&ctx, &form.token)
        .await?
        .is_some()
    {
        session.end().await?;
        return Ok(Redirect::to("/password/forgot").into_response());
    }
    let page = NotMePage {
        csrf_token: session.csrf_token(&state).await?,
        token: String::new(),
        valid: false,
    };
    Ok((StatusCode::BAD_REQUEST, page).into_response())
}
