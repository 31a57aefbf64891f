//! `GET /unlock?token=`: the link in the lockout mail lifts the extra check on the account.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::signin::LoginService;
use crate::http::error::HttpError;
use crate::http::extract::ClientContext;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/unlock", get(unlock_get))
}

/// The link's query.
#[derive(Deserialize)]
pub struct UnlockQuery {
    token: Option<String>,
}

/// The result page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/unlock.html")]
pub struct UnlockPage {
    unlocked: bool,
}

/// `GET /unlock`.
pub async fn unlock_get(
    State(login): State<LoginService>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<UnlockQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let unlocked = token.len() <= 512 && login.unlock_with_token(&ctx, &token).await?.is_some();
    let status = if unlocked {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, UnlockPage { unlocked }).into_response())
}
