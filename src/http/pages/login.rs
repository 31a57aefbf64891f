//! `GET /login` and `POST /login`: the sign-in form and its outcomes (INTERFACE.md): 303 with a
//! fresh session on success, 401 with the same generic form for any wrong credential.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::signin::Attempt;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::pass::Gate;
use crate::http::error::HttpError;
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, WebSession};
use crate::http::pages::challenge;
use crate::http::pages::detour::{app_name, next_query, target, with_next};
use crate::http::pages::security::sessions::index_new_session;
use crate::http::pages::step_up::{self, Answered};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_get).post(login_post))
}

/// Query of `/login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    registered: Option<String>,
    /// Set after a password reset.
    reset: Option<String>,
    /// Show the form even to a signed-in user (`prompt=login`, `max_age`).
    reauth: Option<String>,
    /// Prefill the email (OIDC `login_hint`).
    login_hint: Option<String>,
}

/// The sign-in form's fields (a step-up's answer may come without the username and password).
#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<SecretString>,
    /// The CAPTCHA answer or provider token, when a challenge was shown.
    #[serde(flatten)]
    answers: challenge::Answers,
    /// A step-up's answer, when one is pending.
    #[serde(flatten)]
    step_up: step_up::StepUpFields,
    /// "Keep me signed in" (any value: checked).
    remember: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

/// What the page says when the sign-in added a challenge (the password is never echoed back).
pub const CONFIRM_AGAIN: &str = "Please confirm you're not a robot and enter your password again.";

impl CsrfProtected for LoginForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The sign-in page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    csrf_token: String,
    action: String,
    username: String,
    error: Option<&'static str>,
    /// The error is about the password (`aria-invalid`, focus there).
    password_invalid: bool,
    notice: Option<&'static str>,
    registration_open: bool,
    /// Whether "keep me signed in" is offered (`AUTHD_REMEMBER_IDLE_SECS` > 0).
    remember_offered: bool,
    /// Whether it is ticked (kept across a refused attempt).
    remember: bool,
    /// A CAPTCHA to show.
    challenge: Option<challenge::ChallengeView>,
    /// A pending step-up's challenge to show (instead of the password).
    step_up: Option<step_up::StepUpView>,
    /// Whether the passkey button shows.
    passkeys_enabled: bool,
    /// Where the passkey sign-in's script posts its answer (with `next`).
    passkey_finish: String,
    /// Where a passkey step-up's script posts its answer (with `next`).
    step_up_passkey_finish: String,
    /// The application asking, when `next` is its authorization request (INTERFACE: the
    /// sign-in page shows the client's `--name`).
    app_name: Option<String>,
    /// `?next=…` for the links to the detours (register, forgot), so they keep the request.
    next_query: String,
}
crate::page!(
    LoginPage,
    "pages/login.html",
    [
        csrf_token,
        action,
        username,
        error,
        password_invalid,
        notice,
        registration_open,
        remember_offered,
        remember,
        challenge,
        step_up,
        passkeys_enabled,
        passkey_finish,
        step_up_passkey_finish,
        app_name,
        next_query
    ]
);

impl LoginPage {
    /// The form, fresh or after an error, with the session's token.
    async fn new(
        state: &AppState,
        session: &WebSession,
        next: Option<&str>,
        username: &str,
    ) -> Result<Self, HttpError> {
        Ok(Self {
            csrf_token: session.csrf_token(state).await?,
            action: action(next),
            username: username.chars().take(254).collect(),
            error: None,
            password_invalid: false,
            notice: None,
            registration_open: state.config.registration_open,
            remember_offered: state.session_policy.remember_offered(),
            remember: false,
            challenge: None,
            step_up: None,
            passkeys_enabled: state.passkeys.is_enabled(),
            passkey_finish: with_next("/login/passkey/finish", next),
            step_up_passkey_finish: with_next("/login/step-up/passkey/finish", next),
            app_name: app_name(state, next).await?,
            next_query: next_query(next),
        })
    }
}

fn action(next: Option<&str>) -> String {
    with_next("/login", next)
}

/// `GET /login`.
pub async fn login_get(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    session: WebSession,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    if q.reauth.is_none() && session.user_id().await?.is_some() {
        return Ok(Redirect::to(target(q.next.as_deref()).as_str()).into_response());
    }
    let hint = q.login_hint.as_deref().unwrap_or_default();
    let mut page = LoginPage::new(&state, &session, q.next.as_deref(), hint).await?;
    page.notice = match (q.registered, q.reset) {
        (Some(_), _) => Some("If that address could be registered, you can now sign in."),
        (_, Some(_)) => Some("Your password was changed. Sign in with the new one."),
        _ => None,
    };
    // A pending step-up is shown again (a reload, the back button).
    page.step_up = session
        .step_up()
        .await?
        .map(|p| step_up::StepUpView::of(&p));
    if page.step_up.is_none() {
        // The ladder already has this browser's source at the challenge rung: the CAPTCHA
        // now, so one submit is enough (`domain/signin/pass.rs`).
        let device = cookie_value(&headers, device_cookie_name(state.config.is_https()));
        page.challenge = challenge::up_front(&state, &session, &ctx, Gate::SignIn, device).await?;
    }
    Ok(page.into_response())
}

/// `POST /login`: a step-up's answer when one is pending for this sign-in, else a sign-in.
pub async fn login_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
    CsrfForm { form, session }: CsrfForm<LoginForm>,
) -> Result<Response, HttpError> {
    let next = q.next.as_deref();
    // The new-sign-in mail names the application the sign-in is for.
    let ctx = ctx.for_app(app_name(&state, next).await?);
    if let Some(pending) = session.step_up().await? {
        let typed = form.username.as_deref().unwrap_or_default();
        if !pending.same_sign_in(typed) {
            session.clear_step_up().await?;
        } else if let Some(answer) = form.step_up.answer() {
            let answered = step_up::answer(&state, &ctx, &session, pending, answer);
            let (view, error) = match answered.await? {
                Answered::SignedIn(cookie) => {
                    let res = Redirect::to(target(next).as_str()).into_response();
                    return Ok(step_up::with_device_cookie(&state, res, cookie.as_deref()));
                }
                Answered::Again(view, error) => (Some(view), error),
                Answered::Dropped => (None, Some("Please sign in again.")),
            };
            let mut page = LoginPage::new(&state, &session, next, typed).await?;
            (page.step_up, page.error) = (view, error);
            return Ok((step_up::STATUS, page).into_response());
        } else if form.password.is_none() {
            let mut page = LoginPage::new(&state, &session, next, typed).await?;
            page.step_up = Some(step_up::StepUpView::of(&pending));
            return Ok((step_up::STATUS, page).into_response());
        }
    }
    sign_in(&state, &ctx, next, &headers, form, &session).await
}

/// A sign-in with the username and password.
async fn sign_in(
    state: &AppState,
    ctx: &crate::domain::context::RequestContext,
    next: Option<&str>,
    headers: &HeaderMap,
    form: LoginForm,
    session: &WebSession,
) -> Result<Response, HttpError> {
    // Without a pending step-up both fields are required, as ever.
    let (Some(username), Some(password)) = (form.username, form.password) else {
        return Err(HttpError::BadRequest("The form could not be read."));
    };
    let gate = Gate::SignIn;
    let challenge = challenge::answer(state, session, &form.answers, ctx.ip, gate).await?;
    let cookie_name = device_cookie_name(state.config.is_https());
    let device_cookie = cookie_value(headers, cookie_name);
    let attempt = Attempt {
        username: &username,
        password,
        device_cookie,
        challenge,
        force_step_up: session.force_step_up().await?,
    };
    let remember = form.remember.is_some();
    session.ask_remember(remember).await?;
    let mut page = LoginPage::new(state, session, next, &username).await?;
    page.remember = remember;
    let answer = state.login.login(ctx, attempt).await;
    if let Err(
        SignInError::InvalidCredentials
        | SignInError::ChallengeRequired { .. }
        | SignInError::RateLimited { .. },
    ) = &answer
    {
        // A sign-in the ladder refused may be the lock's or a block's (their notice mails the
        // owner an unlock link): the unlock page continues to the request this one was for.
        session.keep_detour_for_links(next).await?;
    }
    match answer {
        Ok(signed_in) => {
            challenge::release(session, gate).await?;
            session.sign_in_with(state, &signed_in).await?;
            let (epoch, note) = (signed_in.account.session_epoch, signed_in.note);
            index_new_session(state, session, ctx, &signed_in.account.id, epoch, note).await?;
            let mut res = Redirect::to(target(next).as_str()).into_response();
            if let Some(value) = signed_in.new_device_cookie {
                set_device_cookie(&mut res, cookie_name, &value, state.config.is_https());
            }
            return Ok(res);
        }
        Err(SignInError::InvalidCredentials) => {
            page.password_invalid = true;
            // A right answer in this attempt holds for the next submit; without one, the
            // challenge shows now if the next submit would meet it.
            challenge::hold(state, session, gate, challenge).await?;
            page.challenge = challenge::up_front(state, session, ctx, gate, device_cookie).await?;
            page.error = Some(if page.challenge.is_some() {
                "Incorrect email or password. Please confirm you're not a robot and enter your password again."
            } else {
                "Incorrect email or password."
            });
        }
        Err(SignInError::ChallengeRequired { work }) => {
            page.password_invalid = true;
            page.error = Some(CONFIRM_AGAIN);
            page.challenge = Some(challenge::show(state, session, gate, work).await?);
        }
        Err(SignInError::StepUpRequired(pending)) => {
            session.set_step_up(&pending).await?;
            page.step_up = Some(step_up::StepUpView::of(&pending));
        }
        Err(e) => return Err(e.into()),
    }
    // The page is rendered after the session changed, so its CSRF token is current.
    page.csrf_token = session.csrf_token(state).await?;
    Ok((StatusCode::UNAUTHORIZED, page).into_response())
}

/// The device cookie's name: `__Host-` prefixed under https.
pub(crate) fn device_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-authd_device"
    } else {
        "authd_device"
    }
}

/// The value of the request's cookie `name`, if it carries one.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A year-long, HttpOnly device cookie: the owner's browser stays known through an attack.
pub(crate) fn set_device_cookie(res: &mut Response, name: &str, value: &str, https: bool) {
    let secure = if https { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}
