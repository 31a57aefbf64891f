//! Storage for the attack protection: failure counters per (account, source) with their blocks,
//! and server-side secrets (the device-cookie key). Counters are changed only by single atomic
//! statements, so any number of instances and parallel requests see one consistent count.

use async_trait::async_trait;

use crate::storage::AccountRecord;
use crate::storage::error::StoreError;

/// One counter row after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FailureState {
    /// Attempts counted in the current window (including in-flight ones).
    pub failures: i64,
    /// Blocked until (unix seconds).
    pub blocked_until: Option<i64>,
    /// How many blocks this pair has had (for growing blocks).
    pub blocks: i64,
    /// Until when the account-wide row (`*`) is locked, read in the same statement.
    #[sqlx(default)]
    pub account_locked_until: Option<i64>,
}

/// What the sign-in lookup needs to pick the counter row before it knows the account.
#[derive(Debug, Clone, Copy)]
pub struct SignInKeys<'a> {
    /// The normalised email to look up (`None`: not an email, no account can match).
    pub email: Option<&'a str>,
    /// The counter's account key when no account matches (`name:…`).
    pub unknown_account: &'a str,
    /// A valid device cookie's user id and that device's source key: used when the user id is
    /// the matched account's.
    pub device: Option<(&'a str, &'a str)>,
    /// The network source key, used otherwise.
    pub net: &'a str,
    /// The client's /24 or /48 (kept on the row for the risk engine's per-prefix counts).
    pub prefix: &'a str,
    /// Unix seconds.
    pub now: i64,
    /// Windows that started before this restart at 1.
    pub window_cutoff: i64,
}

impl SignInKeys<'_> {
    /// The (account key, source key) of the row to count, once the account is known; the
    /// PostgreSQL statement makes the same choice in SQL.
    pub fn pick(&self, account: Option<&AccountRecord>) -> (String, String) {
        let account_key = account.map_or_else(
            || self.unknown_account.to_owned(),
            |a| format!("user:{}", a.id),
        );
        let source = match (self.device, account) {
            (Some((user, device)), Some(a)) if user == a.id => device,
            _ => self.net,
        };
        (account_key, source.to_owned())
    }
}

/// The account a sign-in names and its counted attempt.
#[derive(Debug, Clone)]
pub struct SignInCount {
    /// The account, if the email matched one.
    pub account: Option<AccountRecord>,
    /// The counter row's account key.
    pub account_key: String,
    /// The counter row's source key.
    pub source: String,
    /// The row after counting.
    pub state: FailureState,
}

/// Failure counters.
#[async_trait]
pub trait FailureStore: Send + Sync {
    /// Counts one attempt for (account, source) and returns the new state (`prefix`, when given, is kept on the row); a window that started
    /// before `window_cutoff` restarts at 1. One statement: concurrent callers serialise.
    async fn count_attempt(
        &self,
        account: &str,
        source: &str,
        prefix: Option<&str>,
        now: i64,
        window_cutoff: i64,
    ) -> Result<FailureState, StoreError>;
    /// The sign-in lookup: finds the account for `keys.email` and counts the attempt on the
    /// row `SignInKeys::pick` names (PostgreSQL: one statement, so the protection adds no round
    /// trip to the account lookup every sign-in makes anyway; SQLite: two in-process statements).
    async fn find_and_count(&self, keys: &SignInKeys<'_>) -> Result<SignInCount, StoreError>;
    /// Blocks the pair until `until` and counts the block.
    async fn block(&self, account: &str, source: &str, until: i64) -> Result<(), StoreError>;
    /// Takes back one counted attempt (a success, or a refusal that never reached the hash).
    async fn uncount(&self, account: &str, source: &str) -> Result<(), StoreError>;
    /// Forgets the pair and stores the success `event` (PostgreSQL: one statement with a
    /// data-modifying CTE, so the clear rides on a write every sign-in makes anyway; SQLite: two
    /// in-process statements).
    async fn clear_with_event(
        &self,
        account: &str,
        source: &str,
        event: &crate::events::AuthEvent,
    ) -> Result<(), StoreError>;
    /// The pair's state, if any.
    async fn find(&self, account: &str, source: &str) -> Result<Option<FailureState>, StoreError>;
    /// Forgets every pair of the account (unlock); how many rows went.
    async fn clear_account(&self, account: &str) -> Result<u64, StoreError>;
    /// A server secret by name, creating it with `fresh` if absent (first writer wins).
    async fn secret(&self, name: &str, fresh: &str, now: i64) -> Result<String, StoreError>;
}
