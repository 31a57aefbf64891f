//! Accounts: the record, the `AccountStore` trait and its SQL, one text for both engines.
//! A changed password or an "end every session" moves the account's session epoch on. The
//! operator's reads and acts (the listing with each account's status, disable, enable, delete)
//! sit in `accounts/operator.rs`.

use async_trait::async_trait;

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// The operator's listing, disable, enable and delete.
mod operator;

pub use operator::{AccountQuery, ListedAccount, Removed};

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    /// UUID.
    pub id: String,
    /// Normalised email, unique.
    pub email: String,
    /// PHC argon2id hash.
    pub password_hash: String,
    /// Admin flag.
    pub is_admin: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Sessions signed in under an older epoch are dead (moved on by a password change).
    #[sqlx(default)]
    pub session_epoch: i64,
    /// When the address was verified (unix seconds); `None`: not verified.
    #[sqlx(default)]
    pub email_verified_at: Option<i64>,
    /// The owner asks for their second factor at every sign-in.
    #[sqlx(default)]
    pub require_mfa: bool,
    /// The owner's name (OIDC `name`), set on `/account`.
    #[sqlx(default)]
    pub name: Option<String>,
    /// When the owner last changed their profile (OIDC `updated_at`); `None`: never.
    #[sqlx(default)]
    pub profile_updated_at: Option<i64>,
    /// When an operator disabled the account (unix seconds); `None`: enabled.
    #[sqlx(default)]
    pub disabled_at: Option<i64>,
}

/// Accounts.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts a new account; `Conflict` if the email is taken.
    async fn insert(&self, account: &AccountRecord) -> Result<(), StoreError>;
    /// Finds by normalised email.
    async fn find_by_email(&self, email: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// Finds by id.
    async fn find_by_id(&self, id: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// Replaces the password hash `old` by `new`, the same password hashed at another cost
    /// (nothing else changes: sessions stay); `false` if the stored hash is no longer `old` (the
    /// password changed meanwhile) or there is no such account.
    async fn replace_password_hash(
        &self,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
    /// Sets a new password hash and moves the session epoch on (ending every session); the
    /// account's unused password-reset links are spent in the same transaction.
    async fn update_password(
        &self,
        id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Moves the session epoch on without changing the password (ends every session); the
    /// account's unused password-reset links are spent in the same transaction (a link seen by
    /// whoever the sessions were ended against must not outlive them).
    async fn end_sessions(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// The account's session epoch (sessions from an older epoch are dead) and when it was
    /// disabled, if it was.
    async fn session_standing(&self, id: &str) -> Result<Option<(i64, Option<i64>)>, StoreError>;
    /// Marks the address verified at `now` (unless it already is); `true` if it was not yet.
    async fn mark_email_verified(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Sets the owner's "second factor at every sign-in" setting.
    async fn set_require_mfa(&self, id: &str, on: bool, now: i64) -> Result<(), StoreError>;
    /// Sets (or clears) the owner's name and stamps the profile's change time.
    async fn set_name(&self, id: &str, name: Option<&str>, now: i64) -> Result<(), StoreError>;
    /// The accounts `q` selects, by email, each with its account-wide lock (`now` decides
    /// which locks still hold when `q.locked` asks for locked ones only).
    async fn list(&self, q: &AccountQuery, now: i64) -> Result<Vec<ListedAccount>, StoreError>;
    /// Disables the account, in one transaction with `event(grants revoked)`: sets
    /// `disabled_at`, moves the session epoch on, revokes every grant and deletes the pending
    /// reset links. `None` if there is no such enabled account (nothing written).
    async fn disable(
        &self,
        id: &str,
        now: i64,
        event: &(dyn Fn(u64) -> AuthEvent + Send + Sync),
    ) -> Result<Option<u64>, StoreError>;
    /// Enables a disabled account, in one transaction with `event`; `false` if there is no
    /// such disabled account (nothing written).
    async fn enable(&self, id: &str, now: i64, event: &AuthEvent) -> Result<bool, StoreError>;
    /// Deletes the account and everything stored under its id (see `Removed`), in one
    /// transaction with `event(what was removed)`; events keep their history. `None` if there
    /// is no such account.
    async fn delete(
        &self,
        id: &str,
        event: &(dyn Fn(Removed) -> AuthEvent + Send + Sync),
    ) -> Result<Option<Removed>, StoreError>;
}

/// The columns of `AccountRecord`, in order (the sign-in lookup in `protection.rs` names the
/// same ones).
/// Spends an account's unused password-reset links (`$1` the account, `$2` now).
const SPEND_RESETS: &str = "update password_reset set used_at = $2, sealed_token = null \
    where user_id = $1 and used_at is null";

pub(crate) const ACCOUNT_COLUMNS: &str = "id, email, password_hash, is_admin, created_at, \
    updated_at, session_epoch, email_verified_at, require_mfa, name, profile_updated_at, disabled_at";

const INSERT_ACCOUNT: &str = "insert into account \
    (id, email, password_hash, is_admin, created_at, updated_at, email_verified_at) \
    values ($1, $2, $3, $4, $5, $6, $7)";

impl Backend {
    /// Moves `id`'s session epoch on (ending every session), with a new password hash when
    /// given, and spends the account's unused reset links, in one transaction.
    async fn move_epoch(
        &self,
        id: &str,
        password_hash: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "update account set password_hash = coalesce($2, password_hash), \
                 updated_at = $3, session_epoch = session_epoch + 1 where id = $1",
            )
            .bind(id)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(SPEND_RESETS)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait]
impl AccountStore for Backend {
    async fn insert(&self, a: &AccountRecord) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(INSERT_ACCOUNT)
                .bind(&a.id)
                .bind(&a.email)
                .bind(&a.password_hash)
                .bind(a.is_admin)
                .bind(a.created_at)
                .bind(a.updated_at)
                .bind(a.email_verified_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<AccountRecord>, StoreError> {
        let sql = format!("select {ACCOUNT_COLUMNS} from account where email = $1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(p)
            .await?))
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let sql = format!("select {ACCOUNT_COLUMNS} from account where id = $1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?))
    }

    async fn replace_password_hash(
        &self,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update account set password_hash = $3 where id = $1 and password_hash = $2",
        )
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(p)
        .await?
        .rows_affected())
            == 1)
    }

    async fn update_password(
        &self,
        id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.move_epoch(id, Some(password_hash), now).await
    }

    async fn end_sessions(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.move_epoch(id, None, now).await
    }

    async fn session_standing(&self, id: &str) -> Result<Option<(i64, Option<i64>)>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select session_epoch, disabled_at from account where id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }

    async fn mark_email_verified(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = on_pool!(self.writer(), |p| sqlx::query(
            "update account set email_verified_at = $2, updated_at = $2 \
             where id = $1 and email_verified_at is null"
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(done > 0)
    }

    async fn set_require_mfa(&self, id: &str, on: bool, now: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("update account set require_mfa = $2, updated_at = $3 where id = $1")
                .bind(id)
                .bind(on)
                .bind(now)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn set_name(&self, id: &str, name: Option<&str>, now: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update account set name = $2, profile_updated_at = $3, updated_at = $3 \
                 where id = $1",
            )
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn list(&self, q: &AccountQuery, now: i64) -> Result<Vec<ListedAccount>, StoreError> {
        operator::list(self, q, now).await
    }

    async fn disable(
        &self,
        id: &str,
        now: i64,
        event: &(dyn Fn(u64) -> AuthEvent + Send + Sync),
    ) -> Result<Option<u64>, StoreError> {
        operator::disable(self, id, now, event).await
    }

    async fn enable(&self, id: &str, now: i64, event: &AuthEvent) -> Result<bool, StoreError> {
        operator::enable(self, id, now, event).await
    }

    async fn delete(
        &self,
        id: &str,
        event: &(dyn Fn(Removed) -> AuthEvent + Send + Sync),
    ) -> Result<Option<Removed>, StoreError> {
        operator::delete(self, id, event).await
    }
}
