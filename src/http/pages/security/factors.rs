//! The second factors' section of the account security page (`<section id="factors">`,
//! `templates/partials/security_factors.html`): the authenticator app (TOTP) and its recovery
//! codes, the e-mailed code's availability, and the owner's "ask at every sign-in" setting;
//! `POST /account/security/factors` with `action` = `totp_start` (INTERFACE: the page then
//! shows the key in `data-totp-secret` with its QR code, an SVG rendered here, and a form with
//! `totp_code` and `value="totp_confirm"`), `totp_confirm` (the recovery codes, once, in
//! `data-recovery-codes`), `totp_disable`, `recovery_regenerate` (new codes, once),
//! `require_mfa_on` / `require_mfa_off`. Every change needs the page's re-authentication
//! (`require_reauth`), and every one but `require_mfa_on` on an account its factor guards a
//! factor proved in the session too (`require_factor`); confirming an app proves it.
//! `/account/factors`, where these lived before, redirects here (and its form posts are
//! answered here).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::account_security::reauth::ReauthProof;
use crate::domain::accounts::model::Account;
use crate::domain::context::RequestContext;
use crate::domain::mfa::totp::Enrolment;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};
use crate::http::pages::security::{
    Done, Notice, PATH, render_with, require_factor, require_reauth,
};

/// Where the section's forms post.
pub const FACTORS_PATH: &str = "/account/security/factors";
/// The old page of the factors: kept as an alias of this section.
const OLD_PATH: &str = "/account/factors";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(FACTORS_PATH, post(factors_post))
        .route(OLD_PATH, get(old_page_get).post(factors_post))
}

/// An enrolment being shown: the key (base32) and its QR code (a data URI of an SVG).
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnrolView {
    /// The key, base32 (`data-totp-secret`).
    pub secret: String,
    /// The `otpauth://` URL as a QR code: `data:image/svg+xml;base64,…`.
    pub qr: String,
}

/// What the factors' section shows.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FactorsView {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// Its unused recovery codes.
    pub codes_left: i64,
    /// A verified address (the e-mailed code is available).
    pub email_verified: bool,
    /// The owner's "ask at every sign-in" setting.
    pub require_mfa: bool,
    /// An enrolment in progress, shown after `totp_start`.
    pub enrol: Option<EnrolView>,
    /// Recovery codes just made (shown this once).
    pub recovery_codes: Vec<String>,
}

/// What an action has to show once, besides the stored state.
#[derive(Debug, Default)]
pub(crate) struct Shown {
    enrol: Option<Enrolment>,
    recovery_codes: Vec<String>,
}

/// The section's data for `account`, with what `shown` carries.
pub(crate) async fn load(
    state: &AppState,
    account: &Account,
    shown: Shown,
) -> Result<FactorsView, HttpError> {
    let summary = state.login.factor_summary(account).await?;
    Ok(FactorsView {
        totp: summary.totp,
        codes_left: summary.recovery_codes_left,
        email_verified: summary.email_verified,
        require_mfa: summary.require_mfa,
        enrol: shown.enrol.map(|e| EnrolView {
            qr: qr_data_uri(&e.url),
            secret: e.secret,
        }),
        recovery_codes: shown.recovery_codes,
    })
}

fn qr_data_uri(url: &str) -> String {
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(svg);
    format!("data:image/svg+xml;base64,{b64}")
}

/// The section's form.
#[derive(Deserialize)]
pub struct FactorsForm {
    action: String,
    #[serde(default)]
    totp_code: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for FactorsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `GET /account/factors`: the section's old page, now the security page's section.
pub async fn old_page_get() -> Redirect {
    Redirect::to(&format!("{PATH}#factors"))
}

const WRONG_CODE: &str = "That code is not right. Check the app's clock and try again.";

/// The session key of the app enrolment this session started (`Enrolment::mark`): only this
/// session is shown its secret again, and only it confirms it.
const TOTP_ENROLMENT: &str = "totp_enrolment";

/// Starts an app enrolment, or shows again the one this session started.
async fn start_enrolment(
    state: &AppState,
    user: &CurrentUser,
    account: &Account,
) -> Result<Option<Enrolment>, HttpError> {
    let held = user.session.value(TOTP_ENROLMENT).await?;
    let enrol = state.login.totp_start(account, held.as_deref()).await?;
    if let Some(e) = &enrol {
        user.session.put(TOTP_ENROLMENT, &e.mark()).await?;
    }
    Ok(enrol)
}

/// Confirms the enrolment this session started with the form's first code: the recovery
/// codes, or `None` for a wrong code (or another session's enrolment).
async fn confirm_enrolment(
    state: &AppState,
    ctx: &RequestContext,
    user: &CurrentUser,
    account: &Account,
    form: &FactorsForm,
) -> Result<Option<Vec<String>>, HttpError> {
    let held = user.session.value(TOTP_ENROLMENT).await?;
    let proven = user.session.sign_in_proved_a_factor().await?;
    let confirmed = state
        .login
        .totp_confirm(ctx, account, &form.totp_code, (held.as_deref(), proven))
        .await?;
    if confirmed.is_some() {
        user.session.take(TOTP_ENROLMENT).await?;
    }
    Ok(confirmed)
}

/// `POST /account/security/factors` (and `/account/factors`): one change, after the page's
/// re-authentication. What must be shown once (the key, the recovery codes) is rendered in
/// the answer; the other changes redirect back (`?done=…`).
pub async fn factors_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, .. }: CsrfForm<FactorsForm>,
) -> Result<Response, HttpError> {
    if let Some(refused) = require_reauth(&state, &user).await? {
        return Ok(refused);
    }
    let Some(account) = state.accounts.find_by_id(&user.user_id).await? else {
        return Err(HttpError::SignInRequired { next: PATH.into() });
    };
    // Asking for the factor at every sign-in only raises the bar: the password's
    // re-authentication is enough. Every other action changes what a sign-in can be made with.
    if form.action != "require_mfa_on"
        && let Some(refused) = require_factor(&state, &user, &account).await?
    {
        return Ok(refused);
    }
    let login = &state.login;
    let mut shown = Shown::default();
    let (mut notice, mut status) = (Notice::default(), StatusCode::OK);
    match form.action.as_str() {
        "totp_start" => {
            shown.enrol = start_enrolment(&state, &user, &account).await?;
            if shown.enrol.is_none() {
                notice.info = Some("Your authenticator app is already on.");
            }
        }
        "totp_confirm" => match confirm_enrolment(&state, &ctx, &user, &account, &form).await? {
            Some(codes) => {
                shown.recovery_codes = codes;
                notice.info = Some("Your authenticator app is on.");
                // The code just proved the new app: this session has a factor now.
                let mark = state.security.enrolled_mark(&account.id, ReauthProof::Totp);
                user.session.mark_reauth(&mark).await?;
            }
            None => {
                (notice.error, status) = (Some(WRONG_CODE), StatusCode::BAD_REQUEST);
                let held = user.session.value(TOTP_ENROLMENT).await?;
                shown.enrol = login.totp_held(&account, held.as_deref()).await?;
            }
        },
        "recovery_regenerate" => match login.recovery_regenerate(&ctx, &account).await? {
            Some(codes) => {
                shown.recovery_codes = codes;
                notice.info = Some("New recovery codes: the old ones no longer work.");
            }
            None => {
                notice.error =
                    Some("Recovery codes come with an authenticator app: set one up first.");
                status = StatusCode::BAD_REQUEST;
            }
        },
        "totp_disable" => {
            login.totp_disable(&ctx, &account).await?;
            return Ok(Done::TotpOff.redirect());
        }
        "require_mfa_on" | "require_mfa_off" => {
            let on = form.action == "require_mfa_on";
            login.set_require_mfa(&ctx, &account, on).await?;
            let done = if on {
                Done::MfaAlways
            } else {
                Done::MfaWhenRisky
            };
            return Ok(done.redirect());
        }
        _ => return Err(HttpError::BadRequest("Unknown action.")),
    }
    render_with(&state, &user, notice, status, shown).await
}
