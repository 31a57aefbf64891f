//! Registered OAuth clients: the record, the `ClientStore` trait and its SQL, one text for both
//! engines.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// An OAuth client as stored. List fields are JSON arrays of strings.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientRecord {
    /// The client_id.
    pub id: String,
    /// SHA-256 (hex) of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs (JSON array).
    pub redirect_uris: String,
    /// Registered post-logout redirect URIs (JSON array).
    pub post_logout_redirect_uris: String,
    /// Allowed scopes (JSON array).
    pub scopes: String,
    /// Allowed grant types (JSON array).
    pub grants: String,
    /// Public (no secret, PKCE required).
    pub is_public: bool,
    /// Skips the consent page.
    pub is_first_party: bool,
    /// A confidential client registered with `--no-pkce` (PKCE may be left out).
    pub pkce_optional: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// The application's name, shown on the sign-in and consent pages.
    pub name: Option<String>,
    /// The address of its logo.
    pub logo_uri: Option<String>,
}

/// OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Inserts a client; `Conflict` if the id is taken.
    async fn insert(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Finds by client_id.
    async fn find_by_id(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;
}

#[async_trait]
impl ClientStore for Backend {
    async fn insert(&self, c: &ClientRecord) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| {
            sqlx::query(
                "insert into client (id, secret_hash, redirect_uris, post_logout_redirect_uris, \
                 scopes, grants, is_public, is_first_party, created_at, pkce_optional, name, \
                 logo_uri) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&c.id)
            .bind(&c.secret_hash)
            .bind(&c.redirect_uris)
            .bind(&c.post_logout_redirect_uris)
            .bind(&c.scopes)
            .bind(&c.grants)
            .bind(c.is_public)
            .bind(c.is_first_party)
            .bind(c.created_at)
            .bind(c.pkce_optional)
            .bind(&c.name)
            .bind(&c.logo_uri)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select id, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, \
             grants, is_public, is_first_party, pkce_optional, created_at, name, logo_uri \
             from client where id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }
}
