//! Passkeys (WebAuthn credentials): the `PasskeyStore` trait and its SQL, one text for both
//! engines. Adding or removing one writes its event (and the owner's mail, if any) in the same
//! transaction, so the change exists exactly when its record does. The credential arrives
//! sealed (`domain/passkeys`); storage never reads it.

use async_trait::async_trait;
use sqlx::FromRow;

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::events::{INSERT_EVENT, bind_event, risk_json};
use crate::storage::mail::{INSERT_MAIL, MailRecord, bind_mail};
use crate::storage::{Backend, on_pool};

/// One stored passkey.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PasskeyRecord {
    /// Our id (uuid).
    pub id: String,
    /// The owner.
    pub account_id: String,
    /// The authenticator's credential id, base64url (unique across accounts).
    pub credential_id: String,
    /// The name the owner gave it.
    pub name: String,
    /// The credential (public key, sign count, backup flags) as sealed JSON.
    pub credential: String,
    /// When it was added (unix seconds).
    pub created_at: i64,
    /// When it last signed in or passed a step-up (unix seconds).
    pub last_used_at: Option<i64>,
    /// Added by a session whose sign-in had passed a second factor (migration 0042).
    pub proven: bool,
}

/// What a change records besides itself: its event, and the owner's mail if one is due.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The event (`mfa_enrolled`, `mfa_removed`).
    pub event: &'a AuthEvent,
    /// The mail to queue with it.
    pub mail: Option<&'a MailRecord>,
}

/// Passkeys by account.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Stores a new passkey with its event; `Conflict` if the credential is registered already.
    async fn insert_passkey(
        &self,
        passkey: &PasskeyRecord,
        recorded: Recorded<'_>,
    ) -> Result<(), StoreError>;
    /// The account's passkeys, oldest first.
    async fn list_passkeys(&self, account_id: &str) -> Result<Vec<PasskeyRecord>, StoreError>;
    /// The passkey with this credential id, whoever owns it.
    async fn find_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRecord>, StoreError>;
    /// After a use: the new sealed credential (sign count, backup state), the authenticator's
    /// `sign_count` and the time, only if the count moved past the stored one (or both are 0:
    /// a key that keeps no counter); `false` when it did not, and nothing was written.
    async fn update_passkey_use(
        &self,
        id: &str,
        credential: &str,
        sign_count: i64,
        used_at: i64,
    ) -> Result<bool, StoreError>;
    /// Removes every passkey of the account (an operator's factor reset, whose event and mail
    /// follow); how many there were.
    async fn delete_all_passkeys(&self, account_id: &str) -> Result<u64, StoreError>;
    /// Removes the account's passkey `id` with its event; `false` if there was none.
    async fn delete_passkey(
        &self,
        account_id: &str,
        id: &str,
        recorded: Recorded<'_>,
    ) -> Result<bool, StoreError>;
}

const COLUMNS: &str =
    "id, account_id, credential_id, name, credential, created_at, last_used_at, proven";

#[async_trait]
impl PasskeyStore for Backend {
    async fn insert_passkey(
        &self,
        k: &PasskeyRecord,
        recorded: Recorded<'_>,
    ) -> Result<(), StoreError> {
        let risk = risk_json(recorded.event)?;
        on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "insert into passkey (id, account_id, credential_id, name, credential, \
                 created_at, last_used_at, proven) values ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&k.id)
            .bind(&k.account_id)
            .bind(&k.credential_id)
            .bind(&k.name)
            .bind(&k.credential)
            .bind(k.created_at)
            .bind(k.last_used_at)
            .bind(k.proven)
            .execute(&mut *tx)
            .await?;
            bind_event(sqlx::query(INSERT_EVENT), recorded.event, risk.as_deref())
                .execute(&mut *tx)
                .await?;
            if let Some(m) = recorded.mail {
                bind_mail(sqlx::query(INSERT_MAIL), m)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn list_passkeys(&self, account_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
        let sql =
            format!("select {COLUMNS} from passkey where account_id = $1 order by created_at, id");
        Ok(on_pool!(self.pool(), |p| {
            sqlx::query_as::<_, PasskeyRecord>(&sql)
                .bind(account_id)
                .fetch_all(p)
                .await?
        }))
    }

    async fn find_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let sql = format!("select {COLUMNS} from passkey where credential_id = $1");
        Ok(on_pool!(self.pool(), |p| {
            sqlx::query_as::<_, PasskeyRecord>(&sql)
                .bind(credential_id)
                .fetch_optional(p)
                .await?
        }))
    }

    async fn update_passkey_use(
        &self,
        id: &str,
        credential: &str,
        sign_count: i64,
        used_at: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            sqlx::query(
                "update passkey set credential = $2, last_used_at = $3, sign_count = $4 \
                 where id = $1 and (sign_count < $4 or ($4 = 0 and sign_count = 0))",
            )
            .bind(id)
            .bind(credential)
            .bind(used_at)
            .bind(sign_count)
            .execute(p)
            .await?
            .rows_affected()
                == 1
        }))
    }

    async fn delete_all_passkeys(&self, account_id: &str) -> Result<u64, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            sqlx::query("delete from passkey where account_id = $1")
                .bind(account_id)
                .execute(p)
                .await?
                .rows_affected()
        }))
    }

    async fn delete_passkey(
        &self,
        account_id: &str,
        id: &str,
        recorded: Recorded<'_>,
    ) -> Result<bool, StoreError> {
        let risk = risk_json(recorded.event)?;
        Ok(on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            let gone = sqlx::query("delete from passkey where id = $1 and account_id = $2")
                .bind(id)
                .bind(account_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if gone {
                bind_event(sqlx::query(INSERT_EVENT), recorded.event, risk.as_deref())
                    .execute(&mut *tx)
                    .await?;
                if let Some(m) = recorded.mail {
                    bind_mail(sqlx::query(INSERT_MAIL), m)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            gone
        }))
    }
}
