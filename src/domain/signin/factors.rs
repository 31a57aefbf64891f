//! Managing an account's second factors — the owner's authenticator app and recovery codes,
//! the "second factor at every sign-in" setting, and the operator's `authd user mfa reset` —
//! each change an event (`mfa_enrolled`, `mfa_removed`, `mfa_setting_changed`); adding or
//! removing a method queues the owner's one method-changed mail ("a new sign-in method was
//! added" / "a sign-in method was removed", `Notice::SignInMethodAdded`/`Removed`, the same
//! as the passkeys') in the same transaction. The security page that calls these asks for a
//! recent re-authentication first (HTTP's business).

use crate::domain::account_security::reauth::guards_factor_changes;
use crate::domain::accounts::model::Account;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::mfa::totp::Enrolment;
use crate::domain::mfa::{Factor, Factors};
use crate::domain::notify::{Notice, human_time};
use crate::domain::signin::LoginService;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

/// What the security page shows of an account's factors.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FactorSummary {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// A verified address (the e-mailed code).
    pub email_verified: bool,
    /// The owner's "second factor at every sign-in" setting.
    pub require_mfa: bool,
}

impl LoginService {
    /// The factors an account has (what a step-up can offer).
    pub async fn factors(&self, account: &Account) -> Result<Factors, Unexpected> {
        Ok(Factors {
            webauthn: self.passkeys.has_passkeys(&account.id).await?,
            totp: self.authenticators.has_app(&account.id).await?,
            email: account.email_verified_at.is_some(),
        })
    }

    /// Whether `account`'s second factor guards changes to its sign-in methods
    /// (`account_security::reauth::guards_factor_changes`).
    pub async fn factor_guard(&self, account: &Account) -> Result<bool, Unexpected> {
        let factors = self.factors(account).await?;
        Ok(guards_factor_changes(factors, account.is_admin))
    }

    /// The account's factors, for the security page.
    pub async fn factor_summary(&self, account: &Account) -> Result<FactorSummary, Unexpected> {
        let a = &self.authenticators;
        Ok(FactorSummary {
            totp: a.has_app(&account.id).await?,
            recovery_codes_left: a.codes_left(&account.id).await?,
            email_verified: account.email_verified_at.is_some(),
            require_mfa: account.require_mfa,
        })
    }

    /// Starts an authenticator-app enrolment, or shows again the one this session started
    /// (`held`: the `Enrolment::mark` it keeps) — never another session's, which a new one
    /// replaces; `None` if an app is confirmed.
    pub async fn totp_start(
        &self,
        account: &Account,
        held: Option<&str>,
    ) -> Result<Option<Enrolment>, Unexpected> {
        if let Some(pending) = self.totp_held(account, held).await? {
            return Ok(Some(pending));
        }
        self.authenticators.start(&account.id, &account.email).await
    }

    /// The unfinished enrolment this session started (`held`), shown again after a wrong
    /// first code; `None` when it is gone or another session's.
    pub async fn totp_held(
        &self,
        account: &Account,
        held: Option<&str>,
    ) -> Result<Option<Enrolment>, Unexpected> {
        let pending = (self.authenticators)
            .pending(&account.id, &account.email)
            .await?;
        Ok(pending.filter(|p| p.is_held_by(held)))
    }

    /// Confirms the enrolment with its first code, by a session whose sign-in had passed a
    /// factor (`proven`; else the owner's reset removes the app): the recovery codes (shown
    /// once), or `None` for a wrong code.
    pub async fn totp_confirm(
        &self,
        ctx: &RequestContext,
        account: &Account,
        code: &str,
        held_proven: (Option<&str>, bool),
    ) -> Result<Option<Vec<String>>, Unexpected> {
        let a = &self.authenticators;
        let Some(codes) = a.confirm(&account.id, code, held_proven).await? else {
            return Ok(None);
        };
        self.factor_changed(ctx, account, Factor::Totp, true)
            .await?;
        Ok(Some(codes))
    }

    /// Removes the authenticator app and its recovery codes; `false` if there was none.
    pub async fn totp_disable(
        &self,
        ctx: &RequestContext,
        account: &Account,
    ) -> Result<bool, Unexpected> {
        if !self.authenticators.remove(&account.id).await? {
            return Ok(false);
        }
        self.factor_changed(ctx, account, Factor::Totp, false)
            .await?;
        Ok(true)
    }

    /// New recovery codes (the old ones stop working); `None` without an app.
    pub async fn recovery_regenerate(
        &self,
        ctx: &RequestContext,
        account: &Account,
    ) -> Result<Option<Vec<String>>, Unexpected> {
        if !self.authenticators.has_app(&account.id).await? {
            return Ok(None);
        }
        let codes = self.authenticators.regenerate(&account.id).await?;
        // The owner hears of it: new codes pass future step-ups, and whoever made them (with
        // the password and a re-authentication) holds them, while the owner's stop working.
        let now = self.clock.now();
        let notice = Notice::SignInMethodAdded {
            method: "new recovery codes (the earlier ones no longer work)".to_owned(),
            when: human_time(now),
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        let event = AuthEvent::new(EventKind::MfaEnrolled, ctx, now)
            .user(&account.id)
            .decision(Decision::FactorRecoveryCode);
        self.events.record_with_mail(event, mail).await?;
        Ok(Some(codes))
    }

    /// Sets the owner's "second factor at every sign-in" setting: `mfa_setting_changed`
    /// (decision `require_mfa:on` / `require_mfa:off`); nothing when it already is so.
    pub async fn set_require_mfa(
        &self,
        ctx: &RequestContext,
        account: &Account,
        on: bool,
    ) -> Result<(), Unexpected> {
        if account.require_mfa == on {
            return Ok(());
        }
        self.accounts.set_require_mfa(&account.id, on).await?;
        let decision = if on {
            Decision::RequireMfaOn
        } else {
            Decision::RequireMfaOff
        };
        let event = AuthEvent::new(EventKind::MfaSettingChanged, ctx, self.clock.now())
            .user(&account.id)
            .decision(decision);
        Ok(self.events.record(event).await?)
    }

    /// `authd user mfa reset` (and the admin console's "reset factors"; `by` says which in
    /// the event): removes every second factor the account enrolled (the app, the recovery
    /// codes, every passkey: a lost device, or one an intruder added, must not outlive the
    /// reset) and the "at every sign-in" setting, after the operator checked the person's
    /// identity out of band; `mfa_removed` and the owner's mail.
    pub async fn mfa_reset(
        &self,
        ctx: &RequestContext,
        account: &Account,
        by: MfaResetBy,
    ) -> Result<bool, Unexpected> {
        let app = self.authenticators.remove(&account.id).await?;
        let passkeys = self.passkeys.remove_all(&account.id).await?;
        let removed = app || passkeys;
        self.accounts.set_require_mfa(&account.id, false).await?;
        let notice = Notice::SignInMethodRemoved {
            method: "every second factor (reset by an administrator)".to_owned(),
            when: human_time(self.clock.now()),
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        let event = AuthEvent::new(EventKind::MfaRemoved, ctx, self.clock.now())
            .user(&account.id)
            .decision(match by {
                MfaResetBy::Cli => Decision::MfaResetByCli,
                MfaResetBy::Admin => Decision::MfaResetByAdmin,
            });
        self.events.record_with_mail(event, mail).await?;
        Ok(removed)
    }

    /// `mfa_enrolled` / `mfa_removed` for `factor`, with the owner's mail.
    async fn factor_changed(
        &self,
        ctx: &RequestContext,
        account: &Account,
        factor: Factor,
        added: bool,
    ) -> Result<(), Unexpected> {
        let now = self.clock.now();
        let (method, when) = (factor.label().to_owned(), human_time(now));
        let (kind, notice) = if added {
            (
                EventKind::MfaEnrolled,
                Notice::SignInMethodAdded { method, when },
            )
        } else {
            (
                EventKind::MfaRemoved,
                Notice::SignInMethodRemoved { method, when },
            )
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        let event = AuthEvent::new(kind, ctx, now)
            .user(&account.id)
            .decision(factor.decision());
        Ok(self.events.record_with_mail(event, mail).await?)
    }
}

/// Who reset an account's second factors (the `mfa_removed` event's decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaResetBy {
    /// `authd user mfa reset`.
    Cli,
    /// An operator on the admin console or API.
    Admin,
}
