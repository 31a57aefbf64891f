//! The step-up on `/login`: a sign-in whose right password still owes a second factor keeps
//! its pending step-up in the session (`WebSession::set_step_up`; the session is signed in as
//! nobody meanwhile) and shows the factor's challenge inside an element carrying
//! `data-challenge="email"` (or `"totp"`, `"webauthn"`), with a button per other factor the
//! account has (`name="factor"`). The answer comes back as `POST /login` with `email_code` or
//! `totp_code` (with or without the username and password again), or, for the passkey, from
//! the page's own script (`http/passkeys/step_up.rs`); only the right one signs in.

use axum::http::StatusCode;
use axum::response::Response;

use crate::app::state::AppState;
use crate::domain::context::RequestContext;
use crate::domain::mfa::Factor;
use crate::domain::mfa::pending::PendingStepUp;
use crate::domain::signin::step_up::{StepUpAnswer, StepUpOutcome};
use crate::http::error::HttpError;
use crate::http::extract::WebSession;

/// What the login page shows for a pending step-up.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepUpView {
    /// The factor asked for (`data-challenge`).
    pub factor: &'static str,
    /// The other factors on offer: (value of the `factor` button, label).
    pub others: Vec<(&'static str, &'static str)>,
    /// For the e-mail: whether a code was mailed (else the hourly limit held it back).
    pub mailed: bool,
}

impl StepUpView {
    /// The view of `pending`.
    pub fn of(pending: &PendingStepUp) -> Self {
        Self {
            factor: pending.factor.as_str(),
            others: pending
                .offered
                .iter()
                .filter(|f| **f != pending.factor || **f == Factor::Email)
                .map(|f| (f.as_str(), choose_label(*f, pending.factor)))
                .collect(),
            mailed: pending.code.as_ref().is_some_and(|c| c.mailed),
        }
    }

    /// Whether the e-mailed code is asked for.
    pub fn is_email(&self) -> bool {
        self.factor == "email"
    }

    /// Whether the authenticator app's code is asked for.
    pub fn is_totp(&self) -> bool {
        self.factor == "totp"
    }

    /// Whether the passkey is asked for (the page's script runs the assertion).
    pub fn is_webauthn(&self) -> bool {
        self.factor == "webauthn"
    }
}

fn choose_label(f: Factor, current: Factor) -> &'static str {
    match f {
        Factor::Email if current == Factor::Email => "Send a new code",
        Factor::Email => "Email me a code instead",
        Factor::Totp => "Use my authenticator app instead",
        Factor::Webauthn => "Use a passkey instead",
    }
}

/// The step-up fields a `POST /login` may carry.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StepUpFields {
    /// The e-mailed code.
    #[serde(default)]
    pub email_code: Option<String>,
    /// The authenticator app's code, or a recovery code.
    #[serde(default)]
    pub totp_code: Option<String>,
    /// Another factor chosen.
    #[serde(default)]
    pub factor: Option<String>,
}

impl StepUpFields {
    /// The answer these fields give, if any (a chosen factor wins over a typed code).
    pub fn answer(&self) -> Option<StepUpAnswer> {
        fn filled(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|s| !s.is_empty())
        }
        if let Some(f) = self.factor.as_deref().and_then(Factor::parse) {
            return Some(StepUpAnswer::Choose(f));
        }
        if let Some(code) = filled(self.email_code.as_deref()) {
            return Some(StepUpAnswer::Code(
                Factor::Email,
                code.chars().take(64).collect(),
            ));
        }
        filled(self.totp_code.as_deref())
            .map(|code| StepUpAnswer::Code(Factor::Totp, code.chars().take(64).collect()))
    }
}

/// What answering led to, for the login handler and the passkey's JSON endpoint.
pub enum Answered {
    /// Signed in: the device cookie's value when one is due (`with_device_cookie`).
    SignedIn(Option<String>),
    /// Show the step-up again with this error.
    Again(StepUpView, Option<&'static str>),
    /// The step-up was dropped: the form again, to start over.
    Dropped,
}

/// Answers the session's pending step-up.
pub async fn answer(
    state: &AppState,
    ctx: &RequestContext,
    session: &WebSession,
    pending: PendingStepUp,
    answer: StepUpAnswer,
) -> Result<Answered, HttpError> {
    match state.login.answer_step_up(ctx, pending, answer).await? {
        StepUpOutcome::Passed(signed_in) => {
            session.sign_in_with(state, &signed_in).await?;
            let a = &signed_in.account;
            let note = signed_in.note.clone();
            crate::http::pages::security::sessions::index_new_session(
                state,
                session,
                ctx,
                &a.id,
                a.session_epoch,
                note,
            )
            .await?;
            Ok(Answered::SignedIn(signed_in.new_device_cookie))
        }
        StepUpOutcome::Pending { pending, error } => {
            session.set_step_up(&pending).await?;
            Ok(Answered::Again(StepUpView::of(&pending), error))
        }
        StepUpOutcome::Dropped => {
            session.clear_step_up().await?;
            Ok(Answered::Dropped)
        }
    }
}

/// `res` with the device cookie a passed step-up hands out, if one is due.
pub fn with_device_cookie(state: &AppState, mut res: Response, cookie: Option<&str>) -> Response {
    if let Some(value) = cookie {
        let https = state.config.is_https();
        let name = crate::http::pages::login::device_cookie_name(https);
        crate::http::pages::login::set_device_cookie(&mut res, name, value, https);
    }
    res
}

/// The status a step-up page answers with (INTERFACE: a challenge is a 401).
pub const STATUS: StatusCode = StatusCode::UNAUTHORIZED;
