//! The operator's acts on one account, shared by the admin console (`/admin/users/{id}/…`) and
//! the admin API (`/admin/api/users/{id}/…`): unlock, end every session and grant, end one,
//! force a password reset, reset the second factors, disable, enable, and label a sign-in for
//! training. Each calls the same domain function as the CLI or the API did before (no second
//! path) and records one `admin_action` event: the actor (an admin's account as `user_id`, or
//! an API client as `client_id`), decision `<what>; target <account id>[; detail]`. Disable
//! and enable are the exception: the CLI's call records the `admin_action` itself (on the
//! account, the actor in the decision), and a second record would only repeat it.
//!
//! An admin on the console cannot disable their own account, nor end their own current
//! session (alone, with "end all", or with a forced reset that ends sessions): `Refused`.

use crate::domain::account_security::error::SecurityError;
use crate::domain::account_security::password::RevokedBy;
use crate::domain::account_security::sessions::SessionView;
use crate::domain::accounts::admin::{AccountAdminError, Actor, Disabled};
use crate::domain::accounts::model::Account;
use crate::domain::admin::AdminError;
use crate::domain::admin_console::{Admin, AdminConsole, ConsoleError};
use crate::domain::context::RequestContext;
use crate::domain::signin::factors::MfaResetBy;
use crate::domain::signin::unlock::UnlockedBy;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventFilter, EventKind};

/// How far back a label from a user's page looks for the event among the account's own.
const LABEL_LOOKBACK: u32 = 1000;

/// Who acts.
#[derive(Debug, Clone, Copy)]
pub enum Operator<'a> {
    /// An admin on the console (with their own session's index row, to refuse ending it).
    Admin(&'a Admin),
    /// A client of the admin API (its client id).
    Client(&'a str),
    /// The command line (`authd model label`).
    Cli,
}

impl<'a> Operator<'a> {
    fn actor(self) -> Actor<'a> {
        match self {
            Self::Admin(a) => Actor::Admin(&a.id),
            Self::Client(c) => Actor::Client(c),
            Self::Cli => Actor::Cli,
        }
    }

    /// The admin acting on their own account.
    fn is_self(self, account: &Account) -> bool {
        matches!(self, Self::Admin(a) if a.id == account.id)
    }
}

/// What mailing a reset link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMail {
    /// A link was mailed (a new one, or the live one again).
    Sent,
    /// Not mailed: the address's reset-mail limit.
    MailLimit,
    /// Not mailed: the account is disabled.
    Disabled,
}

impl ResetMail {
    /// The outcome as a short code (events, the API).
    pub fn code(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::MailLimit => "mail_limit",
            Self::Disabled => "disabled",
        }
    }
}

/// What a forced reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForcedReset {
    /// The mail.
    pub mail: ResetMail,
    /// Sessions and grants ended, when asked for.
    pub ended: Option<(usize, u64)>,
}

impl From<AccountAdminError> for ConsoleError {
    fn from(e: AccountAdminError) -> Self {
        match e {
            AccountAdminError::UnknownAccount => Self::NotFound,
            AccountAdminError::InvalidInput(m) => Self::InvalidInput(m),
            AccountAdminError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<AdminError> for ConsoleError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::InvalidInput(m) => Self::InvalidInput(m),
            AdminError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<SecurityError> for ConsoleError {
    fn from(e: SecurityError) -> Self {
        match e {
            SecurityError::UnknownSession => Self::NotFound,
            SecurityError::InvalidInput(m) => Self::InvalidInput(m),
            SecurityError::Unexpected(e) => Self::Unexpected(e),
            // The owner's re-authentication and password checks are not on an operator's path.
            e @ (SecurityError::ReauthRequired
            | SecurityError::FactorRequired
            | SecurityError::WrongPassword
            | SecurityError::SessionEnded
            | SecurityError::RateLimited { .. }
            | SecurityError::Busy { .. }) => Self::Unexpected(anyhow::anyhow!("{e}")),
        }
    }
}

const OWN_SESSION: &str = "This would end the session you are using: sign out instead, or use \
                           \"Sign out everywhere else\" on your own security page.";
const OWN_ACCOUNT: &str = "You cannot disable your own account from the console.";

impl AdminConsole {
    /// Records the act: `admin_action`, the actor, `<what>; target <account id>[; detail]`
    /// (`<what>; <detail>` when there is no account: a label through the API).
    async fn acted(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        what: Decision,
        target: &str,
        detail: &str,
    ) -> Result<(), ConsoleError> {
        let text = match (target.is_empty(), detail.is_empty()) {
            (false, false) => format!("target {target}; {detail}"),
            (false, true) => format!("target {target}"),
            (true, _) => detail.to_owned(),
        };
        let mut event = AuthEvent::new(EventKind::AdminAction, ctx, self.now());
        match op {
            Operator::Admin(a) => event = event.user(&a.id),
            Operator::Client(c) => event.client_id = Some(c.to_owned()),
            Operator::Cli => {}
        }
        self.events
            .record(event.decision_detail(what, &text))
            .await?;
        Ok(())
    }

    /// The account's live browser sessions and app grants (as its security page lists them).
    pub async fn sessions(&self, id: &str) -> Result<Vec<SessionView>, ConsoleError> {
        let account = self.find(id).await?;
        Ok(self.security.sessions(&account.id, None).await?)
    }

    /// Lifts every block and lock of account `id` (as `authd user unlock`). `true` if there
    /// was anything to lift.
    pub async fn unlock(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
    ) -> Result<bool, ConsoleError> {
        let account = self.find(id).await?;
        let lifted = self
            .login
            .unlock(ctx, &account.id, UnlockedBy::Admin)
            .await?;
        self.acted(ctx, op, Decision::AdminUnlock, &account.id, "")
            .await?;
        Ok(lifted)
    }

    /// Ends every session and grant of account `id` (as `authd user revoke`): (sessions,
    /// grants).
    pub async fn end_sessions(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
    ) -> Result<(usize, u64), ConsoleError> {
        let account = self.find(id).await?;
        if op.is_self(&account) {
            return Err(ConsoleError::Refused(OWN_SESSION));
        }
        let (s, g) = self
            .security
            .revoke_everything(ctx, &account.id, RevokedBy::Admin)
            .await?;
        let detail = format!("all: {s} sessions, {g} grants");
        self.acted(ctx, op, Decision::AdminRevoke, &account.id, &detail)
            .await?;
        Ok((s, g))
    }

    /// Ends one session or grant (`session`: its opaque id, `s-…` or `g-…`) of account `id`;
    /// what ended, in words. `NotFound` when it is not (or no longer) one of the account's.
    pub async fn end_one(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
        session: &str,
    ) -> Result<String, ConsoleError> {
        let account = self.find(id).await?;
        if let Operator::Admin(a) = op
            && a.id == account.id
            && a.session_row
                .as_deref()
                .is_some_and(|row| session == format!("s-{row}"))
        {
            return Err(ConsoleError::Refused(OWN_SESSION));
        }
        let ended = self
            .security
            .operator_sign_out(ctx, &account.id, session)
            .await?;
        let what = ended.what();
        let detail = format!("one: {what}");
        self.acted(ctx, op, Decision::AdminRevoke, &account.id, &detail)
            .await?;
        Ok(what)
    }

    /// Mails account `id` a password reset link (the forgot-password path, waited for) and,
    /// when `end_sessions`, ends every session and grant.
    pub async fn force_reset(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
        end_sessions: bool,
    ) -> Result<ForcedReset, ConsoleError> {
        let account = self.find(id).await?;
        if end_sessions && op.is_self(&account) {
            return Err(ConsoleError::Refused(OWN_SESSION));
        }
        // Sessions first: ending them spends the account's unused reset links, so the link
        // mailed next must come after.
        let ended = if end_sessions {
            Some(
                self.security
                    .revoke_everything(ctx, &account.id, RevokedBy::Admin)
                    .await?,
            )
        } else {
            None
        };
        let mail = match self.resets.mail_link(ctx, &account.email).await? {
            Decision::ResetMailed => ResetMail::Sent,
            Decision::ResetSuppressedMailLimit => ResetMail::MailLimit,
            // Disabled (or deleted since it was found): no link, as for an unknown address.
            Decision::ResetUnknownAccount => ResetMail::Disabled,
            other => {
                return Err(ConsoleError::Unexpected(anyhow::anyhow!(
                    "a reset for an existing account answered {other:?}"
                )));
            }
        };
        let mut detail = format!("mail {}", mail.code());
        if let Some((s, g)) = ended {
            detail = format!("{detail}; {s} sessions, {g} grants ended");
        }
        self.acted(ctx, op, Decision::AdminForceReset, &account.id, &detail)
            .await?;
        Ok(ForcedReset { mail, ended })
    }

    /// Removes every second factor of account `id` (as `authd user mfa reset`: `mfa_removed`
    /// and the owner's mail); `true` if it had any.
    pub async fn reset_factors(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
    ) -> Result<bool, ConsoleError> {
        let account = self.find(id).await?;
        let removed = self
            .login
            .mfa_reset(ctx, &account, MfaResetBy::Admin)
            .await?;
        let detail = if removed { "removed" } else { "none to remove" };
        self.acted(ctx, op, Decision::AdminResetFactors, &account.id, detail)
            .await?;
        Ok(removed)
    }

    /// Disables account `id`: `authd user disable`'s call, whose own `admin_action` (on the
    /// account, decision `user_disable; actor admin <id>` or `actor client <id>`) is the record.
    pub async fn disable(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
    ) -> Result<Disabled, ConsoleError> {
        let account = self.find(id).await?;
        if op.is_self(&account) {
            return Err(ConsoleError::Refused(OWN_ACCOUNT));
        }
        let (_, d) = self
            .account_admin
            .disable(ctx, op.actor(), &account.id)
            .await?;
        Ok(d)
    }

    /// Enables account `id`: `authd user enable`'s call (its `admin_action`, `user_enable; actor
    /// …`, is the record); `false` if it was not disabled.
    pub async fn enable(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        id: &str,
    ) -> Result<bool, ConsoleError> {
        let account = self.find(id).await?;
        let (_, changed) = self
            .account_admin
            .enable(ctx, op.actor(), &account.id)
            .await?;
        Ok(changed)
    }

    /// Labels event `event_id` as an attack or legitimate for training (the admin API's
    /// labelling, `AdminService::label_event`). From a user's page (`account`: its id) the
    /// event must be one of that account's; from the API (`None`) any event id is taken.
    /// Returns the event id as stored.
    pub async fn label(
        &self,
        ctx: &RequestContext,
        op: Operator<'_>,
        account: Option<&str>,
        event_id: &str,
        attack: bool,
    ) -> Result<String, ConsoleError> {
        let target = match account {
            Some(id) => {
                let account = self.find(id).await?;
                let filter = EventFilter {
                    user_id: Some(account.id.clone()),
                    limit: LABEL_LOOKBACK,
                    ..EventFilter::default()
                };
                let events = self.events.list(&filter).await?;
                if !events.iter().any(|e| e.id == event_id.trim()) {
                    return Err(ConsoleError::NotFound);
                }
                Some(account.id)
            }
            None => None,
        };
        let stored = self.admin.label_event(event_id, attack).await?;
        let label = if attack { "attack" } else { "legitimate" };
        let detail = format!("event {stored}; {label}");
        let target = target.unwrap_or_default();
        self.acted(ctx, op, Decision::AdminLabel, &target, &detail)
            .await?;
        Ok(stored)
    }
}
