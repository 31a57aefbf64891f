//! Storage records and traits for the durable mail queue and password-reset tokens.

use async_trait::async_trait;

use crate::storage::error::StoreError;

/// A queued mail, rendered at enqueue time (a restart never depends on templates or state).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MailRecord {
    /// Row id.
    pub id: String,
    /// Stable `Message-ID`: a retry after a crash is recognisable as the same message.
    pub message_id: String,
    /// What it is (`password_reset`, `password_changed`, ...), for per-kind alert limits.
    pub kind: String,
    /// The recipient address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text_body: String,
    /// HTML part.
    pub html_body: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Not before (unix seconds).
    pub next_attempt_at: i64,
    /// A worker holds it until then.
    pub locked_until: Option<i64>,
    /// When delivered.
    pub sent_at: Option<i64>,
    /// The last delivery error (no secrets: SMTP replies only).
    pub last_error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The mail queue.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Claims up to `limit` due mails for `lease` seconds; a claimed mail is invisible to
    /// other workers (on any instance) until delivered or the lease ends.
    async fn claim_due(
        &self,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<MailRecord>, StoreError>;
    /// Marks a mail delivered.
    async fn mark_sent(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Records a failed attempt and when to try again.
    async fn mark_failed(
        &self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Spends one mail of `kind` to `recipient` from the budget of the current window (which
    /// starts with its first mail and lasts `window_secs`) and returns how many the window has
    /// spent, this one included. One atomic upsert: concurrent callers serialise.
    async fn spend_budget(
        &self,
        recipient: &str,
        kind: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<i64, StoreError>;
}

/// Password-reset tokens (stored by SHA-256).
#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Stores a token.
    async fn insert_reset(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Spends a token atomically; the user id if it was unused and unexpired.
    async fn consume_reset(&self, token_hash: &str, now: i64)
    -> Result<Option<String>, StoreError>;
    /// Whether a token is currently usable (for showing the form).
    async fn is_reset_usable(&self, token_hash: &str, now: i64) -> Result<bool, StoreError>;
}
