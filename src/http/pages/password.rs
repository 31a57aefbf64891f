//! `GET|POST /password/forgot` and `GET|POST /password/reset`. Asking for a link answers the
//! same page whether or not the address has an account. A pending request (`?next=` on the
//! forgot page) waits in the session for the mailed link, and the reset ends at the sign-in
//! page that continues to it (`detour.rs`); the link itself carries no `next`.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::accounts::error::AccountError;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::forms::Form;
use crate::domain::signin::pass::Gate;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;
use crate::http::pages::detour::{self, app_name};

const GATE: Gate = Gate::Form(Form::Forgot);

/// The reset form's answer when the two passwords differ.
const MISMATCH: &str = "The two passwords differ. Enter the new password twice.";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_get).post(forgot_post))
        .route("/password/reset", get(reset_get).post(reset_post))
}

/// The forgot-password page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/forgot.html")]
pub struct ForgotPage {
    csrf_token: String,
    sent: bool,
    error: Option<&'static str>,
    challenge: Option<challenge::ChallengeView>,
    /// The form's action, keeping `next`.
    action: String,
    /// `?next=…` for the link back to the sign-in page.
    next_query: String,
    /// The application asking, when `next` is its authorization request.
    app_name: Option<String>,
}

impl ForgotPage {
    async fn new(
        state: &AppState,
        session: &WebSession,
        next: Option<&str>,
    ) -> Result<Self, HttpError> {
        Ok(Self {
            csrf_token: session.csrf_token(state).await?,
            sent: false,
            error: None,
            challenge: None,
            action: detour::with_next("/password/forgot", next),
            next_query: detour::next_query(next),
            app_name: app_name(state, next).await?,
        })
    }
}
crate::page!(
    ForgotPage,
    "pages/forgot.html",
    [
        csrf_token, sent, error, challenge, action, next_query, app_name
    ]
);

/// The new-password page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/reset.html")]
pub struct ResetPage {
    csrf_token: String,
    token: String,
    usable: bool,
    error: Option<&'static str>,
    /// The error is about the confirmation (the two differ), not the password itself.
    confirm_invalid: bool,
    /// `?next=…` (the session's pending request) for "ask for a new link".
    next_query: String,
    /// The application asking, when the pending request is its authorization request.
    app_name: Option<String>,
}

impl ResetPage {
    /// The page for `token`, naming the request this browser's detour started from.
    async fn new(
        state: &AppState,
        session: &WebSession,
        token: String,
        usable: bool,
    ) -> Result<Self, HttpError> {
        let next = session.detour().await?;
        Ok(Self {
            csrf_token: session.csrf_token(state).await?,
            token,
            usable,
            error: None,
            confirm_invalid: false,
            next_query: detour::next_query(next.as_deref()),
            app_name: app_name(state, next.as_deref()).await?,
        })
    }
}
crate::page!(
    ResetPage,
    "pages/reset.html",
    [
        csrf_token,
        token,
        usable,
        error,
        confirm_invalid,
        next_query,
        app_name
    ]
);

/// The forgot form.
#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
    #[serde(flatten)]
    answers: challenge::Answers,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for ForgotForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The reset form.
#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: SecretString,
    /// The password again (the page asks for it; a script may leave it out).
    password_confirm: Option<SecretString>,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for ResetForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The forgot page's query: the pending request.
#[derive(Deserialize)]
pub struct ForgotQuery {
    next: Option<String>,
}

/// The reset link's query.
#[derive(Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
}

/// `GET /password/forgot`.
pub async fn forgot_get(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    session: WebSession,
    Query(q): Query<ForgotQuery>,
) -> Result<Response, HttpError> {
    // The network already asked past the rung: the CAPTCHA now, so one submit is enough.
    let mut page = ForgotPage::new(&state, &session, q.next.as_deref()).await?;
    page.challenge = challenge::up_front(&state, &session, &ctx, GATE, None).await?;
    Ok(page.into_response())
}

/// `POST /password/forgot`.
pub async fn forgot_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<ForgotQuery>,
    CsrfForm { form, session }: CsrfForm<ForgotForm>,
) -> Result<Response, HttpError> {
    let next = q.next.as_deref();
    let answer = challenge::answer(&state, &session, &form.answers, ctx.ip, GATE).await?;
    match state.login.gate_form(&ctx, Form::Forgot, answer).await {
        Ok(()) => challenge::release(&session, GATE).await?,
        Err(SignInError::ChallengeRequired { work }) => {
            let mut page = ForgotPage::new(&state, &session, next).await?;
            page.error = Some("Please confirm you're not a robot and send the form again.");
            page.challenge = Some(challenge::show(&state, &session, GATE, work).await?);
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    state.resets.request(&ctx, &form.email).await?;
    // Kept whether or not the address has an account: the answer is the same either way.
    session.keep_detour(next).await?;
    let mut page = ForgotPage::new(&state, &session, next).await?;
    page.sent = true;
    Ok(page.into_response())
}

/// `GET /password/reset?token=`.
pub async fn reset_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<ResetQuery>,
) -> Result<Response, HttpError> {
    let token = q.token.unwrap_or_default();
    let usable = state.resets.is_usable(&token).await?;
    let page = ResetPage::new(&state, &session, token, usable).await?;
    Ok(if usable {
        page.into_response()
    } else {
        (StatusCode::BAD_REQUEST, page).into_response()
    })
}

/// `POST /password/reset`.
pub async fn reset_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    CsrfForm { form, session }: CsrfForm<ResetForm>,
) -> Result<Response, HttpError> {
    use secrecy::ExposeSecret;
    let differs = form.password_confirm.as_ref().is_some_and(|c| {
        let (a, b) = (c.expose_secret().as_bytes(), form.password.expose_secret());
        !bool::from(subtle::ConstantTimeEq::ct_eq(a, b.as_bytes()))
    });
    if differs {
        // Nothing changed: the form again, the link still usable.
        let usable = state.resets.is_usable(&form.token).await?;
        let mut page = ResetPage::new(&state, &session, form.token, usable).await?;
        page.error = Some(MISMATCH);
        page.confirm_invalid = true;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    match state.resets.reset(&ctx, &form.token, form.password).await {
        Ok(()) => {
            // This browser's session is over too; the request it was on its way to is not.
            let next = session.detour().await?;
            session.end().await?;
            let to = detour::with_next("/login?reset=1", next.as_deref());
            Ok(Redirect::to(&to).into_response())
        }
        Err(AccountError::InvalidInput(msg)) => {
            let usable = state.resets.is_usable(&form.token).await?;
            let mut page = ResetPage::new(&state, &session, form.token, usable).await?;
            page.error = Some(msg);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
