//! "Keep me signed in" in the server-side session (`WebSession`): the box ticked on the form
//! (kept until the sign-in completes, through a step-up), and the grant the sign-in got from
//! `SessionPolicy::remember_for` (never for an admin account): the longer idle timeout the
//! session is judged by, and a persistent cookie of that length.

use tower_sessions::Expiry;

use crate::app::state::AppState;
use crate::domain::accounts::model::Account;
use crate::http::error::HttpError;
use crate::http::extract::{WebSession, session_failed};

/// The box was ticked on the sign-in form whose sign-in is under way.
const ASKED: &str = "remember_asked";
/// The session's sign-in was granted "keep me signed in".
const REMEMBERED: &str = "remembered";

impl WebSession {
    /// Notes whether the sign-in form's "keep me signed in" box was ticked (writes nothing
    /// for an unticked box in a session that never had it).
    pub async fn ask_remember(&self, asked: bool) -> Result<(), HttpError> {
        if asked {
            return self.put(ASKED, "1").await;
        }
        let had = self.0.get::<String>(ASKED).await.map_err(session_failed)?;
        if had.is_some() {
            self.take(ASKED).await?;
        }
        Ok(())
    }

    /// After a sign-in of `account`: grants "keep me signed in" if it was asked for and the
    /// policy allows it (a longer idle timeout, a cookie that outlives the browser), or drops
    /// an earlier grant of this session.
    pub(crate) async fn apply_remember(
        &self,
        state: &AppState,
        account: &Account,
    ) -> Result<(), HttpError> {
        let asked = self.take(ASKED).await?.is_some();
        match state.session_policy.remember_for(asked, account.is_admin) {
            Some(idle) => {
                self.put(REMEMBERED, "1").await?;
                self.0.set_expiry(Some(Expiry::OnInactivity(idle)));
            }
            None => {
                self.take(REMEMBERED).await?;
                let idle = state.session_policy.idle_timeout;
                self.0.set_expiry(Some(Expiry::OnInactivity(idle)));
            }
        }
        Ok(())
    }

    /// Whether the session's sign-in was granted "keep me signed in".
    pub async fn is_remembered(&self) -> Result<bool, HttpError> {
        let v = self
            .0
            .get::<String>(REMEMBERED)
            .await
            .map_err(session_failed)?;
        Ok(v.is_some())
    }
}
