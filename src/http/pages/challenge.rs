//! The CAPTCHA in the session: shown challenges are kept server-side, bound to the session,
//! and taken out when answered, so an answer works once.

use crate::domain::captcha::StoredChallenge;
use crate::domain::protection::ChallengeAnswer;
use crate::http::error::HttpError;
use crate::http::extract::WebSession;
use crate::state::AppState;

const KEY: &str = "captcha";

/// Issues a challenge into the session; returns the image to show (if the provider has one).
pub async fn show(state: &AppState, session: &WebSession) -> Result<Option<String>, HttpError> {
    let (stored, shown) = state.captchas.issue(state.clock.now().unix_timestamp());
    let json = serde_json::to_string(&stored)
        .map_err(|e| HttpError::Domain(anyhow::Error::new(e).into()))?;
    session.put(KEY, &json).await?;
    Ok(shown.image)
}

/// Checks (and spends) the answer sent with this request.
pub async fn answer(
    state: &AppState,
    session: &WebSession,
    given: Option<&str>,
) -> Result<ChallengeAnswer, HttpError> {
    let Some(given) = given else {
        return Ok(ChallengeAnswer::Absent);
    };
    let stored: Option<StoredChallenge> = session
        .take(KEY)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok());
    let now = state.clock.now().unix_timestamp();
    Ok(if state.captchas.check(stored.as_ref(), given, now) {
        ChallengeAnswer::Passed
    } else {
        ChallengeAnswer::Failed
    })
}
