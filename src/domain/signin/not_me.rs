//! "Wasn't you?": the new-device alert's link (single use). The owner reports a sign-in; every
//! session, OAuth grant and device cookie of the account ends (the session epoch, which device
//! cookies name, moves on), and the event labels the report for the risk model. The report
//! answers what was done and a one-time token for the confirmation's "mail me a reset link"
//! button (`ResetService::mail_link_after_report`).

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::domain::signin::links::{Links, Purpose};
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

/// What a report did, for the confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMeReport {
    /// The account.
    pub user_id: String,
    /// The account's address (the page shows it masked).
    pub email: String,
    /// How many apps' grants (refresh-token families) were revoked.
    pub grants_revoked: u64,
    /// Single use, an hour: mails the account's own address a password-reset link. Goes in
    /// the confirmation's form only (never a URL or a mail).
    pub reset_token: String,
}

impl LoginService {
    /// Whether a "wasn't you?" link token is valid, unexpired and unused (the confirmation page
    /// is only shown for one; showing it changes nothing).
    pub async fn not_me_link_is_valid(&self, token: &str) -> Result<bool, Unexpected> {
        Ok(self
            .protection
            .links
            .usable(Purpose::NotMe, token)
            .await?
            .is_some())
    }

    /// "Wasn't you?": the owner reports a sign-in. Every session, OAuth grant and device cookie
    /// of the account ends; the event (`session_revoked`, decision `reported_not_me`) labels
    /// the report for the risk model. What was done if the token was valid and unused (it is
    /// spent now); `None` otherwise (nothing done).
    pub async fn report_not_me(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<NotMeReport>, Unexpected> {
        let Some(user_id) = self.protection.links.redeem(Purpose::NotMe, token).await? else {
            return Ok(None);
        };
        self.accounts.end_sessions(&user_id).await?;
        let now = self.clock.now();
        let grants = self
            .grants
            .revoke_user_families(&user_id, now.unix_timestamp())
            .await?;
        self.bearer_cache.now();
        let e = AuthEvent::new(EventKind::SessionRevoked, ctx, now)
            .user(&user_id)
            .decision_detail(Decision::ReportedNotMe, &format!("{grants} grants revoked"));
        self.events.record(e).await?;
        let email = self
            .accounts
            .find_by_id(&user_id)
            .await?
            .map(|a| a.email)
            .unwrap_or_default();
        Ok(Some(NotMeReport {
            reset_token: self.protection.links.issue(Purpose::NotMeReset, &user_id),
            user_id,
            email,
            grants_revoked: grants,
        }))
    }

    /// The signed links (shared with the password reset: the confirmation's button).
    pub fn links(&self) -> Links {
        self.protection.links.clone()
    }
}
