//! The admin console (docs/admin.md): who may see it (an admin account whose sign-in passed a
//! second factor, not idle longer than `AUTHD_ADMIN_IDLE_SECS`), and the one domain call per
//! page: the overview (`overview.rs`), the user search and a user's page, and the acts on an
//! account that write `admin_action` (`actions.rs`, shared with the admin API). No axum, no
//! sqlx.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::domain::account_security::SecurityService;
use crate::domain::account_security::sessions::SessionView;
use crate::domain::accounts::admin::AccountAdmin;
use crate::domain::accounts::model::Account;
use crate::domain::accounts::reset::ResetService;
use crate::domain::accounts::service::AccountService;
use crate::domain::admin::AdminService;
use crate::domain::clock::Clock;
use crate::domain::error::unexpected_from;
use crate::domain::mfa::{ACR_MFA, acr_of};
use crate::domain::risk::wave_state::Waves;
use crate::domain::signin::LoginService;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventFilter};
use crate::storage::admin_stats::{AdminStatsStore, FoundAccount};
use crate::storage::protection::ALL_SOURCES;

/// The acts on one account (shared with the admin API).
pub mod actions;
/// The overview's counts.
pub mod overview;
/// The overview's further parts (time series, risk, mail, model, networks).
pub mod overview_more;

/// Longest search accepted (an email is at most 254 characters).
const MAX_SEARCH_LEN: usize = 254;
/// Most accounts a search lists.
pub(crate) const SEARCH_LIMIT: i64 = 50;
/// Most events a user's page lists.
const USER_EVENTS: u32 = 50;
/// How long after the sign-in that proved the second factor the console takes acts (any
/// request that is not a read): past it, an act asks for the step-up again, so a session
/// left open or taken keeps only the reads (GitHub's "sudo mode" idea).
pub const ACT_FRESH_SECS: i64 = 15 * 60;

/// Why the console refuses a signed-in session.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The account is not an admin (answered as "no such page").
    #[error("not an admin")]
    NotAdmin,
    /// The session's sign-in used no second factor; `factors` are what the account could use
    /// (empty: it has none and must enrol one first).
    #[error("second factor required")]
    StepUpRequired {
        /// Names of the account's second factors (`passkey`, `totp`, `email`).
        factors: Vec<&'static str>,
        /// The sign-in did prove one, but longer than `ACT_FRESH_SECS` before this act.
        stale: bool,
    },
    /// No admin page was used for longer than the console's idle timeout.
    #[error("admin console idle")]
    Idle,
    /// An infrastructure failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(GateError);

/// Everything a console call can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No such account.
    #[error("not found")]
    NotFound,
    /// The input is malformed; the message is safe to show.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The act is refused (an admin's own account or session); the message is safe to show.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// An infrastructure failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(ConsoleError);

/// The admin let in, and when (the session keeps it as the console's last use).
#[derive(Debug, Clone)]
pub struct Admin {
    /// The admin's account id.
    pub id: String,
    /// The admin's email.
    pub email: String,
    /// Now: the console's new last use.
    pub seen_at: i64,
    /// The index row of the admin's own session (set by the HTTP layer), so the console
    /// refuses to end it.
    pub session_row: Option<String>,
}

/// One account's page.
#[derive(Debug, Clone)]
pub struct UserDetail {
    /// The account.
    pub account: Account,
    /// The account-wide lock's end (unix seconds), if locked now.
    pub locked_until: Option<i64>,
    /// Sources (networks, devices) of this account blocked now.
    pub blocked_sources: usize,
    /// Second factors it has (`passkey`, `totp`, `email`).
    pub factors: Vec<&'static str>,
    /// Its newest events, newest first (with their risk, where scored).
    pub events: Vec<AuthEvent>,
    /// Its live browser sessions and app grants (as its security page lists them).
    pub sessions: Vec<SessionView>,
}

/// The console's service.
#[derive(Clone)]
pub struct AdminConsole {
    accounts: AccountService,
    login: LoginService,
    security: SecurityService,
    resets: ResetService,
    account_admin: AccountAdmin,
    admin: AdminService,
    stats: Arc<dyn AdminStatsStore>,
    events: EventSink,
    waves: Waves,
    clock: Arc<dyn Clock>,
    idle: Duration,
    more: overview_more::OverviewDeps,
}

impl std::fmt::Debug for AdminConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminConsole")
    }
}

/// What the console is built from.
pub struct ConsoleDeps {
    /// Accounts.
    pub accounts: AccountService,
    /// Sign-in (factors, unlock).
    pub login: LoginService,
    /// Sessions and grants.
    pub security: SecurityService,
    /// Reset links.
    pub resets: ResetService,
    /// Disable and enable.
    pub account_admin: AccountAdmin,
    /// The admin API's labelling.
    pub admin: AdminService,
    /// The console's reads.
    pub stats: Arc<dyn AdminStatsStore>,
    /// The event log.
    pub events: EventSink,
    /// The wave detector's view.
    pub waves: Waves,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// `AUTHD_ADMIN_IDLE_SECS`.
    pub idle: Duration,
    /// The overview's further reads.
    pub more: overview_more::OverviewDeps,
}

impl AdminConsole {
    /// The service.
    pub fn new(d: ConsoleDeps) -> Self {
        Self {
            accounts: d.accounts,
            login: d.login,
            security: d.security,
            resets: d.resets,
            account_admin: d.account_admin,
            admin: d.admin,
            stats: d.stats,
            events: d.events,
            waves: d.waves,
            clock: d.clock,
            idle: d.idle,
            more: d.more,
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    async fn factor_names(&self, account: &Account) -> Result<Vec<&'static str>, GateError> {
        let f = self.login.factors(account).await?;
        let mut names = Vec::new();
        if f.webauthn {
            names.push("passkey");
        }
        if f.totp {
            names.push("totp");
        }
        if f.email {
            names.push("email");
        }
        Ok(names)
    }

    /// Lets a signed-in session in, or says why not: the account must be an admin, the
    /// console used within the idle timeout (`last_seen`: the session's last console page, unix
    /// seconds; `None` on the first), and the sign-in's `amr` must hold a second factor; for an
    /// act (`act_after_sign_in_at`: the request changes something, and the sign-in's time),
    /// that sign-in must be at most `ACT_FRESH_SECS` old.
    pub async fn gate(
        &self,
        user_id: &str,
        amr: &[String],
        last_seen: Option<i64>,
        act_after_sign_in_at: Option<i64>,
    ) -> Result<Admin, GateError> {
        let account = match self.accounts.find_by_id(user_id).await? {
            Some(a) if a.is_admin => a,
            _ => return Err(GateError::NotAdmin),
        };
        let now = self.now().unix_timestamp();
        if last_seen.is_some_and(|t| now.saturating_sub(t) > self.idle.whole_seconds()) {
            return Err(GateError::Idle);
        }
        let stale = act_after_sign_in_at.is_some_and(|at| now.saturating_sub(at) > ACT_FRESH_SECS);
        if acr_of(amr) != ACR_MFA || stale {
            let factors = self.factor_names(&account).await?;
            return Err(GateError::StepUpRequired { factors, stale });
        }
        Ok(Admin {
            id: account.id,
            email: account.email,
            seen_at: now,
            session_row: None,
        })
    }

    /// Accounts whose email contains `q` (case-insensitive), by email.
    pub async fn search(&self, q: &str) -> Result<Vec<FoundAccount>, ConsoleError> {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        if q.len() > MAX_SEARCH_LEN || q.chars().any(char::is_control) {
            return Err(ConsoleError::InvalidInput(
                "The search is not an email or part of one.",
            ));
        }
        Ok(self.stats.search_accounts(&q, SEARCH_LIMIT).await?)
    }

    /// One account's state, sessions and grants, and newest events; `current` (the index row
    /// of the asking admin's own session) is marked among the sessions.
    pub async fn user(&self, id: &str, current: Option<&str>) -> Result<UserDetail, ConsoleError> {
        let account = self.find(id).await?;
        let blocks = self
            .stats
            .active_blocks(&account.id, self.now().unix_timestamp())
            .await?;
        let locked_until = blocks
            .iter()
            .find(|b| b.source == ALL_SOURCES)
            .map(|b| b.blocked_until);
        let blocked_sources = blocks.iter().filter(|b| b.source != ALL_SOURCES).count();
        let factors = self.factor_names(&account).await.map_err(|e| match e {
            GateError::Unexpected(e) => ConsoleError::Unexpected(e),
            other => ConsoleError::Unexpected(anyhow::anyhow!("{other}")),
        })?;
        let filter = EventFilter {
            user_id: Some(account.id.clone()),
            limit: USER_EVENTS,
            ..EventFilter::default()
        };
        let events = self.events.list(&filter).await?;
        let sessions = self.security.sessions(&account.id, current).await?;
        Ok(UserDetail {
            sessions,
            account,
            locked_until,
            blocked_sources,
            factors,
            events,
        })
    }

    /// The account `id` names: its id, or (from the API) its email. Text that can be neither
    /// (empty, longer than an email can be, control characters) is malformed, not unknown.
    async fn find(&self, id: &str) -> Result<Account, ConsoleError> {
        if id.is_empty() || id.len() > MAX_SEARCH_LEN || id.chars().any(char::is_control) {
            return Err(ConsoleError::InvalidInput(
                "The account is named by its id or its email.",
            ));
        }
        let found = if id.contains('@') {
            self.accounts.find_by_email(id).await?
        } else {
            self.accounts.find_by_id(id).await?
        };
        found.ok_or(ConsoleError::NotFound)
    }
}
