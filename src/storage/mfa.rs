//! Second factors at rest: an account's authenticator app (`mfa_totp`: the secret sealed by
//! the domain, unconfirmed until the first code, the last accepted time step so a code works
//! once) and its recovery codes (`mfa_recovery_code`: SHA-256 digests, each usable once). Each
//! "use" is one conditional update, so of concurrent uses exactly one wins. One text for both
//! engines.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, PoolRef, on_pool};

/// An account's authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TotpRecord {
    /// The secret, sealed (`domain/seal.rs`).
    pub secret_sealed: String,
    /// When the first code confirmed it (`None`: enrolment not finished).
    pub confirmed_at: Option<i64>,
    /// The last time step accepted.
    pub last_step: i64,
    /// Confirmed by a session whose sign-in had passed a second factor (migration 0042).
    pub proven: bool,
}

/// Second factors.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// Starts (or restarts) an enrolment: an unconfirmed secret, replacing any unconfirmed
    /// one; `false` (nothing changed) when a confirmed app exists.
    async fn start_totp(&self, user_id: &str, sealed: &str, now: i64) -> Result<bool, StoreError>;
    /// The account's app, if any.
    async fn totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError>;
    /// Confirms the pending app with its first code's `step`, by a session whose sign-in had
    /// passed a factor (`proven`) or not; `false` if there was none.
    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        now: i64,
        proven: bool,
    ) -> Result<bool, StoreError>;
    /// Accepts `step` for the confirmed app if it is later than the last accepted one.
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError>;
    /// Removes the app and the recovery codes; `true` if there was an app.
    async fn remove_totp(&self, user_id: &str) -> Result<bool, StoreError>;
    /// Replaces the recovery codes with `digests`.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: &[String],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Uses the recovery code `digest`; `true` if it was there and unused.
    async fn use_recovery_code(
        &self,
        user_id: &str,
        digest: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Unused recovery codes left.
    async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError>;
}

#[async_trait]
impl MfaStore for Backend {
    async fn start_totp(&self, user_id: &str, sealed: &str, now: i64) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            sqlx::query("delete from mfa_totp where user_id = $1 and confirmed_at is null")
                .bind(user_id)
                .execute(p)
                .await?;
            sqlx::query(
                "insert into mfa_totp (user_id, secret_sealed, confirmed_at, last_step, \
                 created_at) values ($1, $2, null, 0, $3) on conflict (user_id) do nothing",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
                == 1
        }))
    }

    async fn totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select secret_sealed, confirmed_at, last_step, proven from mfa_totp \
             where user_id = $1"
        )
        .bind(user_id)
        .fetch_optional(p)
        .await?))
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        now: i64,
        proven: bool,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update mfa_totp set confirmed_at = $3, last_step = $2, proven = $4 \
             where user_id = $1 and confirmed_at is null"
        )
        .bind(user_id)
        .bind(step)
        .bind(now)
        .bind(proven)
        .execute(p)
        .await?
        .rows_affected()
            == 1))
    }

    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update mfa_totp set last_step = $2 \
             where user_id = $1 and confirmed_at is not null and last_step < $2"
        )
        .bind(user_id)
        .bind(step)
        .execute(p)
        .await?
        .rows_affected()
            == 1))
    }

    async fn remove_totp(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            sqlx::query("delete from mfa_recovery_code where user_id = $1")
                .bind(user_id)
                .execute(p)
                .await?;
            sqlx::query("delete from mfa_totp where user_id = $1")
                .bind(user_id)
                .execute(p)
                .await?
                .rows_affected()
                > 0
        }))
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        // One transaction; on PostgreSQL under the account's advisory lock too: two
        // regenerations at once (read committed) each deleted the committed codes and kept
        // their own ten, twenty valid codes of which the owner saw ten.
        macro_rules! replace {
            ($tx:expr) => {{
                sqlx::query("delete from mfa_recovery_code where user_id = $1")
                    .bind(user_id)
                    .execute(&mut *$tx)
                    .await?;
                for d in digests {
                    sqlx::query(
                        "insert into mfa_recovery_code (user_id, digest, used_at, created_at) \
                         values ($1, $2, null, $3)",
                    )
                    .bind(user_id)
                    .bind(d)
                    .bind(now)
                    .execute(&mut *$tx)
                    .await?;
                }
            }};
        }
        match self.writer() {
            PoolRef::Sqlite(p) => {
                let mut tx = p.begin().await?;
                replace!(tx);
                tx.commit().await?;
            }
            PoolRef::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 7317003))")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                replace!(tx);
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        digest: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update mfa_recovery_code set used_at = $3 \
             where user_id = $1 and digest = $2 and used_at is null"
        )
        .bind(user_id)
        .bind(digest)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected()
            == 1))
    }

    async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select count(*) from mfa_recovery_code where user_id = $1 and used_at is null"
        )
        .bind(user_id)
        .fetch_one(p)
        .await?))
    }
}
