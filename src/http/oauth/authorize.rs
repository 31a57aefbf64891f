//! `GET /authorize` and `POST /authorize/consent` (RFC 6749 §4.1.1, OIDC Core §3.1.2). The user
//! signs in through the same `/login` form, with its protections, and comes back here.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::oauth::authorize::{AuthorizeFailure, AuthorizeParams, AuthorizeRequest};
use crate::domain::oauth::error::OAuthCode;
use crate::domain::oauth::prompt::{AuthorizeStep, ReauthMark};
use crate::http::error::{ErrorPage, HttpError, urlencode};
use crate::http::extract::{CsrfForm, CsrfProtected, CurrentUser, WebSession};
use crate::http::middleware::ImageOrigin;

const PENDING: &str = "oauth_pending";
/// The session key of the `ReauthMark`: when a re-authentication answers which request.
const REAUTH: &str = "oauth_reauth";

/// The authorization request's query (each parameter at most once).
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    acr_values: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
    response_mode: Option<String>,
    id_token_hint: Option<String>,
}

impl From<AuthorizeQuery> for AuthorizeParams {
    fn from(q: AuthorizeQuery) -> Self {
        Self {
            client_id: q.client_id,
            redirect_uri: q.redirect_uri,
            response_type: q.response_type,
            scope: q.scope,
            state: q.state,
            nonce: q.nonce,
            code_challenge: q.code_challenge,
            code_challenge_method: q.code_challenge_method,
            prompt: q.prompt,
            max_age: q.max_age,
            login_hint: q.login_hint,
            acr_values: q.acr_values,
            request: q.request,
            request_uri: q.request_uri,
            response_mode: q.response_mode,
            id_token_hint: q.id_token_hint,
        }
    }
}

/// The consent page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/consent.html")]
pub struct ConsentPage {
    client_id: String,
    client_name: String,
    logo_uri: Option<String>,
    /// The application's home page, privacy policy and terms, when registered.
    client_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    scopes: Vec<String>,
    csrf_token: String,
    request_id: String,
}
crate::page!(
    ConsentPage,
    "pages/consent.html",
    [
        client_id,
        client_name,
        logo_uri,
        client_uri,
        policy_uri,
        tos_uri,
        scopes,
        csrf_token,
        request_id
    ]
);

/// The consent form.
#[derive(Deserialize)]
pub struct ConsentForm {
    request_id: String,
    consent: String,
    #[serde(default)]
    csrf_token: String,
}

impl CsrfProtected for ConsentForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The longest authorization request taken, as a query (a URL browsers and proxies carry, kept
/// in the session while it is pending).
const QUERY_MAX: usize = 8 * 1024;

fn parse_query(raw: Option<&str>) -> Result<AuthorizeQuery, HttpError> {
    let raw = raw.unwrap_or("");
    if raw.len() > QUERY_MAX {
        return Err(HttpError::BadRequest("The sign-in request is too long."));
    }
    serde_urlencoded::from_str(raw)
        .map_err(|_| HttpError::BadRequest("The sign-in request is malformed."))
}

pub(super) async fn validate(
    state: &AppState,
    raw: Option<&str>,
) -> Result<Result<AuthorizeRequest, Response>, HttpError> {
    let q = parse_query(raw)?;
    Ok(match state.oauth.validate_authorize(&q.into()).await? {
        Ok(req) => Ok(req),
        Err(AuthorizeFailure::Page(msg)) => Err((
            StatusCode::BAD_REQUEST,
            ErrorPage::new(StatusCode::BAD_REQUEST, msg),
        )
            .into_response()),
        Err(AuthorizeFailure::Redirect(e)) => {
            Err(Redirect::to(&e.location(state.config.issuer_str())).into_response())
        }
    })
}

/// Where to send the user to sign in, then come back to `raw`.
fn login_location(raw: &str, req: &AuthorizeRequest, reauth: bool) -> String {
    let next = format!("/authorize?{raw}");
    let mut loc = format!("/login?next={}", urlencode(&next));
    if reauth {
        loc.push_str("&reauth=1");
    }
    if let Some(h) = &req.login_hint {
        loc.push_str(&format!("&login_hint={}", urlencode(h)));
    }
    loc
}

/// `GET /authorize`.
pub async fn authorize_get(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    user: Result<CurrentUser, HttpError>,
    session: WebSession,
) -> Result<Response, HttpError> {
    let req = match validate(&state, raw.as_deref()).await? {
        Ok(v) => v,
        Err(response) => return Ok(response),
    };
    let user = user.ok();
    let amr = match &user {
        Some(u) => u.session.amr().await?,
        None => Vec::new(),
    };
    let signed_in = user.as_ref().map(|u| {
        (
            u.user_id.as_str(),
            u.auth_at.unix_timestamp(),
            amr.as_slice(),
        )
    });
    let raw = raw.as_deref().unwrap_or("");
    let auth_after = match (&user, req.needs_mark()) {
        (Some(_), true) => take_mark(&session, &req).await?,
        _ => None,
    };
    let step = state
        .oauth
        .authorize_step(&req, signed_in, auth_after)
        .await?;
    Ok(match step {
        AuthorizeStep::Redirect(location) => Redirect::to(&location).into_response(),
        AuthorizeStep::SignIn {
            fresh_after: None, ..
        } => Redirect::to(&login_location(raw, &req, false)).into_response(),
        AuthorizeStep::SignIn {
            fresh_after: Some(t),
            step_up,
        } => {
            if step_up {
                session.set_force_step_up().await?;
            }
            // Only `prompt=login` (and `max_age=0`), `acr_values` and `id_token_hint` read
            // the mark back (a positive `max_age` is answered by the new sign-in's own time).
            if req.needs_mark() {
                let mut marks = session.take(REAUTH).await?.unwrap_or_default();
                marks.push_str(&format!("{}\n", ReauthMark::new(&req, t).encode()));
                session.put(REAUTH, &newest_lines(&marks)).await?;
            }
            Redirect::to(&login_location(raw, &req, true)).into_response()
        }
        AuthorizeStep::Consent => consent_page(&state, &session, &req, raw).await?,
    })
}

/// `POST /authorize` (OIDC Core §3.1.2.1: the parameters form-encoded in the body): answered
/// `303` to `GET /authorize` with the same parameters as its query, so one handler validates
/// and answers every request, and the browser comes back with its `SameSite=Lax` session
/// cookie, which a cross-site POST does not carry. A body that is not a form of each
/// parameter at most once, or longer than 8 KiB as a query, is refused here (400), as the
/// query is.
pub async fn authorize_post(
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, HttpError> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(HttpError::BadRequest(
            "The sign-in request must be sent as a form.",
        ));
    }
    let raw = std::str::from_utf8(&body)
        .map_err(|_| HttpError::BadRequest("The sign-in request is malformed."))?;
    parse_query(Some(raw))?;
    // Re-encoded, so the query holds nothing a URL may not (the form's own bytes could).
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| HttpError::BadRequest("The sign-in request is malformed."))?;
    let query = serde_urlencoded::to_string(pairs)
        .map_err(|_| HttpError::BadRequest("The sign-in request is malformed."))?;
    // The GET it becomes is held to the same length.
    parse_query(Some(&query))?;
    Ok(Redirect::to(&format!("/authorize?{query}")).into_response())
}

/// Spends the session's re-authentication mark made for `req`, if it holds one, and returns
/// the time the sign-in must follow; the marks of other requests (other tabs) stay.
async fn take_mark(session: &WebSession, req: &AuthorizeRequest) -> Result<Option<i64>, HttpError> {
    let Some(marks) = session.take(REAUTH).await? else {
        return Ok(None);
    };
    let (after, others) = take_line(&marks, |line| {
        ReauthMark::decode(line).and_then(|m| m.after_for(req))
    });
    if !others.is_empty() {
        session.put(REAUTH, &others).await?;
    }
    Ok(after)
}

/// Remembers the request in the session and shows the consent page.
async fn consent_page(
    state: &AppState,
    session: &WebSession,
    req: &AuthorizeRequest,
    raw: &str,
) -> Result<Response, HttpError> {
    let request_id = state.random.token(16);
    let mut pending = session.take(PENDING).await?.unwrap_or_default();
    pending.push_str(&format!("{request_id} {raw}\n"));
    session.put(PENDING, &newest_lines(&pending)).await?;
    let page = ConsentPage {
        client_id: req.client.id.clone(),
        client_name: req.client.profile.display_name(&req.client.id).to_owned(),
        logo_uri: req.client.profile.logo_uri.clone(),
        client_uri: req.client.profile.client_uri.clone(),
        policy_uri: req.client.profile.policy_uri.clone(),
        tos_uri: req.client.profile.tos_uri.clone(),
        scopes: req.scopes.iter().cloned().collect(),
        csrf_token: session.csrf_token(state).await?,
        request_id,
    };
    let logo = req
        .client
        .profile
        .logo_uri
        .as_deref()
        .and_then(ImageOrigin::of);
    let mut response = page.into_response();
    if let Some(origin) = logo {
        response.extensions_mut().insert(origin);
    }
    Ok(response)
}

/// Requests a session keeps pending at once, of each sort (consent pages, re-authentications
/// asked for): each tab's answers on its own; the oldest beyond these is forgotten.
const PENDING_KEPT: usize = 4;

/// The newest `PENDING_KEPT` lines of a session value that keeps one request per line (the
/// pending consents' `<request id> <query>`, the `ReauthMark`s).
fn newest_lines(lines: &str) -> String {
    let lines: Vec<&str> = lines.lines().filter(|l| !l.is_empty()).collect();
    let skip = lines.len().saturating_sub(PENDING_KEPT);
    lines.iter().skip(skip).map(|l| format!("{l}\n")).collect()
}

/// From a session value of one request per line: what `pick` finds in the first line it
/// finds something in, and the other lines (to put back).
fn take_line<T>(lines: &str, pick: impl Fn(&str) -> Option<T>) -> (Option<T>, String) {
    let mut found = None;
    let mut others = String::new();
    for line in lines.lines() {
        match pick(line) {
            Some(t) if found.is_none() => found = Some(t),
            _ => others.push_str(&format!("{line}\n")),
        }
    }
    (found, others)
}

/// `POST /authorize/consent`.
pub async fn consent_post(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm { form, session }: CsrfForm<ConsentForm>,
) -> Result<Response, HttpError> {
    let pending = session.take(PENDING).await?.unwrap_or_default();
    let (raw, others) = take_line(&pending, |line| {
        let (id, raw) = line.split_once(' ')?;
        let same = subtle::ConstantTimeEq::ct_eq(id.as_bytes(), form.request_id.as_bytes());
        (!id.is_empty() && bool::from(same)).then(|| raw.to_owned())
    });
    if !others.is_empty() {
        session.put(PENDING, &others).await?;
    }
    let Some(raw) = raw else {
        return Err(HttpError::BadRequest(
            "This consent request has expired. Please start again.",
        ));
    };
    let raw = raw.as_str();
    let req = match validate(&state, Some(raw)).await? {
        Ok(v) => v,
        Err(response) => return Ok(response),
    };
    let oauth = &state.oauth;
    // The consent page was for the hinted user; another one has signed in since.
    if req
        .hint_sub
        .as_deref()
        .is_some_and(|sub| sub != user.user_id)
    {
        let why = "the signed-in user is not the one id_token_hint names";
        let location = oauth.error_redirect(&req, OAuthCode::LoginRequired, why);
        return Ok(Redirect::to(&location).into_response());
    }
    if form.consent == "allow" && !oauth.within_max_age(&req, user.auth_at.unix_timestamp()) {
        return Ok(Redirect::to(&login_location(raw, &req, false)).into_response());
    }
    if form.consent != "allow" {
        return Ok(Redirect::to(&oauth.error_redirect(
            &req,
            OAuthCode::AccessDenied,
            "the user denied access",
        ))
        .into_response());
    }
    oauth.grant_consent(&user.user_id, &req).await?;
    Ok(Redirect::to(
        &oauth
            .issue_code(
                &req,
                &user.user_id,
                user.auth_at.unix_timestamp(),
                &user.session.amr().await?,
            )
            .await?,
    )
    .into_response())
}
