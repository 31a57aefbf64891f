//! Lifting a lock: `authd user unlock` (every block and lock of the account), or the unlock
//! link in the lockout mail (single use; the account-wide lock and the clicking owner's own
//! sources — their network and device — only, so the sources that attacked stay blocked).
//! `account_unlocked` records by which way.

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::domain::signin::keys::{CounterKey, Source};
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
    /// The admin console.
    Admin,
}

impl UnlockedBy {
    /// The way, as the `account_unlocked` event's decision.
    pub fn decision(self) -> Decision {
        match self {
            Self::Cli => Decision::UnlockedByCli,
            Self::Link => Decision::UnlockedByLink,
            Self::Admin => Decision::UnlockedByAdmin,
        }
    }
}

impl LoginService {
    /// Lifts every block and lock of `user_id` (the operator's unlock); `true` if there was
    /// anything to lift.
    pub async fn unlock(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        by: UnlockedBy,
    ) -> Result<bool, Unexpected> {
        let account = CounterKey::User(user_id.to_owned());
        let lifted = self.protection.ladder.unlock(&account).await?;
        self.unlocked(ctx, user_id, by).await?;
        Ok(lifted)
    }

    /// Whether an unlock link is valid, unexpired and unused (the confirmation page is shown
    /// only for one; showing it changes nothing).
    pub async fn unlock_link_is_usable(&self, token: &str) -> Result<bool, Unexpected> {
        Ok(self
            .protection
            .links
            .usable(Purpose::Unlock, token)
            .await?
            .is_some())
    }

    /// Spends a mailed unlock token and lifts the account-wide lock and the blocks of the
    /// owner's own sources: the network `ctx` comes from and the browser's device (when
    /// `device_cookie` is a valid one for this account). The sources that attacked stay
    /// blocked. The user id if the token was valid and unused.
    pub async fn unlock_with_token(
        &self,
        ctx: &RequestContext,
        token: &str,
        device_cookie: Option<&str>,
    ) -> Result<Option<String>, Unexpected> {
        let Some(user_id) = self.protection.links.redeem(Purpose::Unlock, token).await? else {
            return Ok(None);
        };
        let mut sources = vec![Source::All, Source::net(ctx.ip)];
        if let Some(claim) = device_cookie.and_then(|c| self.protection.devices.claim(c))
            && claim.user == user_id
        {
            sources.push(Source::Device(claim.device));
        }
        let account = CounterKey::User(user_id.clone());
        self.protection
            .ladder
            .unlock_sources(&account, &sources)
            .await?;
        self.unlocked(ctx, &user_id, UnlockedBy::Link).await?;
        Ok(Some(user_id))
    }

    /// Records `account_unlocked`.
    async fn unlocked(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        by: UnlockedBy,
    ) -> Result<(), Unexpected> {
        let e = AuthEvent::new(EventKind::AccountUnlocked, ctx, self.clock.now())
            .user(user_id)
            .decision(by.decision());
        Ok(self.events.record(e).await?)
    }
}
