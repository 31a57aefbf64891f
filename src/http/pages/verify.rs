//! `GET|POST /verify-email?token=`: the link in the registration mail. The GET only asks
//! (mail scanners fetch links), and only for a valid, unused link (otherwise a 400 page says
//! it does not work); the POST (CSRF-checked, once per link) verifies the address. Neither
//! touches the rest of the session, so a pending OAuth authorization request survives: the
//! page's way on continues to the request the registration started from (`detour.rs`).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::detour::app_name;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/verify-email", get(verify_get).post(verify_post))
}

/// The link's query.
#[derive(Deserialize)]
pub struct VerifyQuery {
    token: Option<String>,
}

/// The confirmation form.
#[derive(Deserialize)]
pub struct VerifyForm {
    token: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for VerifyForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The confirmation and result page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/verify_email.html")]
pub struct VerifyPage {
    csrf_token: String,
    token: String,
    /// `Some(false)`: ask; `Some(true)`: verified; `None`: the link does not work.
    done: Option<bool>,
    /// The way on: this browser's pending request (`data-continue`), else the sign-in page.
    continue_to: String,
    /// Whether the way on is a pending request.
    resumes: bool,
    /// The application asking, when the pending request is its authorization request.
    app_name: Option<String>,
}
crate::page!(
    VerifyPage,
    "pages/verify_email.html",
    [csrf_token, token, done, continue_to, resumes, app_name]
);

impl VerifyPage {
    /// The page in state `done`, with the way on to the request this browser's detour
    /// started from.
    async fn new(
        state: &AppState,
        session: &WebSession,
        token: String,
        done: Option<bool>,
    ) -> Result<Self, HttpError> {
        let next = session.detour().await?;
        Ok(Self {
            csrf_token: session.csrf_token(state).await?,
            token,
            done,
            continue_to: next.clone().unwrap_or_else(|| "/login".to_owned()),
            resumes: next.is_some(),
            app_name: app_name(state, next.as_deref()).await?,
        })
    }

    fn ask(&self) -> bool {
        self.done == Some(false)
    }

    fn verified(&self) -> bool {
        self.done == Some(true)
    }
}

fn status(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// `GET /verify-email`: asks; changes nothing.
pub async fn verify_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<VerifyQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let usable = state.login.verification_is_usable(&token).await?;
    let token = if usable { token } else { String::new() };
    let page = VerifyPage::new(&state, &session, token, usable.then_some(false)).await?;
    Ok((status(usable), page).into_response())
}

/// `POST /verify-email`: verifies the address, once per link.
pub async fn verify_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<VerifyForm>,
) -> Result<Response, HttpError> {
    let verified = state.login.verify_email(&ctx, &form.token).await?;
    let page = VerifyPage::new(&state, &session, String::new(), verified.then_some(true)).await?;
    Ok((status(verified), page).into_response())
}
