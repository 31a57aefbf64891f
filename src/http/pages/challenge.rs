//! The CAPTCHA in the session: shown challenges are kept server-side, bound to the session
//! (the last few, `captcha_shown::Shown`, so a form open in two tabs answers in either), and
//! taken out when answered, so an answer (or a provider token) works once. A form shows
//! one up front when the ladder already has its source at the rung (`up_front`), and a passed
//! one whose attempt failed on something else is held for the next submit of that form
//! (`hold`; `domain/signin/pass.rs` says what a pass may do). `GET /captcha/image` serves the
//! builtin challenge's image, reading the session only.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::state::AppState;
use crate::domain::captcha::PowLevel;
use crate::domain::captcha_shown::Shown;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::ladder::ChallengeAnswer;
use crate::domain::signin::pass::Gate;
use crate::http::error::HttpError;
use crate::http::extract::{WebSession, session_failed};

/// The session key of the newest challenge held, alone (what earlier versions keep and read:
/// written too, for an instance of one during a rolling deploy).
const KEY: &str = "captcha";
/// The session key of the last few challenges shown (`Shown`).
const LIST_KEY: &str = "captchas";
/// Where a page fetches its builtin challenge's image: `?c=` the challenge's id.
const IMAGE_PATH: &str = "/captcha/image";

/// `GET /captcha/image`.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route(IMAGE_PATH, get(image_get))
}

/// `?c=`: the challenge's id.
#[derive(Debug, serde::Deserialize)]
pub struct ImageQuery {
    c: String,
}

/// `GET /captcha/image?c=ID`: the image of the challenge `ID` the session holds (one of its
/// last few, `Shown::by_id`) as PNG, drawn once (`Captchas::image`); `404` for another
/// session's, an expired, an already drawn or an image-less challenge, and when the image
/// thread is full. The session is only read: a write here could
/// race the form's submit and put back a challenge the submit had spent.
pub async fn image_get(
    State(state): State<AppState>,
    session: WebSession,
    Query(q): Query<ImageQuery>,
) -> Result<Response, HttpError> {
    let shown = held(&session).await?;
    let now = state.clock.now().unix_timestamp();
    let no_store = (header::CACHE_CONTROL, "no-store");
    Ok(
        match state.captchas.image(shown.by_id(&q.c), &q.c, now).await {
            Some(png) => ([(header::CONTENT_TYPE, "image/png"), no_store], png).into_response(),
            None => (StatusCode::NOT_FOUND, [no_store], "no such image").into_response(),
        },
    )
}

/// The challenges the session holds (read only).
async fn held(session: &WebSession) -> Result<Shown, HttpError> {
    let read = |key| async move { session.0.get::<String>(key).await.map_err(session_failed) };
    let (list, single) = (read(LIST_KEY).await?, read(KEY).await?);
    Ok(Shown::read(list.as_deref(), single.as_deref()))
}

/// Writes `shown` into the session: the list, and its newest alone under the older key.
async fn keep(session: &WebSession, shown: &Shown) -> Result<(), HttpError> {
    let json_failed = |e: serde_json::Error| Unexpected(e.into());
    session
        .put(LIST_KEY, &shown.list_json().map_err(json_failed)?)
        .await?;
    if let Some(newest) = shown.newest_json().map_err(json_failed)? {
        session.put(KEY, &newest).await?;
    }
    Ok(())
}

/// What the form shows inside its `data-challenge="captcha"` element.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChallengeView {
    /// The builtin image's URL (`IMAGE_PATH`).
    pub image: Option<String>,
    /// A third-party widget: (CSS class, site key, script URL, action).
    pub widget: Option<(&'static str, String, &'static str, &'static str)>,
    /// The proof-of-work puzzle: (salt, hash, max, level).
    pub pow: Option<(String, String, u64, u8)>,
}

/// The answers a form may carry: ours (`captcha_answer`) or a provider widget's token.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Answers {
    /// builtin / test.
    pub captcha_answer: Option<String>,
    /// Turnstile.
    #[serde(rename = "cf-turnstile-response")]
    pub turnstile: Option<String>,
    /// hCaptcha.
    #[serde(rename = "h-captcha-response")]
    pub hcaptcha: Option<String>,
    /// reCAPTCHA.
    #[serde(rename = "g-recaptcha-response")]
    pub recaptcha: Option<String>,
}

/// Issues a challenge of `level` work for the form `gate` into the session; returns what to
/// show.
pub async fn show(
    state: &AppState,
    session: &WebSession,
    gate: Gate,
    level: PowLevel,
) -> Result<ChallengeView, HttpError> {
    let now = state.clock.now().unix_timestamp();
    let (mut stored, shown) = state.captchas.issue(state.random.as_ref(), now, level);
    stored.gate = Some(gate.as_str().to_owned());
    // Kept beside the session's other open forms' (`Shown`: a second tab voids no answer).
    let mut kept = held(session).await?;
    kept.push(stored, now);
    keep(session, &kept).await?;
    let widget = state.captchas.remote().map(|r| {
        (
            r.kind.widget_class(),
            r.site_key.clone(),
            r.kind.script(),
            crate::domain::captcha::WIDGET_ACTION,
        )
    });
    Ok(ChallengeView {
        image: shown.image_id.map(|id| format!("{IMAGE_PATH}?c={id}")),
        widget,
        pow: shown.pow.map(|p| (p.salt, p.hash, p.max, p.level.get())),
    })
}

/// The session key of the pass held for `gate`.
fn pass_key(gate: Gate) -> String {
    format!("captcha_pass:{}", gate.as_str())
}

/// The challenge a form of `gate` shows before its submit: none while the session holds a
/// pass for it; else one when the ladder already has this source (or form) at the rung.
pub async fn up_front(
    state: &AppState,
    session: &WebSession,
    ctx: &RequestContext,
    gate: Gate,
    device_cookie: Option<&str>,
) -> Result<Option<ChallengeView>, HttpError> {
    let held = session
        .0
        .get::<String>(&pass_key(gate))
        .await
        .map_err(session_failed)?;
    if let Some(pass) = held
        && state.login.pass_holds(gate, &pass).await?
    {
        return Ok(None);
    }
    // Loaded by the read above: no id now means the store holds no session for this browser.
    let new_session = session.0.id().is_none();
    match state
        .login
        .challenge_up_front(ctx, gate, device_cookie, new_session)
        .await?
    {
        Some(work) => Ok(Some(show(state, session, gate, work).await?)),
        None => Ok(None),
    }
}

/// After an attempt of `gate` that failed on something other than the challenge: a right
/// answer in it (`answer` is `Passed`) is held as a pass for the next submit.
pub async fn hold(
    state: &AppState,
    session: &WebSession,
    gate: Gate,
    answer: ChallengeAnswer,
) -> Result<(), HttpError> {
    if let ChallengeAnswer::Passed(level) = answer {
        session
            .put(&pass_key(gate), &state.login.hold_pass(gate, level))
            .await?;
    }
    Ok(())
}

/// Drops the session's pass for `gate` (the attempt succeeded: nothing left to hold it for).
pub async fn release(session: &WebSession, gate: Gate) -> Result<(), HttpError> {
    session.take(&pass_key(gate)).await.map(drop)
}

/// Checks (and spends) the answer sent with this request to the challenge `gate`'s form
/// showed; without one, spends the pass the session holds for `gate`, if any (`Held`). A right
/// answer passes once: the challenge is spent in the shared store, so submits of one solved
/// challenge sent at once (each read the session before any wrote it back) pass one.
pub async fn answer(
    state: &AppState,
    session: &WebSession,
    answers: &Answers,
    remote_ip: std::net::IpAddr,
    gate: Gate,
) -> Result<ChallengeAnswer, HttpError> {
    // An empty field is no answer (a form sent before the page's check filled it in, a
    // widget not solved yet): the challenge is asked again, not failed.
    fn filled(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.trim().is_empty())
    }
    let token = filled(answers.turnstile.as_deref())
        .or(filled(answers.hcaptcha.as_deref()))
        .or(filled(answers.recaptcha.as_deref()));
    let given = filled(answers.captcha_answer.as_deref());
    if given.is_none() && token.is_none() {
        let Some(pass) = session.take(&pass_key(gate)).await? else {
            return Ok(ChallengeAnswer::Absent);
        };
        return Ok(match state.login.redeem_pass(gate, &pass).await? {
            Some(level) => ChallengeAnswer::Held(level),
            None => ChallengeAnswer::Absent,
        });
    }
    // Only the challenges the form showed (one shown before challenges named their form, in
    // the five minutes after an upgrade, counts for any); the other forms' stay.
    let (list, single) = (session.take(LIST_KEY).await?, session.take(KEY).await?);
    let mut shown = Shown::read(list.as_deref(), single.as_deref());
    let mut mine = shown.take_gate(gate.as_str());
    let now = state.clock.now().unix_timestamp();
    let passed = match (state.captchas.remote(), token) {
        // A provider's token is asked about once (it is single use there too): against the
        // form's newest challenge.
        (Some(_), Some(t)) => {
            let newest = mine.first();
            let ip = remote_ip.to_string();
            let ok = state.captchas.check_remote(newest, t, &ip, now).await;
            ok.then_some(0)
        }
        (Some(_), None) => None,
        (None, _) => {
            let given = given.unwrap_or("");
            mine.iter()
                .position(|c| state.captchas.check(Some(c), given, now))
        }
    };
    // A right answer spends its challenge and leaves the form's others (other tabs); a wrong
    // one spends them all, as a wrong answer to the only one did.
    let answered = passed.map(|i| mine.remove(i));
    if answered.is_some() {
        shown.put_back(mine);
    }
    if !shown.is_empty() {
        keep(session, &shown).await?;
    }
    let first = match answered {
        Some(c) if state.login.spend_challenge(&c.id, c.issued_at).await? => Some(c),
        _ => None,
    };
    // The ladder weighs the answer against the work its row asks now (`at_least`).
    Ok(match first {
        Some(c) => ChallengeAnswer::Passed(state.captchas.answered_level(&c)),
        None => ChallengeAnswer::Failed,
    })
}
