//! Storage for the attack protection: failure counters per (account key, source key) with their
//! blocks, and server-side secrets (the device-cookie key). Counters are changed only by single
//! atomic statements, so any number of instances and parallel requests see one consistent count.
//!
//! The key prefixes below are the one spelling of the counter keys: the SQL binds them as
//! parameters, and the Rust that encodes keys uses the same constants. The two statements every
//! sign-in makes here differ by engine; they sit side by side in `signin.rs`, with the one rule
//! that picks the counter row an attempt counts against.

use async_trait::async_trait;

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::risk::ProfileWrite;
use crate::storage::{AccountRecord, Backend, on_pool};

/// Spent mailed links (single use).
pub mod links;
/// The sign-in's two statements, each engine's next to its twin.
mod signin;

/// Account key of a known account: `user:<account id>`.
pub const ACCOUNT_KEY_PREFIX: &str = "user:";
/// Account key of a typed sign-in name that matches no account: `name:<name key>`.
pub const NAME_KEY_PREFIX: &str = "name:";
/// Account key of a form gate (register, forgot password): `form:<form>`. Its rows count form
/// submissions, not sign-ins, so the risk engine's velocity reads leave them out.
pub const FORM_KEY_PREFIX: &str = "form:";
/// Source key of a browser with a valid device cookie for the account: `device:<device id>`.
pub const DEVICE_SOURCE_PREFIX: &str = "device:";
/// Source key of anything else, by network: `net:<address or /64>`.
pub const NET_SOURCE_PREFIX: &str = "net:";
/// The source of an account's account-wide row (the lock against distributed guessing).
pub const ALL_SOURCES: &str = "*";

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

/// What the sign-in lookup needs to pick the counter row before it knows the account. The row
/// is (`ACCOUNT_KEY_PREFIX` + the account's id, or `unknown_account` when no account matches;
/// the device's source key when `device` names the matched account at its current session
/// epoch, else `net`).
#[derive(Debug, Clone, Copy)]
pub struct SignInKeys<'a> {
    /// The normalised email to look up (`None`: not an email, no account can match).
    pub email: Option<&'a str>,
    /// The counter's account key when no account matches (`name:…`).
    pub unknown_account: &'a str,
    /// A valid device cookie's owner as `<user id>:<session epoch>` and that device's source
    /// key: used when the owner is the matched account at its current session epoch (a
    /// password reset or "wasn't you?" moves the epoch on, and older cookies stop counting).
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
    /// Counts one attempt for (account, source) and returns the new state (`prefix`, when
    /// given, is kept on the row); a window that started before `window_cutoff` restarts at 1.
    /// One statement: concurrent callers serialise.
    async fn count_attempt(
        &self,
        account: &str,
        source: &str,
        prefix: Option<&str>,
        now: i64,
        window_cutoff: i64,
    ) -> Result<FailureState, StoreError>;
    /// The sign-in lookup: finds the account for `keys.email` and counts the attempt on the
    /// row `SignInKeys` describes (PostgreSQL: one statement, so the protection adds no round
    /// trip to the account lookup every sign-in makes anyway; SQLite: two in-process statements).
    async fn find_and_count(&self, keys: &SignInKeys<'_>) -> Result<SignInCount, StoreError>;
    /// Blocks the pair until `until` and counts the block.
    async fn block(&self, account: &str, source: &str, until: i64) -> Result<(), StoreError>;
    /// Takes back one counted attempt (a success, or a refusal that never reached the hash).
    async fn uncount(&self, account: &str, source: &str) -> Result<(), StoreError>;
    /// Forgets the pair and stores the success `event`, and the account's updated risk
    /// `profile` when given, all or nothing (PostgreSQL: one statement with data-modifying CTEs,
    /// so the clear and the profile ride on a write every sign-in makes anyway; SQLite: one
    /// message to the writer, one transaction).
    async fn clear_with_event(
        &self,
        account: &str,
        source: &str,
        event: &AuthEvent,
        profile: Option<ProfileWrite<'_>>,
    ) -> Result<(), StoreError>;
    /// The pair's state, if any.
    async fn find(&self, account: &str, source: &str) -> Result<Option<FailureState>, StoreError>;
    /// Read-only, for a form shown before anything is typed: the live sign-in row (a window
    /// started at or after `window_cutoff`; form rows left out) with the most failures among
    /// the rows of `sources`, whatever account they count against. Counts nothing.
    async fn find_busiest_source_row(
        &self,
        sources: [&str; 2],
        window_cutoff: i64,
    ) -> Result<Option<FailureState>, StoreError>;
    /// Read-only: the pair's state if its window started at or after `window_cutoff`.
    async fn find_live(
        &self,
        account: &str,
        source: &str,
        window_cutoff: i64,
    ) -> Result<Option<FailureState>, StoreError>;
    /// Whether the owner reported the browser whose device cookie counts on `source`
    /// (`revoked_device`; the password sign-in's lookup reads it in its own statement).
    async fn is_revoked_device(&self, source: &str) -> Result<bool, StoreError>;
    /// Forgets every pair of the account (the operator's unlock); how many rows went.
    async fn clear_account(&self, account: &str) -> Result<u64, StoreError>;
    /// Forgets the account's pairs with the given sources only (the owner's unlock link: the
    /// account-wide lock and the owner's own sources, never the sources that attacked); how
    /// many rows went.
    async fn clear_sources(&self, account: &str, sources: &[String]) -> Result<u64, StoreError>;
    /// A server secret by name, creating it with `fresh` if absent (first writer wins).
    async fn secret(&self, name: &str, fresh: &str, now: i64) -> Result<String, StoreError>;
    /// Replaces a server secret's stored value with `new` if it is still `old` (resealing);
    /// whether it was.
    async fn replace_secret(&self, name: &str, old: &str, new: &str) -> Result<bool, StoreError>;
}

/// Counts an attempt (`insert … on conflict … returning` works on PostgreSQL and on SQLite ≥
/// 3.35; the bundled one is 3.46) and reads the account-wide row's lock in the same statement.
/// Binds: `$1` account key, `$2` source, `$3` now, `$4` window cutoff, `$5` prefix (kept when
/// null), `$6` `ALL_SOURCES`.
const COUNT_ATTEMPT: &str = "insert into login_failure (account_key, source, failures, \
    window_start, blocked_until, blocks, updated_at, created_at, prefix) \
    values ($1, $2, 1, $3, null, 0, $3, $3, $5) \
    on conflict (account_key, source) do update set \
    prefix = coalesce($5, login_failure.prefix), \
    failures = case when login_failure.window_start < $4 then 1 else login_failure.failures + 1 end, \
    window_start = case when login_failure.window_start < $4 then $3 else login_failure.window_start end, \
    updated_at = $3 \
    returning failures, blocked_until, blocks, \
    (select l.blocked_until from login_failure l where l.account_key = $1 and l.source = $6) \
    as account_locked_until";

#[async_trait]
impl FailureStore for Backend {
    async fn count_attempt(
        &self,
        account: &str,
        source: &str,
        prefix: Option<&str>,
        now: i64,
        window_cutoff: i64,
    ) -> Result<FailureState, StoreError> {
        Ok(on_pool!(self.counter_pool(), |p| sqlx::query_as(
            COUNT_ATTEMPT
        )
        .bind(account)
        .bind(source)
        .bind(now)
        .bind(window_cutoff)
        .bind(prefix)
        .bind(ALL_SOURCES)
        .fetch_one(p)
        .await?))
    }

    async fn find_and_count(&self, keys: &SignInKeys<'_>) -> Result<SignInCount, StoreError> {
        signin::find_and_count(self, keys).await
    }

    async fn block(&self, account: &str, source: &str, until: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update login_failure set blocked_until = $3, blocks = blocks + 1, failures = 0 \
                 where account_key = $1 and source = $2",
            )
            .bind(account)
            .bind(source)
            .bind(until)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn uncount(&self, account: &str, source: &str) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update login_failure set failures = failures - 1 \
                 where account_key = $1 and source = $2 and failures > 0",
            )
            .bind(account)
            .bind(source)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn clear_with_event(
        &self,
        account: &str,
        source: &str,
        event: &AuthEvent,
        profile: Option<ProfileWrite<'_>>,
    ) -> Result<(), StoreError> {
        signin::clear_with_event(self, account, source, event, profile).await
    }

    async fn find(&self, account: &str, source: &str) -> Result<Option<FailureState>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select failures, blocked_until, blocks, null as account_locked_until \
             from login_failure where account_key = $1 and source = $2",
        )
        .bind(account)
        .bind(source)
        .fetch_optional(p)
        .await?))
    }

    async fn find_busiest_source_row(
        &self,
        sources: [&str; 2],
        window_cutoff: i64,
    ) -> Result<Option<FailureState>, StoreError> {
        // `login_failure_source` (source, window_start) serves this; `$4` is the form prefix
        // followed by `%` (the prefixes hold no pattern characters, see the test below).
        let [a, b] = sources;
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select failures, blocked_until, blocks, null as account_locked_until \
             from login_failure where (source = $1 or source = $2) and window_start >= $3 \
             and account_key not like $4 order by failures desc limit 1",
        )
        .bind(a)
        .bind(b)
        .bind(window_cutoff)
        .bind(format!("{FORM_KEY_PREFIX}%"))
        .fetch_optional(p)
        .await?))
    }

    async fn find_live(
        &self,
        account: &str,
        source: &str,
        window_cutoff: i64,
    ) -> Result<Option<FailureState>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select failures, blocked_until, blocks, null as account_locked_until \
             from login_failure where account_key = $1 and source = $2 and window_start >= $3",
        )
        .bind(account)
        .bind(source)
        .bind(window_cutoff)
        .fetch_optional(p)
        .await?))
    }

    async fn is_revoked_device(&self, source: &str) -> Result<bool, StoreError> {
        let (n,): (i64,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "select count(*) from revoked_device where source = $1"
        )
        .bind(source)
        .fetch_one(p)
        .await?);
        Ok(n > 0)
    }

    async fn clear_account(&self, account: &str) -> Result<u64, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "delete from login_failure where account_key = $1"
        )
        .bind(account)
        .execute(p)
        .await?
        .rows_affected()))
    }

    async fn clear_sources(&self, account: &str, sources: &[String]) -> Result<u64, StoreError> {
        let mut cleared = 0;
        for source in sources {
            cleared += on_pool!(self.writer(), |p| sqlx::query(
                "delete from login_failure where account_key = $1 and source = $2"
            )
            .bind(account)
            .bind(source)
            .execute(p)
            .await?
            .rows_affected());
        }
        Ok(cleared)
    }

    async fn secret(&self, name: &str, fresh: &str, now: i64) -> Result<String, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into server_secret (name, value, created_at) values ($1, $2, $3) \
                 on conflict (name) do nothing",
            )
            .bind(name)
            .bind(fresh)
            .bind(now)
            .execute(p)
            .await?;
            sqlx::query_scalar("select value from server_secret where name = $1")
                .bind(name)
                .fetch_one(p)
                .await?
        }))
    }

    async fn replace_secret(&self, name: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update server_secret set value = $3 where name = $1 and value = $2"
        )
        .bind(name)
        .bind(old)
        .bind(new)
        .execute(p)
        .await?
        .rows_affected())
            == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefixes_are_literal_in_like_patterns_and_distinct() {
        // The risk reads match `FORM_KEY_PREFIX` with `like '<prefix>%'`: a `%`, `_` or `\`
        // in a prefix would widen the match.
        let prefixes = [
            ACCOUNT_KEY_PREFIX,
            NAME_KEY_PREFIX,
            FORM_KEY_PREFIX,
            DEVICE_SOURCE_PREFIX,
            NET_SOURCE_PREFIX,
        ];
        for p in prefixes {
            assert!(!p.contains(['%', '_', '\\']), "{p}");
            assert!(p.ends_with(':'), "{p}");
        }
        let accounts = [ACCOUNT_KEY_PREFIX, NAME_KEY_PREFIX, FORM_KEY_PREFIX];
        for (i, a) in accounts.iter().enumerate() {
            for b in accounts.iter().skip(i + 1) {
                assert!(!a.starts_with(b) && !b.starts_with(a), "{a} {b}");
            }
        }
        assert!(!ALL_SOURCES.starts_with(DEVICE_SOURCE_PREFIX));
        assert!(!ALL_SOURCES.starts_with(NET_SOURCE_PREFIX));
    }
}
