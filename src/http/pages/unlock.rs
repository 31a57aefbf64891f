//! `GET|POST /unlock?token=`: the link in the lockout mail. The GET only asks (mail scanners
//! fetch links), and only for a valid, unused link (otherwise a 400 page says it does not
//! work); the POST (CSRF-checked, once per link) lifts the account's lock and the blocks of
//! the clicking owner's network and device. Its way on continues to the request this browser's
//! refused sign-in was for (`detour.rs`).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::detour::app_name;
use crate::http::pages::login::{cookie_value, device_cookie_name};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/unlock", get(unlock_get).post(unlock_post))
}

/// The link's query.
#[derive(Deserialize)]
pub struct UnlockQuery {
    token: Option<String>,
}

/// The confirmation form.
#[derive(Deserialize)]
pub struct UnlockForm {
    token: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for UnlockForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum UnlockState {
    /// The confirmation form (a valid, unused link).
    Ask,
    /// The lock was lifted.
    Unlocked,
    /// The link is invalid, expired or used.
    Invalid,
}

/// The confirmation and result page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/unlock.html")]
pub struct UnlockPage {
    csrf_token: String,
    token: String,
    state: UnlockState,
    /// The way on: the request this browser's refused sign-in was for (`data-continue`),
    /// else the sign-in page.
    continue_to: String,
    /// Whether the way on is a pending request.
    resumes: bool,
    /// The application asking, when the pending request is its authorization request.
    app_name: Option<String>,
}
crate::page!(
    UnlockPage,
    "pages/unlock.html",
    [csrf_token, token, state, continue_to, resumes, app_name]
);

impl UnlockPage {
    /// The page in `state`, with the way on to this browser's pending request.
    async fn new(
        app: &AppState,
        session: &WebSession,
        token: String,
        state: UnlockState,
    ) -> Result<Self, HttpError> {
        let next = session.detour().await?;
        Ok(Self {
            csrf_token: session.csrf_token(app).await?,
            token,
            state,
            continue_to: next.clone().unwrap_or_else(|| "/login".to_owned()),
            resumes: next.is_some(),
            app_name: app_name(app, next.as_deref()).await?,
        })
    }

    fn ask(&self) -> bool {
        self.state == UnlockState::Ask
    }

    fn unlocked(&self) -> bool {
        self.state == UnlockState::Unlocked
    }
}

/// `GET /unlock`: asks; changes nothing.
pub async fn unlock_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<UnlockQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let usable = state.login.unlock_link_is_usable(&token).await?;
    let (token, shown) = if usable {
        (token, UnlockState::Ask)
    } else {
        (String::new(), UnlockState::Invalid)
    };
    let page = UnlockPage::new(&state, &session, token, shown).await?;
    let status = if usable {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, page).into_response())
}

/// `POST /unlock`: lifts the lock, once per link.
pub async fn unlock_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    headers: HeaderMap,
    CsrfForm { form, session }: CsrfForm<UnlockForm>,
) -> Result<Response, HttpError> {
    let device = cookie_value(&headers, device_cookie_name(state.config.is_https()));
    let unlocked = state
        .login
        .unlock_with_token(&ctx, &form.token, device)
        .await?
        .is_some();
    let shown = if unlocked {
        UnlockState::Unlocked
    } else {
        UnlockState::Invalid
    };
    let page = UnlockPage::new(&state, &session, String::new(), shown).await?;
    let status = if unlocked {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, page).into_response())
}
