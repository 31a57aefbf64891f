//! What the operator's account acts take and answer: the actor, the listing's filters, an
//! account's standing and details, what a disable or delete did, and the area's error. No
//! secret is in any of them (no hash, no factor secret).

use time::OffsetDateTime;

use crate::domain::accounts::service::account_from;
use crate::domain::error::unexpected_from;
use crate::domain::signin::factors::FactorSummary;
use crate::storage::accounts::{ListedAccount, Removed};

/// Most accounts one listing returns.
pub const MAX_LIMIT: u32 = 1000;
/// Accounts a listing returns when not told.
pub const DEFAULT_LIMIT: u32 = 100;

/// What an operator's act can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AccountAdminError {
    /// No account has that email or id.
    #[error("no account with that email or id")]
    UnknownAccount,
    /// A filter is malformed; the message is safe to show.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// An infrastructure failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(AccountAdminError);

/// Who acts: recorded in the event as `actor <label>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// The command line (`authd user …`).
    Cli,
    /// An administrator's account (the console).
    Admin(&'a str),
    /// A client of the admin API (its client id).
    Client(&'a str),
}

impl Actor<'_> {
    pub(super) fn label(self) -> String {
        match self {
            Self::Cli => "actor cli".to_owned(),
            Self::Admin(id) => format!("actor admin {id}"),
            Self::Client(id) => format!("actor client {id}"),
        }
    }
}

/// The listing's filters, as the operator gave them.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only addresses containing this text.
    pub contains: Option<String>,
    /// Only accounts under an account-wide lock now.
    pub locked: bool,
    /// Only disabled accounts.
    pub disabled: bool,
    /// Only enabled accounts.
    pub enabled: bool,
    /// Only administrators.
    pub admin: bool,
    /// Only emails after this one (the previous page's last).
    pub after: Option<String>,
    /// At most this many (1 to `MAX_LIMIT`, default `DEFAULT_LIMIT`).
    pub limit: Option<u32>,
}

/// An account's standing, as listed (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    /// The id.
    pub id: String,
    /// The email.
    pub email: String,
    /// An administrator.
    pub admin: bool,
    /// Created.
    pub created_at: OffsetDateTime,
    /// The address was verified.
    pub verified: bool,
    /// Disabled since (`None`: enabled).
    pub disabled_at: Option<OffsetDateTime>,
    /// Locked for unknown sources until (`None`: not locked now).
    pub locked_until: Option<OffsetDateTime>,
}

/// One page of the listing.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The accounts, by email.
    pub accounts: Vec<AccountStatus>,
    /// More match after the last one (ask again with `after`).
    pub more: bool,
}

/// One account in full, as `show` reads it.
#[derive(Debug, Clone)]
pub struct AccountDetail {
    /// Its standing.
    pub status: AccountStatus,
    /// Its second factors.
    pub factors: FactorSummary,
    /// Registered passkeys.
    pub passkeys: usize,
    /// Live browser sessions.
    pub sessions: usize,
    /// Live app grants.
    pub grants: usize,
    /// The newest successful sign-in still in the event log.
    pub last_sign_in: Option<OffsetDateTime>,
}

/// What a disable did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disabled {
    /// `false`: it was disabled already (nothing changed).
    pub changed: bool,
    /// Browser sessions ended.
    pub sessions_ended: usize,
    /// Grants revoked.
    pub grants_revoked: u64,
}

/// What a delete removed: the stored rows, and the browser sessions ended first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// Browser sessions ended.
    pub sessions_ended: usize,
    /// Rows removed.
    pub removed: Removed,
}

/// A listed row as the operator sees it: no hash, a lock only while it holds.
pub(super) fn status_of(
    r: ListedAccount,
    now: OffsetDateTime,
) -> Result<AccountStatus, AccountAdminError> {
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).ok();
    let locked_until = r.locked_until.and_then(at).filter(|until| *until > now);
    let a = account_from(r.account)?;
    Ok(AccountStatus {
        verified: a.email_verified_at.is_some(),
        id: a.id,
        email: a.email,
        admin: a.is_admin,
        created_at: a.created_at,
        disabled_at: a.disabled_at,
        locked_until,
    })
}
