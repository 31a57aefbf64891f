//! The `Outbox`: renders a notice and applies the per-recipient limits (no mail bombing); the
//! caller writes the row to `mail_queue` with its event. Delivery is the worker's job.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::domain::notify::{Notice, Outbox};
use crate::mail::messages::render;
use crate::storage::mail::{MailRecord, MailStore};

/// Queues mail durably.
#[derive(Clone)]
pub struct QueueOutbox {
    store: Arc<dyn MailStore>,
    clock: Arc<dyn Clock>,
    /// The domain part of generated Message-IDs.
    id_domain: String,
}

impl std::fmt::Debug for QueueOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueOutbox")
    }
}

/// At most this many mails of a kind per recipient per hour.
fn hourly_limit(notice: &Notice) -> i64 {
    match notice {
        // The forgot-password form must not become a way to flood someone's inbox.
        Notice::PasswordReset { .. } => 3,
        Notice::PasswordChanged { .. } => 10,
        // One lockout notice an hour is enough to tell the owner.
        Notice::Lockout { .. } => 1,
        Notice::NewDevice { .. } => 1,
    }
}

impl QueueOutbox {
    /// An outbox over `store`; Message-IDs end in `@id_domain`.
    pub fn new(store: Arc<dyn MailStore>, clock: Arc<dyn Clock>, id_domain: String) -> Self {
        Self {
            store,
            clock,
            id_domain,
        }
    }
}

#[async_trait]
impl Outbox for QueueOutbox {
    async fn prepare(&self, to: &str, notice: Notice) -> Result<Option<MailRecord>, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        // Spent atomically before rendering: concurrent requests cannot exceed the limit. A
        // mail whose transaction later fails still spent its slot (fewer mails, never more).
        let spent = self
            .store
            .spend_budget(to, notice.kind(), now, 3600)
            .await?;
        if spent > hourly_limit(&notice) {
            return Ok(None);
        }
        let rendered =
            render(&notice).map_err(|e| Unexpected(anyhow::anyhow!("mail template: {e}")))?;
        let id = uuid::Uuid::new_v4();
        let record = MailRecord {
            id: id.to_string(),
            message_id: format!("<{}@{}>", id.simple(), self.id_domain),
            kind: notice.kind().to_owned(),
            recipient: to.to_owned(),
            subject: rendered.subject.to_owned(),
            text_body: rendered.text,
            html_body: rendered.html,
            attempts: 0,
            next_attempt_at: now,
            locked_until: None,
            sent_at: None,
            last_error: None,
            created_at: now,
        };
        Ok(Some(record))
    }
}
