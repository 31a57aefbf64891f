//! `GET|POST /account/factors`: the owner's second factors — enable the authenticator app
//! (INTERFACE: a button `name="action" value="totp_start"`; then the secret in
//! `data-totp-secret` with its QR code, rendered here as SVG, and a form with `totp_code` and
//! `value="totp_confirm"`; confirmed, the recovery codes in `data-recovery-codes`, one per
//! child element), disable it, regenerate the recovery codes, and the "second factor at
//! every sign-in" setting. Its markup is `templates/partials/factors_totp.html`, ready for
//! the security page to include. Every change needs a sign-in of the last 5 minutes (else the
//! sign-in form, `reauth=1`, and back).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::accounts::model::Account;
use crate::domain::signin::factors::FactorSummary;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};

const PATH: &str = "/account/factors";
/// How recent the sign-in must be for a change.
const REAUTH_SECS: i64 = 300;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(PATH, get(factors_get).post(factors_post))
}

/// The page's form.
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

/// An enrolment being shown: the secret and its QR code (a data URI of an SVG).
pub struct EnrolView {
    secret: String,
    qr: String,
}

/// The factors page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/factors.html")]
pub struct FactorsPage {
    csrf_token: String,
    summary: FactorSummary,
    enrol: Option<EnrolView>,
    recovery_codes: Vec<String>,
    error: Option<&'static str>,
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

async fn account_of(state: &AppState, user: &CurrentUser) -> Result<Account, HttpError> {
    state
        .accounts
        .find_by_id(&user.user_id)
        .await?
        .ok_or(HttpError::SignInRequired { next: PATH.into() })
}

async fn page(state: &AppState, user: &CurrentUser, a: &Account) -> Result<FactorsPage, HttpError> {
    Ok(FactorsPage {
        csrf_token: user.session.csrf_token(state).await?,
        summary: state.login.factor_summary(a).await?,
        enrol: None,
        recovery_codes: Vec::new(),
        error: None,
    })
}

/// `GET /account/factors`.
pub async fn factors_get(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, HttpError> {
    let account = account_of(&state, &user).await?;
    Ok(page(&state, &user, &account).await?.into_response())
}

/// `POST /account/factors`: one change, after a recent sign-in.
pub async fn factors_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, .. }: CsrfForm<FactorsForm>,
) -> Result<Response, HttpError> {
    if (state.clock.now() - user.auth_at).whole_seconds() > REAUTH_SECS {
        let to = format!("/login?reauth=1&next={}", urlencode(PATH));
        return Ok(Redirect::to(&to).into_response());
    }
    let account = account_of(&state, &user).await?;
    let login = &state.login;
    let mut codes = None;
    let mut enrol = None;
    let mut error = None;
    match form.action.as_str() {
        "totp_start" => enrol = login.totp_start(&account).await?,
        "totp_confirm" => match login.totp_confirm(&ctx, &account, &form.totp_code).await? {
            Some(c) => codes = Some(c),
            None => {
                error = Some("That code is not right. Check the app's clock and try again.");
                enrol = login.totp_start(&account).await?;
            }
        },
        "totp_disable" => _ = login.totp_disable(&ctx, &account).await?,
        "recovery_regenerate" => codes = login.recovery_regenerate(&ctx, &account).await?,
        "require_mfa_on" => login.set_require_mfa(&account, true).await?,
        "require_mfa_off" => login.set_require_mfa(&account, false).await?,
        _ => return Err(HttpError::BadRequest("Unknown action.")),
    }
    let account = account_of(&state, &user).await?;
    let mut p = page(&state, &user, &account).await?;
    p.enrol = enrol.map(|e| EnrolView {
        qr: qr_data_uri(&e.url),
        secret: e.secret,
    });
    (p.recovery_codes, p.error) = (codes.unwrap_or_default(), error);
    Ok(p.into_response())
}
