//! Storage for the attack protection: failure counters per (account, source) with their blocks,
//! and server-side secrets (the device-cookie key). Counters are changed only by single atomic
//! statements, so any number of instances and parallel requests see one consistent count.

use async_trait::async_trait;

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

/// Failure counters.
#[async_trait]
pub trait FailureStore: Send + Sync {
    /// Counts one attempt for (account, source) and returns the new state; a window that started
    /// before `window_cutoff` restarts at 1. One statement: concurrent callers serialise.
    async fn count_attempt(
        &self,
        account: &str,
        source: &str,
        now: i64,
        window_cutoff: i64,
    ) -> Result<FailureState, StoreError>;
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
