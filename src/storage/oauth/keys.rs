//! Signing keys: the record, the `KeyStore` trait and its SQL, one text for both engines. A
//! rotation inserts the new keys and retires the active ones in one transaction.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// A signing key as stored; the private key is sealed (see `domain::seal`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// JWS algorithm (`RS256`, `ES256`, `EdDSA`).
    pub alg: String,
    /// PKCS#8 DER sealed with the master key (`domain::seal`; clear in databases from before
    /// sealing until the next start reseals it).
    pub private_key: String,
    /// The public JWK (JSON).
    pub public_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// After this (unix seconds) the key is no longer published; `None` while active.
    pub retire_after: Option<i64>,
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key not yet past `retire_after` at `now`, newest first.
    async fn list_published(&self, now: i64) -> Result<Vec<KeyRecord>, StoreError>;
    /// Inserts `new` keys and, in the same transaction, marks every active key to retire at
    /// `retire_after`.
    async fn rotate(&self, new: &[KeyRecord], retire_after: i64) -> Result<(), StoreError>;
    /// Every key's id and stored private key, retired ones included (for resealing).
    async fn list_private(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Replaces a key's stored private key with `new` if it is still `old`; whether it was.
    async fn replace_private(&self, kid: &str, old: &str, new: &str) -> Result<bool, StoreError>;
}

#[async_trait]
impl KeyStore for Backend {
    async fn list_published(&self, now: i64) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select kid, alg, private_key, public_jwk, created_at, retire_after \
             from signing_key where retire_after is null or retire_after > $1 \
             order by created_at desc, kid",
        )
        .bind(now)
        .fetch_all(p)
        .await?))
    }

    async fn rotate(&self, new: &[KeyRecord], retire_after: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            sqlx::query("update signing_key set retire_after = $1 where retire_after is null")
                .bind(retire_after)
                .execute(&mut *tx)
                .await?;
            for k in new {
                sqlx::query(
                    "insert into signing_key \
                     (kid, alg, private_key, public_jwk, created_at, retire_after) \
                     values ($1, $2, $3, $4, $5, null)",
                )
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(&k.private_key)
                .bind(&k.public_jwk)
                .bind(k.created_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn list_private(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select kid, private_key from signing_key order by created_at, kid"
        )
        .fetch_all(p)
        .await?))
    }

    async fn replace_private(&self, kid: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update signing_key set private_key = $3 where kid = $1 and private_key = $2"
        )
        .bind(kid)
        .bind(old)
        .bind(new)
        .execute(p)
        .await?
        .rows_affected())
            == 1)
    }
}
