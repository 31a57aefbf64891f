//! Registered OAuth clients: the record, the `ClientStore` trait and its SQL, one text for both
//! engines. Deleting or disabling a client ends everything issued to it in the same
//! transaction (enabling it again revives none of it).

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
    /// Its home page.
    #[sqlx(default)]
    pub client_uri: Option<String>,
    /// Its privacy policy.
    #[sqlx(default)]
    pub policy_uri: Option<String>,
    /// Its terms of service.
    #[sqlx(default)]
    pub tos_uri: Option<String>,
    /// When an operator disabled it (unix seconds); `None` while enabled.
    #[sqlx(default)]
    pub disabled_at: Option<i64>,
}

/// What disabling a client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDisabled {
    /// It was enabled until now.
    pub changed: bool,
    /// Grants revoked.
    pub grants_revoked: u64,
}

/// OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Inserts a client; `Conflict` if the id is taken.
    async fn insert(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Finds by client_id.
    async fn find_by_id(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, by id.
    async fn list(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Rewrites a client's settings (everything but its id, secret and creation time);
    /// `NotFound` if there is no such client.
    async fn update(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Replaces a confidential client's secret digest; `NotFound` if there is no such client.
    async fn set_secret_hash(&self, id: &str, secret_hash: &str) -> Result<(), StoreError>;
    /// Deletes a client and, in the same transaction, revokes its grants (so their refresh and
    /// access tokens), spends its unused codes, forgets the consents given to it and leaves a
    /// tombstone: a client inserted again under the id refuses every access token issued before
    /// the deletion (`tokens_revoked_at`). `Some(n)` with the grants revoked, `None` if there
    /// was no such client.
    async fn delete(&self, id: &str, now: i64) -> Result<Option<u64>, StoreError>;
    /// Disables a client and, in the same transaction, revokes its grants, spends its unused
    /// codes and refuses every access token it was issued until now (`tokens_revoked_at`);
    /// consents stay. `None` if there is no such client.
    async fn disable(&self, id: &str, now: i64) -> Result<Option<ClientDisabled>, StoreError>;
    /// Enables a disabled client (what disabling it revoked stays revoked). `Some(changed)`,
    /// `None` if there is no such client.
    async fn enable(&self, id: &str) -> Result<Option<bool>, StoreError>;
}

const COLUMNS: &str = "id, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, \
    grants, is_public, is_first_party, pkce_optional, created_at, name, logo_uri, client_uri, \
    policy_uri, tos_uri, disabled_at";

/// Revokes a client's live grants (`$1` the client, `$2` now).
const REVOKE_GRANTS: &str =
    "update token_family set revoked_at = $2 where client_id = $1 and revoked_at is null";
/// Spends a client's unused codes (`$1` the client, `$2` now).
const SPEND_CODES: &str =
    "update auth_code set used_at = $2 where client_id = $1 and used_at is null";

fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl ClientStore for Backend {
    async fn insert(&self, c: &ClientRecord) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into client (id, secret_hash, redirect_uris, post_logout_redirect_uris, \
                 scopes, grants, is_public, is_first_party, created_at, pkce_optional, name, \
                 logo_uri, client_uri, policy_uri, tos_uri, tokens_revoked_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 (select deleted_at from client_tombstone where id = $1))",
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
            .bind(&c.client_uri)
            .bind(&c.policy_uri)
            .bind(&c.tos_uri)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let sql = format!("select {COLUMNS} from client where id = $1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?))
    }

    async fn list(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = format!("select {COLUMNS} from client order by id");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await?))
    }

    async fn update(&self, c: &ClientRecord) -> Result<(), StoreError> {
        let rows = on_pool!(self.writer(), |p| {
            sqlx::query(
            "update client set redirect_uris = $2, post_logout_redirect_uris = $3, scopes = $4, \
             grants = $5, is_first_party = $6, pkce_optional = $7, name = $8, logo_uri = $9, \
             client_uri = $10, policy_uri = $11, tos_uri = $12 where id = $1",
        )
        .bind(&c.id)
        .bind(&c.redirect_uris)
        .bind(&c.post_logout_redirect_uris)
        .bind(&c.scopes)
        .bind(&c.grants)
        .bind(c.is_first_party)
        .bind(c.pkce_optional)
        .bind(&c.name)
        .bind(&c.logo_uri)
        .bind(&c.client_uri)
        .bind(&c.policy_uri)
        .bind(&c.tos_uri)
        .execute(p)
        .await?
        .rows_affected()
        });
        found(rows)
    }

    async fn set_secret_hash(&self, id: &str, secret_hash: &str) -> Result<(), StoreError> {
        let rows = on_pool!(self.writer(), |p| sqlx::query(
            "update client set secret_hash = $2 where id = $1 and secret_hash is not null",
        )
        .bind(id)
        .bind(secret_hash)
        .execute(p)
        .await?
        .rows_affected());
        found(rows)
    }

    async fn delete(&self, id: &str, now: i64) -> Result<Option<u64>, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            let gone = sqlx::query("delete from client where id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                None
            } else {
                // Codes first (`transactions::revoke_user` says why).
                sqlx::query(SPEND_CODES)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let grants = sqlx::query(REVOKE_GRANTS)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("delete from consent where client_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "insert into client_tombstone (id, deleted_at) values ($1, $2) \
                     on conflict (id) do update set deleted_at = excluded.deleted_at",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Some(grants)
            }
        }))
    }

    async fn disable(&self, id: &str, now: i64) -> Result<Option<ClientDisabled>, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            // Writes first (SQLite takes its write lock at once). Disabling again moves the
            // token cut-off on: harmless, nothing is issued to a disabled client.
            let changed = sqlx::query(
                "update client set disabled_at = $2, tokens_revoked_at = $2 \
                 where id = $1 and disabled_at is null",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let known = changed
                || sqlx::query("update client set tokens_revoked_at = $2 where id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
            let was_enabled = known.then_some(changed);
            match was_enabled {
                None => None,
                Some(changed) => {
                    sqlx::query(SPEND_CODES)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let grants_revoked = sqlx::query(REVOKE_GRANTS)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    Some(ClientDisabled {
                        changed,
                        grants_revoked,
                    })
                }
            }
        }))
    }

    async fn enable(&self, id: &str) -> Result<Option<bool>, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            let changed = sqlx::query(
                "update client set disabled_at = null where id = $1 and disabled_at is not null",
            )
            .bind(id)
            .execute(p)
            .await?
            .rows_affected();
            if changed == 1 {
                Some(true)
            } else {
                let known: Option<String> =
                    sqlx::query_scalar("select id from client where id = $1")
                        .bind(id)
                        .fetch_optional(p)
                        .await?;
                known.map(|_| false)
            }
        }))
    }
}
