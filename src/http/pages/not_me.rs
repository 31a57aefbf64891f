//! `GET|POST /not-me?token=`: the "wasn't you?" link of the new-sign-in mail. The GET only asks
//! (mail scanners fetch links), and only for a valid, unused link (otherwise a 400 page says it
//! does not work); the POST (once per link) signs out every session, grant and device cookie,
//! ends this browser's session and confirms what was done, with the next step: a button
//! (`POST /not-me/reset`, once) that mails the account's own address a password-reset link.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/not-me", get(not_me_get).post(not_me_post))
        .route("/not-me/reset", post(not_me_reset_post))
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

/// The "mail me a reset link" form.
#[derive(Deserialize)]
pub struct NotMeResetForm {
    #[serde(default)]
    reset_token: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for NotMeResetForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NotMeState {
    /// The confirmation form (a valid, unused link).
    Ask,
    /// The report was made: what was done, and the reset button.
    Reported,
    /// The reset link was mailed.
    ResetSent,
    /// The reset-mail budget held the link back (too many were mailed to the address lately).
    ResetHeld,
    /// The link (or the button) is invalid, expired or used.
    Invalid,
}

/// The question, the confirmation and the result page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/not_me.html")]
pub struct NotMePage {
    csrf_token: String,
    token: String,
    state: NotMeState,
    /// Apps' grants revoked by the report.
    grants_revoked: u64,
    /// The account's address, masked (`a***@example.com`).
    masked_email: String,
    /// The reset button's one-time token (in the form body only).
    reset_token: String,
}
crate::page!(
    NotMePage,
    "pages/not_me.html",
    [
        csrf_token,
        token,
        state,
        grants_revoked,
        masked_email,
        reset_token
    ]
);

impl NotMePage {
    fn new(csrf_token: String, state: NotMeState) -> Self {
        Self {
            csrf_token,
            token: String::new(),
            state,
            grants_revoked: 0,
            masked_email: String::new(),
            reset_token: String::new(),
        }
    }

    fn ask(&self) -> bool {
        self.state == NotMeState::Ask
    }

    fn reported(&self) -> bool {
        self.state == NotMeState::Reported
    }

    fn reset_sent(&self) -> bool {
        self.state == NotMeState::ResetSent
    }

    fn reset_held(&self) -> bool {
        self.state == NotMeState::ResetHeld
    }

    /// The page with its status: 400 when the link or button did not work.
    fn answer(self) -> Response {
        let status = if self.state == NotMeState::Invalid {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        (status, self).into_response()
    }
}

/// `a***@example.com`: the first character of the local part, then `***`.
pub(crate) fn masked(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// `GET /not-me`.
pub async fn not_me_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<NotMeQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let valid = state.login.not_me_link_is_valid(&token).await?;
    let csrf = session.csrf_token(&state).await?;
    if !valid {
        return Ok(NotMePage::new(csrf, NotMeState::Invalid).answer());
    }
    let mut page = NotMePage::new(csrf, NotMeState::Ask);
    page.token = token;
    Ok(page.answer())
}

/// `POST /not-me`: reports, once per link, and confirms what was done.
pub async fn not_me_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<NotMeForm>,
) -> Result<Response, HttpError> {
    let Some(report) = state.login.report_not_me(&ctx, &form.token).await? else {
        let csrf = session.csrf_token(&state).await?;
        return Ok(NotMePage::new(csrf, NotMeState::Invalid).answer());
    };
    // This browser is signed out too; the page's form carries the cookie's CSRF token.
    session.end().await?;
    let mut page = NotMePage::new(session.csrf_token(&state).await?, NotMeState::Reported);
    page.grants_revoked = report.grants_revoked;
    page.masked_email = masked(&report.email);
    page.reset_token = report.reset_token;
    Ok(page.answer())
}

/// `POST /not-me/reset`: mails the reported account's own address a reset link, once.
pub async fn not_me_reset_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<NotMeResetForm>,
) -> Result<Response, HttpError> {
    let sent = state
        .resets
        .mail_link_after_report(&ctx, &form.reset_token)
        .await?;
    let csrf = session.csrf_token(&state).await?;
    let Some((email, mailed)) = sent else {
        return Ok(NotMePage::new(csrf, NotMeState::Invalid).answer());
    };
    let state = if mailed {
        NotMeState::ResetSent
    } else {
        NotMeState::ResetHeld
    };
    let mut page = NotMePage::new(csrf, state);
    page.masked_email = masked(&email);
    Ok(page.answer())
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn the_address_is_masked() {
        assert_eq!(masked("alice@example.com"), "a***@example.com");
        assert_eq!(masked("é@x.example"), "é***@x.example");
        assert_eq!(masked("@x"), "***@x");
        assert_eq!(masked("nothing"), "***");
    }
}
