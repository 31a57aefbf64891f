//! Verifying the address: registration mails a signed, expiring, single-use link
//! (`links.rs`, `Purpose::VerifyEmail`; only its digest is stored, once used); the page asks
//! (a GET changes nothing: mail scanners fetch links) and its POST verifies
//! (`email_verified`). Accounts an operator creates are verified from the start. An
//! unverified account signs in as before; only a verified address is offered the e-mailed
//! step-up code.

use crate::domain::accounts::model::Account;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::Notice;
use crate::domain::signin::LoginService;
use crate::domain::signin::links::Purpose;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

impl LoginService {
    /// Mails the verification link after the answer (tracked work): a new account costs the
    /// registration no more time than a taken address, which sends nothing.
    pub fn spawn_verification(&self, ctx: &RequestContext, account: &Account) {
        let (this, ctx, a) = (self.clone(), ctx.clone(), account.clone());
        self.background.spawn(async move {
            if let Err(e) = this.send_verification(&ctx, &a).await {
                tracing::warn!(error = %e, "the verification mail failed");
            }
        });
    }

    /// Mails `account` its verification link (unless verified already, or the address's
    /// hourly budget is spent), with an `alert_sent` event.
    pub async fn send_verification(
        &self,
        ctx: &RequestContext,
        account: &Account,
    ) -> Result<(), Unexpected> {
        if account.email_verified_at.is_some() {
            return Ok(());
        }
        let token = self
            .protection
            .links
            .issue(Purpose::VerifyEmail, &account.id);
        let link = format!("{}/verify-email?token={token}", self.issuer);
        let Some(mail) = self
            .outbox
            .prepare(&account.email, Notice::VerifyEmail { link })
            .await?
        else {
            return Ok(());
        };
        let event = AuthEvent::new(EventKind::AlertSent, ctx, self.clock.now())
            .user(&account.id)
            .decision(Decision::VerificationMailed);
        Ok(self.events.record_with_mail(event, Some(mail)).await?)
    }

    /// Whether a verification link is valid, unexpired and unused (the page asks only then).
    pub async fn verification_is_usable(&self, token: &str) -> Result<bool, Unexpected> {
        Ok(self
            .protection
            .links
            .usable(Purpose::VerifyEmail, token)
            .await?
            .is_some())
    }

    /// Spends a verification link and marks the address verified (`email_verified`); `false`
    /// for an invalid, expired or used link.
    pub async fn verify_email(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<bool, Unexpected> {
        let Some(user_id) = self
            .protection
            .links
            .redeem(Purpose::VerifyEmail, token)
            .await?
        else {
            return Ok(false);
        };
        if self.accounts.mark_email_verified(&user_id).await? {
            let event = AuthEvent::new(EventKind::EmailVerified, ctx, self.clock.now())
                .user(&user_id)
                .decision(Decision::VerifiedByLink);
            self.events.record(event).await?;
        }
        Ok(true)
    }
}
