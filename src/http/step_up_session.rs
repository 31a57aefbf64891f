//! The step-up's keys in the server-side session (`WebSession`): the pending step-up (while
//! it is there the session is signed in as nobody, `WebSession::user_id`), a client's
//! `acr_values` asking the next sign-in to step up, and the `amr` of the session's sign-in.

use crate::app::state::AppState;
use crate::domain::error::Unexpected;
use crate::domain::mfa::pending::PendingStepUp;
use crate::domain::mfa::{ACR_MFA, acr_of};
use crate::http::error::HttpError;
use crate::http::extract::{AMR, WebSession, session_failed};

/// A pending step-up (`domain/mfa/pending.rs`).
pub(crate) const STEP_UP: &str = "step_up";
/// A client's `acr_values` asked for a second factor: the next sign-in steps up.
const FORCE_STEP_UP: &str = "force_step_up";
/// The factor the session's sign-in passed is the owner's own (`SignedIn::factor_proven`).
const FACTOR_PROVEN: &str = "factor_proven";

impl WebSession {
    /// The pending step-up, if any.
    pub async fn step_up(&self) -> Result<Option<PendingStepUp>, HttpError> {
        let json = self
            .0
            .get::<String>(STEP_UP)
            .await
            .map_err(session_failed)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Keeps a pending step-up (the session is signed in as nobody until it passes).
    pub async fn set_step_up(&self, pending: &PendingStepUp) -> Result<(), HttpError> {
        let json = serde_json::to_string(pending).map_err(|e| Unexpected(e.into()))?;
        self.put(STEP_UP, &json).await
    }

    /// Drops the pending step-up.
    pub async fn clear_step_up(&self) -> Result<(), HttpError> {
        self.take(STEP_UP).await.map(|_| ())
    }

    /// Asks the next sign-in of this session for its second factor (`acr_values`).
    pub async fn set_force_step_up(&self) -> Result<(), HttpError> {
        self.put(FORCE_STEP_UP, "1").await
    }

    /// Whether the next sign-in must step up (kept until a sign-in succeeds).
    pub async fn force_step_up(&self) -> Result<bool, HttpError> {
        let v = self
            .0
            .get::<String>(FORCE_STEP_UP)
            .await
            .map_err(session_failed)?;
        Ok(v.is_some())
    }

    /// Whether the session's sign-in passed a factor that is the owner's own as far as authd
    /// can tell (`SignedIn::factor_proven`): a factor set up in this session is recorded as
    /// proven only then (the owner's reset removes the others).
    pub async fn sign_in_proved_a_factor(&self) -> Result<bool, HttpError> {
        let amr = self.amr().await?;
        let proven = self
            .0
            .get::<String>(FACTOR_PROVEN)
            .await
            .map_err(session_failed)?;
        Ok(acr_of(&amr) == ACR_MFA && proven.as_deref() == Some("1"))
    }

    /// The `amr` of the session's sign-in (`["pwd"]` for sessions from before it was kept).
    pub async fn amr(&self) -> Result<Vec<String>, HttpError> {
        let json = self.0.get::<String>(AMR).await.map_err(session_failed)?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_else(|| vec!["pwd".to_owned()]))
    }

    /// Signs the session in after a sign-in that authenticated with `amr` (a password, maybe a
    /// second factor): as `sign_in`, dropping any pending step-up and recording the `amr`.
    pub async fn sign_in_with(
        &self,
        state: &AppState,
        signed_in: &crate::domain::signin::SignedIn,
    ) -> Result<(), HttpError> {
        self.clear_step_up().await?;
        self.take(FORCE_STEP_UP).await?;
        let a = &signed_in.account;
        self.sign_in(state, &a.id, signed_in.at, a.session_epoch)
            .await?;
        let json = serde_json::to_string(&signed_in.amr).map_err(|e| Unexpected(e.into()))?;
        self.put(AMR, &json).await?;
        let proven = if signed_in.factor_proven { "1" } else { "0" };
        self.put(FACTOR_PROVEN, proven).await?;
        self.apply_remember(state, a).await
    }
}
