//! Lifting a lock: `authd user unlock`, or the unlock link in the lockout mail. Every block and
//! lock of the account goes, and `account_unlocked` records by which way.

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::domain::signin::keys::CounterKey;
use crate::domain::signin::links::Purpose;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

/// Which way an unlock came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockedBy {
    /// `authd user unlock`.
    Cli,
    /// The mailed unlock link.
    Link,
}

impl UnlockedBy {
    /// The way, as the `account_unlocked` event's decision.
    pub fn decision(self) -> Decision {
        match self {
            Self::Cli => Decision::UnlockedByCli,
            Self::Link => Decision::UnlockedByLink,
        }
    }
}

impl LoginService {
    /// Lifts every block and lock of `user_id`; `true` if there was anything to lift.
    pub async fn unlock(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        by: UnlockedBy,
    ) -> Result<bool, Unexpected> {
        let account = CounterKey::User(user_id.to_owned());
        let lifted = self.protection.ladder.unlock(&account).await?;
        let e = AuthEvent::new(EventKind::AccountUnlocked, ctx, self.clock.now())
            .user(user_id)
            .decision(by.decision());
        self.events.record(e).await?;
        Ok(lifted)
    }

    /// Lifts the lock named by a mailed unlock token; the user id if the token was valid.
    pub async fn unlock_with_token(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<String>, Unexpected> {
        let Some(user_id) = self.protection.links.check(Purpose::Unlock, token) else {
            return Ok(None);
        };
        self.unlock(ctx, &user_id, UnlockedBy::Link).await?;
        Ok(Some(user_id))
    }
}
