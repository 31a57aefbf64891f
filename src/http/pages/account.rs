//! `GET /account`: who you are, and your own recent security events (the rows shared with
//! `/account/security`); `POST /account`: the owner sets their name (OIDC `name`, with the
//! `profile` scope), which moves the profile's `updated_at`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/account", get(account_get).post(account_post))
}

/// The profile form of `/account`.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for ProfileForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /account`: sets (or, empty, clears) the owner's name; back to `/account`.
pub async fn account_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, .. }: CsrfForm<ProfileForm>,
) -> Result<Response, HttpError> {
    state
        .accounts
        .set_name(&ctx, &user.user_id, &form.name)
        .await?;
    Ok(Redirect::to("/account").into_response())
}

/// One row of the event table, readable: the time in UTC, what happened in words, the
/// address, and the browser and system (summarised, never the raw User-Agent).
#[derive(serde::Serialize)]
pub struct EventRow {
    pub(crate) when: String,
    pub(crate) what: &'static str,
    pub(crate) ip: String,
    pub(crate) device: String,
}

const WHEN: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// The table rows of `events`.
pub(crate) fn event_rows(events: Vec<crate::events::AuthEvent>) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|e| EventRow {
            when: e.ts.format(WHEN).unwrap_or_default(),
            what: describe(e.kind),
            ip: e.ip.unwrap_or_default(),
            device: e
                .user_agent
                .as_deref()
                .filter(|ua| !ua.is_empty())
                .map(crate::domain::signin::alerts::browser_summary)
                .unwrap_or_default(),
        })
        .collect()
}

/// The account page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/account.html")]
pub struct AccountPage {
    email: String,
    user_id: String,
    /// The owner's name; empty when unset.
    name: String,
    created: String,
    /// Whether the address is verified.
    verified: bool,
    csrf_token: String,
    events: Vec<EventRow>,
}
crate::page!(
    AccountPage,
    "pages/account.html",
    [email, user_id, name, created, verified, csrf_token, events]
);

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
    let events = event_rows(state.login.recent_events(&account.id, 20).await?);
    let page = AccountPage {
        email: account.email,
        user_id: account.id,
        name: account.name.unwrap_or_default(),
        created: account.created_at.format(&Rfc3339).unwrap_or_default(),
        verified: account.email_verified_at.is_some(),
        csrf_token: user.session.csrf_token(&state).await?,
        events,
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
        K::MfaSettingChanged => "Second-factor setting changed",
        K::EmailVerified => "Email address verified",
        K::AlertSent => "Security alert sent",
        K::AlertSkipped => "Security alert held back (one an hour)",
        K::RiskEvaluated => "Risk check",
        K::AttackDetected => "Attack detected",
        K::AdminAction => "Changed by an operator",
        K::ProfileUpdated => "Profile updated",
    }
}
