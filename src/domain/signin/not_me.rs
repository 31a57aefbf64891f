//! "Wasn't you?": the new-device alert's link (single use). The owner reports a sign-in; every
//! session, OAuth grant and device cookie of the account ends (the session epoch, which device
//! cookies name, moves on), and the event labels the report for the risk model.

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::domain::signin::links::Purpose;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

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
    /// the report for the risk model. The user id if the token was valid and unused (it is
    /// spent now).
    pub async fn report_not_me(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<String>, Unexpected> {
        let Some(user_id) = self.protection.links.redeem(Purpose::NotMe, token).await? else {
            return Ok(None);
        };
        self.accounts.end_sessions(&user_id).await?;
        let now = self.clock.now();
        let grants = self
            .grants
            .revoke_user_families(&user_id, now.unix_timestamp())
            .await?;
        let e = AuthEvent::new(EventKind::SessionRevoked, ctx, now)
            .user(&user_id)
            .decision_detail(Decision::ReportedNotMe, &format!("{grants} grants revoked"));
        self.events.record(e).await?;
        Ok(Some(user_id))
    }
}
