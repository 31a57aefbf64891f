//! Storage: one small trait per aggregate, implemented once per database. This is the only
//! place that writes SQL. `connect(url)` picks the backend from the URL's scheme.

use std::sync::Arc;

use async_trait::async_trait;

use crate::events::{AuthEvent, EventFilter};
use crate::storage::error::StoreError;

/// The shared SQL for both backends.
mod common;
/// Storage errors.
pub mod error;
/// Mail queue and reset-token records and traits.
pub mod mail;
/// The mail and reset SQL for both backends.
mod mail_sql;
/// OAuth records and traits.
pub mod oauth;
/// The OAuth SQL for both backends.
mod oauth_sql;
/// PostgreSQL backend.
pub mod postgres;
/// Failure counters and server secrets.
pub mod protection;
/// The protection SQL for both backends.
mod protection_sql;
/// Risk engine storage: profiles, velocity reads, models, labels.
pub mod risk;
mod risk_sql;
/// The tower-sessions store over either backend.
pub mod sessions;
/// SQLite backend.
pub mod sqlite;

#[cfg(test)]
mod contract;

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
    /// Sets a new password hash and moves the session epoch on (ending every session).
    async fn update_password(
        &self,
        id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Moves the session epoch on without changing the password (ends every session).
    async fn end_sessions(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// The account's session epoch (sessions from an older epoch are dead).
    async fn session_epoch(&self, id: &str) -> Result<Option<i64>, StoreError>;
}

/// Auth events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends an event.
    async fn insert(&self, event: &AuthEvent) -> Result<(), StoreError>;
    /// Appends an event and queues the mail it caused, in one transaction.
    async fn insert_with_mail(
        &self,
        event: &AuthEvent,
        mail: &mail::MailRecord,
    ) -> Result<(), StoreError>;
    /// Lists events matching `filter`, newest first.
    async fn list(&self, filter: &EventFilter) -> Result<Vec<AuthEvent>, StoreError>;
}

/// Database liveness.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Whether a trivial query succeeds.
    async fn is_reachable(&self) -> bool;
}

/// Every store, over one database.
#[derive(Clone)]
pub struct Store {
    /// Accounts.
    pub accounts: Arc<dyn AccountStore>,
    /// Events.
    pub events: Arc<dyn EventStore>,
    /// Liveness.
    pub health: Arc<dyn HealthStore>,
    /// OAuth clients.
    pub clients: Arc<dyn oauth::ClientStore>,
    /// Signing keys.
    pub keys: Arc<dyn oauth::KeyStore>,
    /// Codes, refresh tokens, revocations, consents.
    pub grants: Arc<dyn oauth::GrantStore>,
    /// The mail queue.
    pub mail: Arc<dyn mail::MailStore>,
    /// Password-reset tokens.
    pub resets: Arc<dyn mail::ResetStore>,
    /// Failure counters and server secrets.
    pub failures: Arc<dyn protection::FailureStore>,
    /// Risk profiles, models and labels.
    pub risk: Arc<dyn risk::RiskStore>,
    /// The session store for tower-sessions.
    pub sessions: sessions::AnySessionStore,
}

/// Everything one backend struct implements.
pub(crate) trait Backend:
    AccountStore
    + EventStore
    + HealthStore
    + oauth::ClientStore
    + oauth::KeyStore
    + oauth::GrantStore
    + mail::MailStore
    + mail::ResetStore
    + protection::FailureStore
    + risk::RiskStore
{
}

impl<T> Backend for T where
    T: AccountStore
        + EventStore
        + HealthStore
        + oauth::ClientStore
        + oauth::KeyStore
        + oauth::GrantStore
        + mail::MailStore
        + mail::ResetStore
        + protection::FailureStore
        + risk::RiskStore
{
}

impl Store {
    pub(crate) fn from_backend<B: Backend + 'static>(
        backend: B,
        sessions: sessions::AnySessionStore,
    ) -> Self {
        let b = Arc::new(backend);
        Self {
            accounts: b.clone(),
            events: b.clone(),
            health: b.clone(),
            clients: b.clone(),
            keys: b.clone(),
            grants: b.clone(),
            mail: b.clone(),
            resets: b.clone(),
            failures: b.clone(),
            risk: b,
            sessions,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Connects to the database named by `url` (`sqlite://…` or `postgres://…`), runs the
/// migrations (ours and the session store's) and returns the stores.
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::connect(url, max_connections).await
    } else {
        sqlite::connect(url, max_connections).await
    }
}
