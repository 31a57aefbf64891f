//! `GET /account`: who you are, and your own recent security events.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::CurrentUser;
use crate::http::passkeys::enrol::{PasskeySection, section};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/account", get(account_get))
}

/// One row of the event table.
pub struct EventRow {
    when: String,
    what: &'static str,
    ip: String,
    device: String,
}

/// The account page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/account.html")]
pub struct AccountPage {
    email: String,
    user_id: String,
    created: String,
    csrf_token: String,
    events: Vec<EventRow>,
    /// The passkey section (until the security page has its own).
    passkeys: PasskeySection,
}

/// `GET /account`.
pub async fn account_get(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, HttpError> {
    let Some(account) = state.accounts.find_by_id(&user.user_id).await? else {
        // The account was deleted under a live session.
        user.session.end().await?;
        return Err(HttpError::SignInRequired {
            next: "/account".into(),
        });
    };
    let events = state
        .login
        .recent_events(&account.id, 20)
        .await?
        .into_iter()
        .map(|e| EventRow {
            when: e.ts.format(&Rfc3339).unwrap_or_default(),
            what: describe(e.kind),
            ip: e.ip.unwrap_or_default(),
            device: e.user_agent.unwrap_or_default().chars().take(80).collect(),
        })
        .collect();
    let page = AccountPage {
        email: account.email,
        user_id: account.id,
        created: account.created_at.format(&Rfc3339).unwrap_or_default(),
        csrf_token: user.session.csrf_token(&state).await?,
        events,
        passkeys: section(&state, &user.user_id).await?,
    };
    Ok(page.into_response())
}

fn describe(kind: crate::events::EventKind) -> &'static str {
    use crate::events::EventKind as K;
    match kind {
        K::LoginSucceeded => "Signed in",
        K::LoginFailed => "Failed sign-in attempt",
        K::LoginChallenged => "Sign-in challenged",
        K::ChallengePassed => "Challenge passed",
        K::ChallengeFailed => "Challenge failed",
        K::LoginBlocked => "Sign-in blocked",
        K::RateLimited => "Too many attempts",
        K::AccountLocked => "Account locked",
        K::AccountUnlocked => "Account unlocked",
        K::SessionCreated => "Session started",
        K::SessionRevoked => "Session ended",
        K::Logout => "Signed out",
        K::TokenIssued => "App access granted",
        K::TokenRefreshed => "App access renewed",
        K::TokenRejected => "App token refused",
        K::RefreshReuseDetected => "Stolen app token detected",
        K::TokenRevoked => "App access revoked",
        K::PasswordChanged => "Password changed",
        K::PasswordResetRequested => "Password reset requested",
        K::UserRegistered => "Account created",
        K::MfaEnrolled => "Second factor added",
        K::MfaRemoved => "Second factor removed",
        K::AlertSent => "Security alert sent",
        K::RiskEvaluated => "Risk check",
        K::AttackDetected => "Attack detected",
    }
}
