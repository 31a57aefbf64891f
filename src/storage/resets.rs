//! Password-reset tokens, stored by SHA-256 only: the `ResetStore` trait and its SQL, one text
//! for both engines. A token is spent by a conditional `update`, so it works exactly once, and
//! spending one spends every other outstanding token of the account in the same transaction
//! (an older link must not reset the password again). A token also keeps its sealed raw form
//! (sealed by the domain, opaque here) so a repeated request can mail the still-valid link
//! again; spending clears every sealed form of the account.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, PoolRef, on_pool};

/// A token to store.
#[derive(Debug, Clone, Copy)]
pub struct NewReset<'a> {
    /// SHA-256 of the token.
    pub token_hash: &'a str,
    /// The token sealed by the caller.
    pub sealed_token: &'a str,
    /// The account.
    pub user_id: &'a str,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub now: i64,
}

/// Password-reset tokens (stored by SHA-256).
#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Stores a token (its hash, and its raw form sealed by the caller).
    async fn insert_reset(
        &self,
        token_hash: &str,
        sealed_token: &str,
        user_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Stores a token unless the account has an unused one valid at `live_after` (another
    /// request minted it first); whether it was stored.
    async fn insert_reset_unless_live(
        &self,
        new: NewReset<'_>,
        live_after: i64,
    ) -> Result<bool, StoreError>;
    /// Forgets a token that was never mailed.
    async fn delete_reset(&self, token_hash: &str) -> Result<(), StoreError>;
    /// The sealed form of the account's unused token that expires last, if it is still valid
    /// at `valid_until`.
    async fn live_reset(
        &self,
        user_id: &str,
        valid_until: i64,
    ) -> Result<Option<String>, StoreError>;
    /// Spends a token atomically, and with it every other unused token of the same account;
    /// the user id if it was unused and unexpired.
    async fn consume_reset(&self, token_hash: &str, now: i64)
    -> Result<Option<String>, StoreError>;
    /// Whether a token is currently usable (for showing the form).
    async fn is_reset_usable(&self, token_hash: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self.reset_owner(token_hash, now).await?.is_some())
    }
    /// The account a usable (unspent, unexpired) link is for, if it is one.
    async fn reset_owner(&self, token_hash: &str, now: i64) -> Result<Option<String>, StoreError>;
}

/// A new link for the account unless it has a live one (expiring after `$6`).
const INSERT_UNLESS_LIVE: &str = "insert into password_reset \
     (token_hash, user_id, expires_at, used_at, created_at, sealed_token) \
     select $1, $2, $3, null, $4, $5 where not exists (select 1 from password_reset \
     where user_id = $2 and used_at is null and expires_at > $6 and sealed_token is not null)";

#[async_trait]
impl ResetStore for Backend {
    async fn insert_reset(
        &self,
        token_hash: &str,
        sealed_token: &str,
        user_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into password_reset \
                 (token_hash, user_id, expires_at, used_at, created_at, sealed_token) \
                 values ($1, $2, $3, null, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .bind(now)
            .bind(sealed_token)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn insert_reset_unless_live(
        &self,
        n: NewReset<'_>,
        live_after: i64,
    ) -> Result<bool, StoreError> {
        // One query for either engine (a macro: the query's type names its database).
        macro_rules! insert {
            () => {
                sqlx::query(INSERT_UNLESS_LIVE)
                    .bind(n.token_hash)
                    .bind(n.user_id)
                    .bind(n.expires_at)
                    .bind(n.now)
                    .bind(n.sealed_token)
                    .bind(live_after)
            };
        }
        let inserted = match self.writer() {
            // SQLite runs one writer at a time: the check and the insert are one statement.
            PoolRef::Sqlite(p) => insert!().execute(p).await?.rows_affected(),
            // PostgreSQL (read committed) would let two concurrent requests (two instances, or
            // two background mail tasks) both see no live link and mint two: the account's
            // advisory lock, held to the commit, makes the check and the insert one step.
            PoolRef::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 7317002))")
                    .bind(n.user_id)
                    .execute(&mut *tx)
                    .await?;
                let rows = insert!().execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                rows
            }
        };
        Ok(inserted == 1)
    }

    async fn delete_reset(&self, token_hash: &str) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("delete from password_reset where token_hash = $1")
                .bind(token_hash)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn live_reset(
        &self,
        user_id: &str,
        valid_until: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select sealed_token from password_reset \
             where user_id = $1 and used_at is null and expires_at > $2 \
             and sealed_token is not null order by expires_at desc limit 1",
        )
        .bind(user_id)
        .bind(valid_until)
        .fetch_optional(p)
        .await?))
    }

    async fn consume_reset(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            let won = sqlx::query(
                "update password_reset set used_at = $2, sealed_token = null \
                 where token_hash = $1 and used_at is null and expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let user: Option<String> = if won {
                let user: Option<String> =
                    sqlx::query_scalar("select user_id from password_reset where token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(user) = &user {
                    sqlx::query(
                        "update password_reset set used_at = $2, sealed_token = null \
                         where user_id = $1 and used_at is null",
                    )
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                user
            } else {
                None
            };
            tx.commit().await?;
            user
        }))
    }

    async fn reset_owner(&self, token_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select user_id from password_reset \
             where token_hash = $1 and used_at is null and expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await?))
    }
}
