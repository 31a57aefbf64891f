//! The password change on the account security page, and the operator's "end everything"
//! (`authd user revoke`, the admin console) and "end this one" (the admin console). A change checks the current password, sets the new one (the
//! account's session epoch moves on: every session from before is dead, and so is every
//! device cookie), deletes the other browser sessions, revokes every grant and mails the
//! owner; the caller renews the current session under the new epoch.

use secrecy::SecretString;

use crate::domain::account_security::SecurityService;
use crate::domain::account_security::error::SecurityError;
use crate::domain::account_security::sessions::Ended;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::Notice;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

impl SecurityService {
    /// Changes `user_id`'s password from `current` to `new`, ending every other session
    /// (`current_row`, the index row of this request's session, is kept) and every grant.
    /// Returns the account's new session epoch, for the caller to renew its session under.
    pub async fn change_password(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        current: &SecretString,
        new: SecretString,
        current_row: Option<&str>,
    ) -> Result<i64, SecurityError> {
        self.verify_password(ctx, user_id, current, current_row)
            .await?;
        // A signed-in owner's new password waits in the known lane, as their check did.
        let hash = self.accounts.hash_password(user_id, new).await?;
        self.accounts.store_password(user_id, &hash).await?;
        let now = self.clock.now();
        let sessions = self.end_browsers(user_id, current_row).await?;
        let grants = self
            .grants
            .revoke_user_families(user_id, now.unix_timestamp())
            .await?;
        self.bearer_cache.now();
        let account = self
            .accounts
            .find_by_id(user_id)
            .await?
            .ok_or(SecurityError::UnknownSession)?;
        let event = AuthEvent::new(EventKind::PasswordChanged, ctx, now)
            .user(user_id)
            .decision_detail(
                Decision::PasswordChangedByOwner,
                &format!("{sessions} other sessions ended; {grants} grants revoked"),
            );
        let notice = Notice::PasswordChanged {
            reset_link: format!("{}/password/forgot", self.issuer),
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        self.events.record_with_mail(event, mail).await?;
        // Last, and not this answer's failure: whoever spent the step-up codes' budgets with
        // the old password cannot any more.
        if let Err(e) = self.outbox.restart_code_budgets(&account.email).await {
            tracing::warn!(error = %e, "the step-up codes' budgets were not started again");
        }
        Ok(account.session_epoch)
    }

    /// Ends every session and grant of `user_id` (`authd user revoke`, the admin console's
    /// "end all sessions and grants"; `by` names which in the event): the indexed browser
    /// sessions are deleted, the session epoch moves on (so sessions signed in before the
    /// index existed, and device cookies, die too) and every grant is revoked. Returns
    /// (sessions deleted, grants revoked).
    pub async fn revoke_everything(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        by: RevokedBy,
    ) -> Result<(usize, u64), Unexpected> {
        let sessions = self.end_browsers(user_id, None).await?;
        self.accounts.end_sessions(user_id).await?;
        let now = self.clock.now();
        let grants = self
            .grants
            .revoke_user_families(user_id, now.unix_timestamp())
            .await?;
        self.bearer_cache.now();
        let event = AuthEvent::new(EventKind::SessionRevoked, ctx, now)
            .user(user_id)
            .decision_detail(
                by.decision(),
                &format!("{sessions} sessions, {grants} grants"),
            );
        self.events.record(event).await?;
        Ok((sessions, grants))
    }

    /// Ends one browser session or grant of `user_id` for an operator (the admin console or
    /// API): as the owner's `sign_out`, recorded as `session_revoked`, decision
    /// `admin:revoke` with what ended. `UnknownSession` for an id not (or no longer) theirs.
    pub async fn operator_sign_out(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        target: &str,
    ) -> Result<Ended, SecurityError> {
        let ended = self.end_one(user_id, target).await?;
        let event = AuthEvent::new(EventKind::SessionRevoked, ctx, self.clock.now())
            .user(user_id)
            .decision_detail(Decision::RevokedByAdmin, &ended.what());
        self.events.record(event).await?;
        Ok(ended)
    }
}

/// Who ends every session and grant of an account (the event's decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedBy {
    /// `authd user revoke`.
    Cli,
    /// An operator on the admin console or API.
    Admin,
}

impl RevokedBy {
    /// The `session_revoked` event's decision.
    pub fn decision(self) -> Decision {
        match self {
            Self::Cli => Decision::RevokedByCli,
            Self::Admin => Decision::RevokedByAdmin,
        }
    }
}
