//! An operator's acts on accounts — list, show, disable, enable, delete — each one
//! `admin_action` event naming the actor, the target and what changed. `authd user …` calls
//! these today; the admin console (issue #11) is meant to call the same functions with its own
//! `Actor`.
//!
//! The rule they enforce is `Account::may_sign_in`: a disabled account cannot sign in by any
//! path (password, passkey, reset link, refresh token, an existing session, an access token
//! already issued — refused by userinfo and introspection, within `AUTHD_BEARER_CACHE_SECS` on
//! other instances). Disabling ends its browser sessions and revokes its grants at once;
//! enabling restores sign-in (not the ended sessions). Deleting removes the account and what is
//! stored under it (`storage::accounts::Removed`); its events keep their history.

use std::sync::Arc;

use crate::domain::account_security::SecurityService;
use crate::domain::accounts::model::Account;
use crate::domain::accounts::service::AccountService;
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::oauth::OAuthService;
use crate::domain::passkeys::PasskeyService;
use crate::domain::signin::LoginService;
use crate::events::decision::Decision;
use crate::events::sink::{EventSink, trace};
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::AccountStore;
use crate::storage::accounts::{AccountQuery, Removed};

/// The types the acts take and answer.
mod views;

use views::status_of;
pub use views::{
    AccountAdminError, AccountDetail, AccountStatus, Actor, DEFAULT_LIMIT, Deleted, Disabled,
    ListFilter, Listing, MAX_LIMIT,
};

/// The operator's account service. Cheap to clone.
#[derive(Clone)]
pub struct AccountAdmin {
    store: Arc<dyn AccountStore>,
    accounts: AccountService,
    security: SecurityService,
    login: LoginService,
    passkeys: PasskeyService,
    oauth: OAuthService,
    events: EventSink,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AccountAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountAdmin")
    }
}

/// What `AccountAdmin` is built from besides the account store.
#[derive(Clone)]
pub struct AccountAdminDeps {
    /// Accounts.
    pub accounts: AccountService,
    /// Sessions and grants.
    pub security: SecurityService,
    /// Second factors.
    pub login: LoginService,
    /// Passkeys.
    pub passkeys: PasskeyService,
    /// The bearer cache to clear.
    pub oauth: OAuthService,
    /// Events.
    pub events: EventSink,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl AccountAdmin {
    /// Builds the service.
    pub fn new(store: Arc<dyn AccountStore>, d: AccountAdminDeps) -> Self {
        Self {
            store,
            accounts: d.accounts,
            security: d.security,
            login: d.login,
            passkeys: d.passkeys,
            oauth: d.oauth,
            events: d.events,
            clock: d.clock,
        }
    }

    /// The account `target` names: an email, or else an id.
    async fn find(&self, target: &str) -> Result<Account, AccountAdminError> {
        let found = if target.contains('@') {
            self.accounts.find_by_email(target).await?
        } else {
            self.accounts.find_by_id(target).await?
        };
        found.ok_or(AccountAdminError::UnknownAccount)
    }

    /// An `admin_action` event about `target` (its id, and its email as `username`).
    fn event(&self, ctx: &RequestContext, target: Option<&Account>) -> AuthEvent {
        let e = AuthEvent::new(EventKind::AdminAction, ctx, self.clock.now());
        match target {
            Some(a) => e.user(&a.id).username(&a.email),
            None => e,
        }
    }

    /// Records an account made by an operator (`authd user add`): `admin_action`, decision
    /// `user_add; actor cli; admin true|false`, on the account.
    pub async fn created(
        &self,
        ctx: &RequestContext,
        actor: Actor<'_>,
        account: &Account,
    ) -> Result<(), AccountAdminError> {
        let detail = format!("{}; admin {}", actor.label(), account.is_admin);
        let event = self
            .event(ctx, Some(account))
            .decision_detail(Decision::AccountCreated, &detail);
        Ok(self.events.record(event).await?)
    }

    /// Lists accounts with their standing (`accounts_listed`, the filters as detail).
    pub async fn list(
        &self,
        ctx: &RequestContext,
        actor: Actor<'_>,
        f: ListFilter,
    ) -> Result<Listing, AccountAdminError> {
        let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(AccountAdminError::InvalidInput("limit must be 1 to 1000"));
        }
        if f.disabled && f.enabled {
            return Err(AccountAdminError::InvalidInput(
                "--disabled and --enabled exclude each other",
            ));
        }
        let q = AccountQuery {
            email: None,
            contains: f.contains.clone().filter(|s| !s.is_empty()),
            disabled: (f.disabled || f.enabled).then_some(f.disabled),
            locked: f.locked,
            admin: f.admin,
            after: f.after.clone(),
            limit: i64::from(limit) + 1,
        };
        let now = self.clock.now();
        let mut rows = self.store.list(&q, now.unix_timestamp()).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let accounts = rows
            .into_iter()
            .map(|r| status_of(r, now))
            .collect::<Result<Vec<_>, _>>()?;
        let filters: Vec<&str> = [
            (f.locked, "locked"),
            (f.disabled, "disabled"),
            (f.enabled, "enabled"),
            (f.admin, "admin"),
            (q.contains.is_some(), "contains"),
            (f.after.is_some(), "after"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        let detail = format!(
            "{}; {} shown; filters [{}]",
            actor.label(),
            accounts.len(),
            filters.join(", ")
        );
        let event = self
            .event(ctx, None)
            .decision_detail(Decision::AccountsListed, &detail);
        self.events.record(event).await?;
        Ok(Listing { accounts, more })
    }

    /// One account's standing, factors, sessions and last sign-in (`account_shown`).
    pub async fn show(
        &self,
        ctx: &RequestContext,
        actor: Actor<'_>,
        target: &str,
    ) -> Result<AccountDetail, AccountAdminError> {
        let account = self.find(target).await?;
        let now = self.clock.now();
        let q = AccountQuery {
            email: Some(account.email.clone()),
            limit: 1,
            ..AccountQuery::default()
        };
        let row = self.store.list(&q, now.unix_timestamp()).await?;
        let status = match row.into_iter().next() {
            Some(r) => status_of(r, now)?,
            None => return Err(AccountAdminError::UnknownAccount),
        };
        let listed = self.security.sessions(&account.id, None).await?;
        let grants = listed.iter().filter(|s| s.app.is_some()).count();
        let filter = EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some(account.id.clone()),
            limit: 1,
            ..EventFilter::default()
        };
        let last_sign_in = self.events.list(&filter).await?.first().map(|e| e.ts);
        let detail = AccountDetail {
            status,
            factors: self.login.factor_summary(&account).await?,
            passkeys: self.passkeys.list(&account.id).await?.len(),
            sessions: listed.len() - grants,
            grants,
            last_sign_in,
        };
        let event = self
            .event(ctx, Some(&account))
            .decision_detail(Decision::AccountShown, &actor.label());
        self.events.record(event).await?;
        Ok(detail)
    }

    /// Disables an account: no sign-in by any path from now on, its browser sessions ended and
    /// its grants revoked (`account_disabled`). Disabling a disabled account changes nothing
    /// (and says so in the event).
    pub async fn disable(
        &self,
        ctx: &RequestContext,
        actor: Actor<'_>,
        target: &str,
    ) -> Result<(Account, Disabled), AccountAdminError> {
        let account = self.find(target).await?;
        let sessions_ended = self.security.end_browsers(&account.id, None).await?;
        let now = self.clock.now();
        let base = self.event(ctx, Some(&account));
        let event = |grants: u64| {
            let detail = format!(
                "{}; {sessions_ended} sessions ended, {grants} grants revoked",
                actor.label()
            );
            base.clone()
                .decision_detail(Decision::AccountDisabled, &detail)
        };
        let done = self
            .store
            .disable(&account.id, now.unix_timestamp(), &event)
            .await?;
        // This instance refuses the account's access tokens at once; others within their
        // bearer cache's lifetime.
        self.oauth.bearer_cache.clear();
        let grants_revoked = match done {
            Some(grants) => {
                trace(&event(grants));
                grants
            }
            None => {
                let detail = format!("{}; already disabled", actor.label());
                let e = base.decision_detail(Decision::AccountDisabled, &detail);
                self.events.record(e).await?;
                0
            }
        };
        let disabled = Disabled {
            changed: done.is_some(),
            sessions_ended,
            grants_revoked,
        };
        Ok((account, disabled))
    }

    /// Enables a disabled account: it may sign in again (`account_enabled`); `false` if it was
    /// not disabled.
    pub async fn enable(
        &self,
        ctx: &RequestContext,
        actor: Actor<'_>,
        target: &str,
    ) -> Result<(Account, bool), AccountAdminError> {
        let account = self.find(target).await?;
        let now = self.clock.now();
        let event = self
            .event(ctx, Some(&account))
            .decision_detail(Decision::AccountEnabled, &actor.label());
        let changed = self
            .store
            .enable(&account.id, now.unix_timestamp(), &event)
            .await?;
        if changed {
            trace(&event);
        } else {
            let detail = format!("{}; was not disabled", actor.label());
            let e = self
                .event(ctx, Some(&account))
                .decision_detail(Decision::AccountEnabled, &detail);
            self.events.record(e).await?;
        }
        Ok((account, changed))
    }

    /// Deletes an account: its browser sessions end, then the account and everything stored
    /// under it goes in one transaction with `account_deleted` (see the module's doc).
    pub async fn delete(
        &self,
        ctx: &RequestContext,
        actor: Actor<'_>,
        target: &str,
    ) -> Result<(Account, Deleted), AccountAdminError> {
        let account = self.find(target).await?;
        let sessions_ended = self.security.end_browsers(&account.id, None).await?;
        let base = self.event(ctx, Some(&account));
        let event = |r: Removed| {
            let detail = format!(
                "{}; removed {sessions_ended} sessions, {} grants, {} passkeys, {} factor rows, \
                 {} reset links",
                actor.label(),
                r.grants,
                r.passkeys,
                r.factors,
                r.reset_links
            );
            base.clone()
                .decision_detail(Decision::AccountDeleted, &detail)
        };
        let removed = self
            .store
            .delete(&account.id, &event)
            .await?
            .ok_or(AccountAdminError::UnknownAccount)?;
        self.oauth.bearer_cache.clear();
        trace(&event(removed));
        let deleted = Deleted {
            sessions_ended,
            removed,
        };
        Ok((account, deleted))
    }
}
