//! `/account/security`: the signed-in user's factors, sessions and devices, password and recent
//! security events, one server-rendered page with a section each (stable ids: `factors`,
//! `passkeys`, `sessions`, `password`, `events`). Every change needs a re-authentication within
//! five minutes (`reauth.rs`); each section's data and forms live in a file of its own here.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::account_security::error::SecurityError;
use crate::domain::accounts::model::Account;
use crate::http::error::HttpError;
use crate::http::extract::{CurrentUser, WebSession};
use crate::http::pages::account::{EventRow, event_rows};

/// The second factors' section (TOTP, recovery codes, "ask at every sign-in"):
/// `POST /account/security/factors`.
pub mod factors;
/// The passkeys' section.
pub mod passkeys;
/// The password section: `POST /account/security/password`.
pub mod password;
/// `POST /account/security/reauth`.
pub mod reauth;
/// Sessions and devices: `POST /account/security/sessions`; indexing at sign-in.
pub mod sessions;

/// The page's own path.
pub const PATH: &str = "/account/security";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(security_get))
        .route("/account/security/reauth", post(reauth::reauth_post))
        .route(reauth::STEP_UP_PATH, post(reauth::step_up_post))
        .route("/account/security/sessions", post(sessions::sessions_post))
        .route("/account/security/password", post(password::password_post))
        .merge(factors::router())
}

/// What an action did, carried in the redirect back to the page (`?done=…`) so a reload
/// repeats nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Done {
    /// One session or grant ended.
    SignedOut,
    /// Every other session and grant ended.
    SignedOutOthers,
    /// A session or grant was reported and ended.
    NotMe,
    /// The password was changed.
    PasswordChanged,
    /// The authenticator app was turned off.
    TotpOff,
    /// The second factor is asked for at every sign-in.
    MfaAlways,
    /// The second factor is asked for when a sign-in looks risky.
    MfaWhenRisky,
}

impl Done {
    const ALL: [Self; 7] = [
        Self::SignedOut,
        Self::SignedOutOthers,
        Self::NotMe,
        Self::PasswordChanged,
        Self::TotpOff,
        Self::MfaAlways,
        Self::MfaWhenRisky,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::SignedOutOthers => "signed_out_others",
            Self::NotMe => "not_me",
            Self::PasswordChanged => "password_changed",
            Self::TotpOff => "totp_off",
            Self::MfaAlways => "mfa_always",
            Self::MfaWhenRisky => "mfa_when_risky",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::SignedOut => "Signed out.",
            Self::SignedOutOthers => "Every other session and app was signed out.",
            Self::NotMe => {
                "We ended it, revoked the app access granted since, and sent you an email. \
                 Whoever it was may know your password: change it now, below."
            }
            Self::PasswordChanged => {
                "Your password was changed. Every other session and app was signed out."
            }
            Self::TotpOff => {
                "Your authenticator app was turned off; its recovery codes no longer work."
            }
            Self::MfaAlways => "Your second factor will be asked for at every sign-in.",
            Self::MfaWhenRisky => {
                "Your second factor will be asked for when a sign-in looks risky."
            }
        }
    }

    /// The redirect back to the page.
    pub(crate) fn redirect(self) -> Response {
        Redirect::to(&format!("{PATH}?done={}", self.code())).into_response()
    }
}

/// The page's query.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// A message shown at the top of the page after an action.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Notice {
    /// A success or information message.
    pub info: Option<&'static str>,
    /// An error message.
    pub error: Option<&'static str>,
    /// Whether to ask for a password change (after "this wasn't me").
    pub ask_password_change: bool,
}

impl Notice {
    /// An error message.
    pub fn error(msg: &'static str) -> Self {
        Self {
            error: Some(msg),
            ..Self::default()
        }
    }
}

/// The account security page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/security.html")]
pub struct SecurityPage {
    email: String,
    csrf_token: String,
    /// Whether a change is allowed now (a re-authentication within five minutes).
    reauth_fresh: bool,
    /// Whether changing the sign-in methods needs this session to prove a second factor
    /// first (`reauth.rs`'s step-up form is shown).
    factor_needed: bool,
    notice: Notice,
    /// After "this wasn't me": the password form comes with a request to use it.
    ask_password_change: bool,
    /// The factors' section (its partial reads it).
    pub factors: factors::FactorsView,
    /// The passkeys' section (its partial reads it).
    pub passkeys: passkeys::PasskeysView,
    sessions: Vec<sessions::SessionRow>,
    events: Vec<EventRow>,
}
crate::page!(
    SecurityPage,
    "pages/security.html",
    [
        email,
        csrf_token,
        reauth_fresh,
        factor_needed,
        notice,
        ask_password_change,
        factors,
        passkeys,
        sessions,
        events
    ]
);

/// `GET /account/security`.
pub async fn security_get(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    user: CurrentUser,
) -> Result<Response, HttpError> {
    let done = q
        .done
        .and_then(|d| Done::ALL.into_iter().find(|x| x.code() == d));
    let notice = Notice {
        info: done.map(Done::message),
        error: None,
        ask_password_change: done == Some(Done::NotMe),
    };
    render(&state, &user, notice, StatusCode::OK).await
}

/// The page for `user` with `notice`, answered with `status` (an action's outcome).
pub(crate) async fn render(
    state: &AppState,
    user: &CurrentUser,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, HttpError> {
    render_with(state, user, notice, status, factors::Shown::default()).await
}

/// `render`, with what the factors' section shows once (a key being enrolled, new recovery
/// codes).
pub(crate) async fn render_with(
    state: &AppState,
    user: &CurrentUser,
    notice: Notice,
    status: StatusCode,
    shown: factors::Shown,
) -> Result<Response, HttpError> {
    let Some(account) = state.accounts.find_by_id(&user.user_id).await? else {
        user.session.end().await?;
        return Err(HttpError::SignInRequired { next: PATH.into() });
    };
    let mark = user.session.reauth_mark().await?;
    let reauth_fresh = state
        .security
        .check_reauth(&account.id, mark.as_deref())
        .is_ok();
    let factor_needed = factor_check(state, user, &account).await?.is_err();
    let events = state.security.recent_events(&account.id, 20).await?;
    let factors = factors::load(state, &account, shown).await?;
    let page = SecurityPage {
        email: account.email,
        csrf_token: user.session.csrf_token(state).await?,
        reauth_fresh,
        factor_needed,
        ask_password_change: notice.ask_password_change,
        notice,
        factors,
        passkeys: passkeys::load(state, &account.id).await?,
        sessions: sessions::load(state, user).await?,
        events: event_rows(events),
    };
    Ok((status, page).into_response())
}

/// Whether the session may make a change now; if not, the page again with the re-authentication
/// form and a 403, for the caller to answer.
pub(crate) async fn require_reauth(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Option<Response>, HttpError> {
    let mark = user.session.reauth_mark().await?;
    match state.security.check_reauth(&user.user_id, mark.as_deref()) {
        Ok(()) => Ok(None),
        Err(e) => answer(state, user, e).await.map(Some),
    }
}

/// Whether this session may change `account`'s sign-in methods as far as its second factor
/// goes (`SecurityService::check_factor_change`; the re-authentication is checked apart).
pub(crate) async fn factor_check(
    state: &AppState,
    user: &CurrentUser,
    account: &Account,
) -> Result<Result<(), SecurityError>, HttpError> {
    let guarded = state.login.factor_guard(account).await?;
    let (amr, mark) = (user.session.amr().await?, user.session.reauth_mark().await?);
    Ok(state
        .security
        .check_factor_change(&account.id, guarded, &amr, mark.as_deref()))
}

/// After `require_reauth`, for a change to `account`'s sign-in methods: the second factor
/// (`factor_check`); if it is missing, the page again with the step-up form, 403.
pub(crate) async fn require_factor(
    state: &AppState,
    user: &CurrentUser,
    account: &Account,
) -> Result<Option<Response>, HttpError> {
    match factor_check(state, user, account).await? {
        Ok(()) => Ok(None),
        Err(e) => answer(state, user, e).await.map(Some),
    }
}

/// `answer` for a refused password check on this page (re-authentication, the current
/// password of a change); when the domain ended the session for repeated wrong passwords
/// (`SessionEnded`), the browser session is deleted too and sent to sign in.
pub(crate) async fn password_refused(
    state: &AppState,
    user: &CurrentUser,
    session: &WebSession,
    e: SecurityError,
) -> Result<Response, HttpError> {
    if matches!(e, SecurityError::SessionEnded) {
        session.end().await?;
        return Ok(Redirect::to("/login").into_response());
    }
    answer(state, user, e).await
}

/// The page again with an expected outcome's message and status; a refusal for rate or load,
/// and a failure, answer as errors (with `Retry-After`, or the generic 5xx page).
pub(crate) async fn answer(
    state: &AppState,
    user: &CurrentUser,
    e: SecurityError,
) -> Result<Response, HttpError> {
    let (status, message, retry_after) = crate::http::error::security(&e);
    if status.is_server_error() || retry_after.is_some() {
        return Err(e.into());
    }
    render(state, user, Notice::error(message), status).await
}
