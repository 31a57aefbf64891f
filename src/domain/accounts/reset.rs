//! Password reset: a single-use link (256-bit token, stored as SHA-256, 30 minutes) sent by
//! mail. Asking answers the same whether or not the address exists. Asking again while a link
//! has ten minutes or more left mails that same link (kept sealed with the master key until it
//! is spent) instead of minting another, so one account has one live link however often the
//! form is sent. Using it sets the new
//! password, ends every browser session (the account's session epoch moves on) and every OAuth
//! grant, and mails a "password changed" notice. After a "wasn't you?" report, the
//! confirmation's button mails the account's own address a link the same way, once
//! (`mail_link_after_report`).

use std::sync::Arc;

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::domain::accounts::error::AccountError;
use crate::domain::accounts::model::{Account, Email};
use crate::domain::accounts::service::AccountService;
use crate::domain::clock::{Clock, Random};
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::mfa::totp::Authenticators;
use crate::domain::notify::{Notice, Outbox};
use crate::domain::oauth::BearerCacheClear;
use crate::domain::oauth::digest;
use crate::domain::passkeys::PasskeyService;
use crate::domain::risk::service::RiskService;
use crate::domain::seal::{Legacy, Sealer};
use crate::domain::signin::links::{Links, Purpose};
use crate::domain::tasks::Background;
use crate::domain::throttle::{Door, Throttle, ThrottleKey, net_of};
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventKind};
use crate::storage::oauth::GrantStore;
use crate::storage::resets::{NewReset, ResetStore};

/// How long a reset link works.
pub const RESET_TTL_SECS: i64 = 30 * 60;
/// A live link is mailed again (rather than a new one minted) while it has this long left.
pub const RESEND_MIN_LEFT_SECS: i64 = 10 * 60;

/// Password-reset flows.
#[derive(Clone)]
pub struct ResetService {
    pub(crate) accounts: AccountService,
    pub(crate) resets: Arc<dyn ResetStore>,
    pub(crate) grants: Arc<dyn GrantStore>,
    /// This instance's bearer cache, cleared with the grants.
    pub(crate) bearer_cache: BearerCacheClear,
    pub(crate) outbox: Arc<dyn Outbox>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    /// Seals the raw token kept for mailing the same link again.
    pub(crate) sealer: Sealer,
    pub(crate) events: EventSink,
    pub(crate) throttle: Throttle,
    /// Runs the after-the-answer work (tracked, so tests and shutdown can wait for it).
    pub(crate) background: Background,
    /// The public base URL, for links.
    pub(crate) issuer: String,
    /// Signed links: the "wasn't you?" confirmation's one-time reset button.
    pub(crate) links: Links,
    /// Authenticator apps, removed by a reset that proves a not yet verified address.
    pub(crate) authenticators: Authenticators,
    /// Passkeys, likewise.
    pub(crate) passkeys: PasskeyService,
    /// The accounts' networks (a reset asked for from one has its own mail budget).
    pub(crate) risk: RiskService,
}

impl std::fmt::Debug for ResetService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetService")
    }
}

impl ResetService {
    /// The reset page's address (with a token) or the forgot page's (without).
    fn link(&self, token: Option<&str>) -> String {
        match token {
            Some(t) => format!("{}/password/reset?token={t}", self.issuer),
            None => format!("{}/password/forgot", self.issuer),
        }
    }

    /// Sends a reset link if `email` has an account. The caller answers the same either way.
    pub async fn request(&self, ctx: &RequestContext, email: &str) -> Result<(), AccountError> {
        if let Err((key, retry_after)) =
            self.throttle.check(Door::Login, &ThrottleKey::nets(ctx.ip))
        {
            let e = AuthEvent::new(EventKind::RateLimited, ctx, self.clock.now())
                .decision(key.dimension());
            self.events.record(e).await?;
            return Err(AccountError::RateLimited { retry_after });
        }
        // Everything that depends on whether the account exists (the lookup, the token and
        // mail writes) runs after the answer, so the answer's timing cannot tell. A crash in
        // between loses the request: the page asks nothing more of the user than a retry.
        let this = self.clone();
        let ctx = ctx.clone();
        let email = email.to_owned();
        self.background.spawn(async move {
            if let Err(e) = this.mail_link(&ctx, &email).await {
                tracing::warn!(error = %e, "password reset request failed");
            }
        });
        Ok(())
    }

    /// The "wasn't you?" confirmation's button: mails the reported account's own address a
    /// reset link (through `mail_link`: the same budget, the live link again if there is one).
    /// The account's address and whether the link went out (`false`: the reset-mail budget held
    /// it back) if `token` (`NotMeReport::reset_token`) was valid and unused (it is spent now);
    /// `None` otherwise, and nothing is sent.
    pub async fn mail_link_after_report(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<(String, bool)>, Unexpected> {
        let Some(user_id) = self.links.redeem(Purpose::NotMeReset, token).await? else {
            return Ok(None);
        };
        let Some(account) = self.accounts.find_by_id(&user_id).await? else {
            return Ok(None);
        };
        let mailed = self.mail_link(ctx, &account.email).await? == Decision::ResetMailed;
        Ok(Some((account.email, mailed)))
    }

    /// The work behind `request` (and the admin console's "force a password reset", which
    /// waits for it): a token and a mail when `email` has an account and the recipient's
    /// reset-mail budget (the asking network's share of it, and the whole) allows one. A token
    /// is stored only when its mail goes out: a suppressed request mints nothing, and the links
    /// already mailed keep working. Returns the `password_reset_requested` event's decision.
    pub async fn mail_link(
        &self,
        ctx: &RequestContext,
        email: &str,
    ) -> Result<Decision, Unexpected> {
        let now = self.clock.now();
        let found = self.accounts.find_by_email(email).await?;
        let mut event = AuthEvent::new(EventKind::PasswordResetRequested, ctx, now).username(email);
        let mut mail = None;
        // A disabled account gets no link: the asker sees what an unknown address gets.
        let (account, disabled) = match found {
            Some(a) if !a.may_sign_in() => (None, Some(a.id)),
            found => (found, None),
        };
        if let Some(id) = disabled {
            event = event
                .user(&id)
                .decision_detail(Decision::ResetUnknownAccount, "account disabled");
        } else if let Some(account) = &account {
            let ts = now.unix_timestamp();
            let (token, again) = self.link_token(&account.id, ts).await?;
            let notice = Notice::PasswordReset {
                link: self.link(Some(&token)),
                requested_from: net_of(ctx.ip).to_string(),
                familiar: self.risk.knows_network(&account.id, ctx.ip).await?,
            };
            mail = self.outbox.prepare(&account.email, notice).await?;
            if mail.is_none() && !again {
                // Over budget: the link minted for this request is never mailed.
                self.resets.delete_reset(&digest(&token)).await?;
            }
            event = event.user(&account.id);
            event = match (mail.is_some(), again) {
                (true, true) => event.decision_detail(Decision::ResetMailed, "the live link again"),
                (true, false) => event.decision(Decision::ResetMailed),
                (false, _) => event.decision(Decision::ResetSuppressedMailLimit),
            };
        } else {
            event = event.decision(if Email::parse(email).is_some() {
                Decision::ResetUnknownAccount
            } else {
                Decision::ResetInvalidEmail
            });
        }
        let decision = event.decision_code.unwrap_or(Decision::ResetUnknownAccount);
        self.events.record_with_mail(event, mail).await?;
        Ok(decision)
    }

    /// The token to mail: the account's live link's (`true`), or a new one stored sealed
    /// (`false`). The new one is stored only if no other request stored one in between; if
    /// one did, that one is mailed.
    async fn link_token(&self, user_id: &str, now: i64) -> Result<(String, bool), Unexpected> {
        if let Some(live) = self.live_token(user_id, now).await? {
            return Ok((live, true));
        }
        let token = self.random.token(32);
        let sealed = self.sealer.seal(&seal_context(user_id), token.as_bytes())?;
        let hash = digest(&token);
        let new = NewReset {
            token_hash: &hash,
            sealed_token: &sealed,
            user_id,
            expires_at: now + RESET_TTL_SECS,
            now,
        };
        if self
            .resets
            .insert_reset_unless_live(new, now + RESEND_MIN_LEFT_SECS)
            .await?
        {
            return Ok((token, false));
        }
        if let Some(live) = self.live_token(user_id, now).await? {
            return Ok((live, true));
        }
        // The live one does not open (another master key): this one is stored regardless.
        self.resets
            .insert_reset(&hash, &sealed, user_id, now + RESET_TTL_SECS, now)
            .await?;
        Ok((token, false))
    }

    /// The account's live link's token, if one has `RESEND_MIN_LEFT_SECS` or more left and
    /// opens under this master key (otherwise a new link is minted).
    async fn live_token(&self, user_id: &str, now: i64) -> Result<Option<String>, Unexpected> {
        let Some(sealed) = self
            .resets
            .live_reset(user_id, now + RESEND_MIN_LEFT_SECS)
            .await?
        else {
            return Ok(None);
        };
        match self
            .sealer
            .open(&seal_context(user_id), &sealed, Legacy::Text)
        {
            Ok(opened) if opened.current => Ok(String::from_utf8(opened.plain).ok()),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "a live reset link could not be opened; minting a new one");
                Ok(None)
            }
        }
    }

    /// Whether `token` can still be used (to show the form or an "expired" page).
    pub async fn is_usable(&self, token: &str) -> Result<bool, Unexpected> {
        Ok(self.usable_owner(token).await?.is_some())
    }

    /// The account a still usable `token` is for.
    async fn usable_owner(&self, token: &str) -> Result<Option<String>, Unexpected> {
        if token.len() > 128 {
            return Ok(None);
        }
        let now = self.clock.now().unix_timestamp();
        Ok(self.resets.reset_owner(&digest(token), now).await?)
    }

    /// Spends `token` and sets the new password.
    pub async fn reset(
        &self,
        ctx: &RequestContext,
        token: &str,
        password: SecretString,
    ) -> Result<(), AccountError> {
        // Check and hash the new password before spending the link, so neither a typo nor a
        // busy hash pool (a sign-in flood fills the ordinary queue: `503`) burns it. The hash
        // waits in the known lane of the link's account: only a live link's holder gets that
        // far (a dead link is refused first, without a hash).
        crate::domain::accounts::model::Password::parse(password.clone())
            .map_err(AccountError::InvalidInput)?;
        let Some(owner) = self.usable_owner(token).await? else {
            return Err(AccountError::InvalidInput(DEAD_LINK));
        };
        let hash = self.accounts.hash_password(&owner, password).await?;
        let now = self.clock.now();
        let ts = now.unix_timestamp();
        let spent = self.resets.consume_reset(&digest(token), ts).await?;
        // A link of an account disabled since it was mailed is refused like a spent one.
        let account = match &spent {
            Some(id) => self.accounts.find_active_by_id(id).await?,
            None => None,
        };
        let (Some(user_id), Some(account)) = (spent, account) else {
            return Err(AccountError::InvalidInput(DEAD_LINK));
        };
        self.accounts.store_password(&user_id, &hash).await?;
        let grants = self.grants.revoke_user_families(&user_id, ts).await?;
        self.bearer_cache.now();
        let mut detail = format!("sessions ended; {grants} grants revoked");
        if account.email_verified_at.is_none() {
            let removed = self.adopt(ctx, &account).await?;
            detail.push_str(&format!("; address verified, {removed} factors removed"));
        } else {
            let removed = self.drop_unproven(ctx, &account).await?;
            if removed > 0 {
                detail.push_str(&format!(
                    "; {removed} factors set up before verification or without a factor removed"
                ));
            }
        }
        let event = AuthEvent::new(EventKind::PasswordChanged, ctx, now)
            .user(&user_id)
            .decision_detail(Decision::PasswordReset, &detail);
        let mail = match self.accounts.find_by_id(&user_id).await? {
            Some(account) => {
                let notice = Notice::PasswordChanged {
                    reset_link: self.link(None),
                };
                self.outbox.prepare(&account.email, notice).await?
            }
            None => None,
        };
        self.events.record_with_mail(event, mail).await?;
        // Last, and not this answer's failure: whoever spent the step-up codes' budgets with
        // the old password cannot any more.
        if let Err(e) = self.outbox.restart_code_budgets(&account.email).await {
            tracing::warn!(error = %e, "the step-up codes' budgets were not started again");
        }
        Ok(())
    }
}

/// What a reset with a spent, expired or unknown link is told.
const DEAD_LINK: &str = "This link is invalid or has expired. Ask for a new one.";

impl ResetService {
    /// A reset of an account whose address was not verified yet proves the mailbox, so its
    /// owner is the one setting the password: the address is marked verified, and every
    /// second factor set up before (by whoever registered the address, who need not have
    /// been its owner: an attacker's passkey or app would outlive the reset and keep signing
    /// in, or hold the owner behind a factor only the attacker has) is removed, with the "at
    /// every sign-in" setting and the profile's name (which apps are told as the `name`
    /// claim: a squatter's "Support Team" would speak for the owner). How many factors were
    /// removed (the app counts as one).
    async fn adopt(&self, ctx: &RequestContext, account: &Account) -> Result<usize, AccountError> {
        let removed = self.remove_factors_before(ctx, account, i64::MAX).await?;
        self.accounts.set_require_mfa(&account.id, false).await?;
        if account.name.is_some() {
            self.accounts.clear_name(&account.id).await?;
        }
        self.accounts.mark_email_verified(&account.id).await?;
        Ok(removed)
    }

    /// The same for a verified account whose address was verified after factors were set up
    /// on it: the link's click proved someone read the mailbox, not that whoever set those up
    /// did (an attacker registers the owner's address, adds a passkey, and the owner confirms
    /// the unexpected mail). The reset proves the mailbox now: the factors from before the
    /// verification go, and so do those set up since by a session whose sign-in had passed no
    /// factor (the account's first, set up with the password alone: whoever holds the password
    /// could have added it, and it would sign in without the password, pass every step-up
    /// and outlive the reset); those set up past a factor stay. How many went.
    async fn drop_unproven(
        &self,
        ctx: &RequestContext,
        account: &Account,
    ) -> Result<usize, AccountError> {
        let verified = account
            .email_verified_at
            .map_or(i64::MAX, OffsetDateTime::unix_timestamp);
        self.remove_factors_before(ctx, account, verified).await
    }

    /// Removes `account`'s app and passkeys set up before `before` (unix seconds), or since
    /// by a session whose sign-in had passed no factor; how many.
    async fn remove_factors_before(
        &self,
        ctx: &RequestContext,
        account: &Account,
        before: i64,
    ) -> Result<usize, AccountError> {
        let mut removed = 0;
        // An unverified account's app goes finished or not (`before` is then `i64::MAX`).
        let app = self.authenticators.confirmed_app(&account.id).await?;
        let app_goes = before == i64::MAX || app.is_some_and(|(at, proven)| at < before || !proven);
        if app_goes && self.authenticators.remove(&account.id).await? {
            removed += 1;
        }
        for passkey in self.passkeys.list(&account.id).await? {
            if passkey.created_at.unix_timestamp() >= before && passkey.proven {
                continue;
            }
            self.passkeys
                .remove(ctx, account, &passkey.id)
                .await
                .map_err(|e| AccountError::Unexpected(anyhow::Error::new(e)))?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// The sealing context of an account's reset token (bound to the account: a sealed token
/// copied to another account's row does not open).
fn seal_context(user_id: &str) -> String {
    format!("password_reset:{user_id}")
}
