//! Storage for the risk engine: the one read a scored sign-in makes (the user's profile and the
//! velocity counters of its source, prefix and account, in one statement), profiles, versioned
//! models, admin labels and the events training reads.

use async_trait::async_trait;

use crate::storage::error::StoreError;

/// What a scored sign-in reads, in one round trip. Counts cover rows of the current window and
/// include the attempt being scored (it is counted before it is scored).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RiskHistory {
    /// The user's profile (JSON), if any.
    pub profile: Option<String>,
    /// Failures from the source, all accounts.
    pub source_failures: i64,
    /// Accounts with failures from the source.
    pub source_accounts: i64,
    /// Accounts with failures from the prefix.
    pub prefix_accounts: i64,
    /// Sources with failures on the account.
    pub account_sources: i64,
}

/// A stored model.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ModelRow {
    /// Version (1, 2, …).
    pub version: i64,
    /// The model (JSON).
    pub model: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Risk storage.
#[async_trait]
pub trait RiskStore: Send + Sync {
    /// The history a sign-in is scored against (see `RiskHistory`).
    async fn history(
        &self,
        user_id: Option<&str>,
        account_key: &str,
        source: &str,
        prefix: &str,
        window_cutoff: i64,
    ) -> Result<RiskHistory, StoreError>;
    /// Stores a user's profile.
    async fn save_profile(&self, user_id: &str, profile: &str, now: i64) -> Result<(), StoreError>;
    /// A user's profile.
    async fn profile(&self, user_id: &str) -> Result<Option<String>, StoreError>;
    /// Every profile (training counts the population from them).
    async fn all_profiles(&self) -> Result<Vec<String>, StoreError>;
    /// Stores a new model version (the next number) and returns it.
    async fn save_model(
        &self,
        model_for_version: &(dyn Fn(i64) -> String + Sync),
        now: i64,
    ) -> Result<i64, StoreError>;
    /// The newest model's version.
    async fn latest_version(&self) -> Result<Option<i64>, StoreError>;
    /// The newest model.
    async fn latest_model(&self) -> Result<Option<ModelRow>, StoreError>;
    /// Labels an event as an attack or legitimate (an admin's word; last one wins).
    async fn label(&self, event_id: &str, attack: bool, now: i64) -> Result<(), StoreError>;
    /// Every admin label.
    async fn labels(&self) -> Result<Vec<(String, bool)>, StoreError>;
    /// The events training reads (sign-in outcomes and "wasn't you?" reports) at or after
    /// `since`, oldest first, at most `limit`.
    async fn training_events(
        &self,
        since: time::OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<crate::events::AuthEvent>, StoreError>;
}
