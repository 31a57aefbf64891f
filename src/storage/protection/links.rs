//! Spent mailed links (unlock, "wasn't you?"): the links themselves are stateless and signed
//! (`domain/signin/links.rs`); this table makes each one single use. A link is recorded by its
//! SHA-256 with one `insert … on conflict do nothing`, so exactly one of any number of
//! concurrent uses (on any instance) wins. One text for both engines.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// Spent links.
#[async_trait]
pub trait SpentLinkStore: Send + Sync {
    /// Records the link `digest` as spent; `true` if this call spent it (it was not spent
    /// before). Rows of links expired before `now` are forgotten on the way.
    async fn spend_link(
        &self,
        digest: &str,
        purpose: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Whether the link `digest` was spent.
    async fn is_link_spent(&self, digest: &str) -> Result<bool, StoreError>;
}

#[async_trait]
impl SpentLinkStore for Backend {
    async fn spend_link(
        &self,
        digest: &str,
        purpose: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            // An expired link is refused by its signature anyway: its row is no longer needed.
            sqlx::query("delete from spent_link where expires_at < $1")
                .bind(now)
                .execute(p)
                .await?;
            sqlx::query(
                "insert into spent_link (digest, purpose, expires_at, created_at) \
                 values ($1, $2, $3, $4) on conflict (digest) do nothing",
            )
            .bind(digest)
            .bind(purpose)
            .bind(expires_at)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
                == 1
        }))
    }

    async fn is_link_spent(&self, digest: &str) -> Result<bool, StoreError> {
        let row: Option<String> = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select digest from spent_link where digest = $1"
        )
        .bind(digest)
        .fetch_optional(p)
        .await?);
        Ok(row.is_some())
    }
}
