//! The `Outbox`: renders a notice and applies the per-recipient limits (no mail bombing); the
//! caller writes the row to `mail_queue` with its event. Delivery is the worker's job. The
//! bodies (which may carry one-time links) are sealed before they reach the queue
//! (`domain::seal`, one place per body: `mail:<id>:text`, `mail:<id>:html`); the worker opens
//! them to send and blanks them once sent.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::domain::notify::{Notice, Outbox};
use crate::domain::seal::Sealer;
use crate::domain::tasks::retried;
use crate::mail::messages::render;
use crate::render::Branding;
use crate::storage::mail::{MailRecord, MailStore};

/// Queues mail durably.
#[derive(Clone)]
pub struct QueueOutbox {
    store: Arc<dyn MailStore>,
    clock: Arc<dyn Clock>,
    /// The domain part of generated Message-IDs.
    id_domain: String,
    sealer: Sealer,
    /// The product's name and the template overrides.
    brand: Arc<Branding>,
}

impl std::fmt::Debug for QueueOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueOutbox")
    }
}

/// Where a mail body is sealed: its associated data (`part` is `text` or `html`).
pub(crate) fn body_context(id: &str, part: &str) -> String {
    format!("mail:{id}:{part}")
}
/// Step-up codes mailed to one address per hour (docs/mfa.md).
pub const EMAIL_CODES_PER_HOUR: i64 = 5;

/// The budget the attack alert and the lockout notice share: one mail an hour about attacks.
const ATTACK: &str = "attack";

/// The budgets a notice spends, in order, each `(budget key, at most this many per recipient
/// per hour)`; the first one spent past its limit suppresses the mail (and the later ones are
/// not spent).
fn budgets(notice: &Notice) -> Vec<(String, i64)> {
    let kind = notice.kind().to_owned();
    match notice {
        // The forgot-password form must not become a way to flood someone's inbox, nor a way
        // to use up the owner's reset mails: networks the account has signed in from have
        // three an hour of their own, which no other network can spend; every other asking
        // network has its own three an hour, and all of them together ten.
        Notice::PasswordReset { familiar: true, .. } => vec![(format!("{kind} familiar"), 3)],
        Notice::PasswordReset { requested_from, .. } => {
            vec![(format!("{kind} from {requested_from}"), 3), (kind, 10)]
        }
        Notice::PasswordChanged { .. } => vec![(kind, 10)],
        // The owner asked for it, once per report; ten an hour bounds a scripted page.
        Notice::SessionReported { .. } => vec![(kind, 10)],
        // One lockout notice an hour is enough to tell the owner. It also spends the attack
        // alert's budget (blocks after a lock mail nothing more that hour), but is not held by
        // it: it carries the unlock link, which the attack alert does not.
        Notice::Lockout { .. } => vec![(kind, 1), (ATTACK.to_owned(), i64::MAX)],
        Notice::Attack { .. } => vec![(ATTACK.to_owned(), 1)],
        Notice::NewDevice { .. } => vec![(kind, 1)],
        // Anyone who knows the address can ask for a verification mail: a few an hour.
        Notice::VerifyEmail { .. } => vec![(kind, 5)],
        // A step-up code needs the password. Someone who has it must neither flood the owner's
        // inbox nor spend the owner's codes: sign-ins from networks the account has used have
        // their own budget, which sign-ins from anywhere else cannot touch; those share the
        // other, per network and in all.
        // The owner's own browser (its device cookie) keeps a budget of its own on any network:
        // someone with the password alone spends the others, never this one.
        Notice::EmailCode {
            device: Some(device),
            ..
        } => vec![(format!("{kind} {device}"), EMAIL_CODES_PER_HOUR)],
        Notice::EmailCode { familiar: true, .. } => {
            vec![(format!("{kind} familiar"), EMAIL_CODES_PER_HOUR)]
        }
        Notice::EmailCode { requested_from, .. } => vec![
            (
                format!("{kind} from {requested_from}"),
                EMAIL_CODES_PER_HOUR,
            ),
            (kind, 2 * EMAIL_CODES_PER_HOUR),
        ],
        // Each change is made by a signed-in, re-authenticated owner: a generous budget that
        // still bounds a scripted loop of adds and removes.
        Notice::SignInMethodAdded { .. } | Notice::SignInMethodRemoved { .. } => vec![(kind, 20)],
    }
}

impl QueueOutbox {
    /// An outbox over `store`; Message-IDs end in `@id_domain`; bodies sealed by `sealer`;
    /// rendered with `brand`.
    pub fn new(
        store: Arc<dyn MailStore>,
        clock: Arc<dyn Clock>,
        id_domain: String,
        sealer: Sealer,
        brand: Arc<Branding>,
    ) -> Self {
        Self {
            store,
            clock,
            id_domain,
            sealer,
            brand,
        }
    }

    /// `prepare`, each limit's spend tried again after a database error when `retry`.
    async fn prepare_with(
        &self,
        to: &str,
        notice: Notice,
        retry: bool,
    ) -> Result<Option<MailRecord>, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        // Spent atomically before rendering: concurrent requests cannot exceed the limit. A
        // mail whose transaction later fails still spent its slot (fewer mails, never more).
        for (budget, limit) in budgets(&notice) {
            let spend = || self.store.spend_budget(to, &budget, now, 3600);
            let spent = if retry {
                retried("mail budget", spend).await?
            } else {
                spend().await?
            };
            if spent > limit {
                return Ok(None);
            }
        }
        let rendered = render(&notice, &self.brand)
            .map_err(|e| Unexpected(anyhow::anyhow!("mail template: {e}")))?;
        let id = uuid::Uuid::new_v4();
        let record = MailRecord {
            id: id.to_string(),
            message_id: format!("<{}@{}>", id.simple(), self.id_domain),
            kind: notice.kind().to_owned(),
            recipient: to.to_owned(),
            subject: rendered.subject,
            text_body: self.sealer.seal(
                &body_context(&id.to_string(), "text"),
                rendered.text.as_bytes(),
            )?,
            html_body: self.sealer.seal(
                &body_context(&id.to_string(), "html"),
                rendered.html.as_bytes(),
            )?,
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

#[async_trait]
impl Outbox for QueueOutbox {
    async fn prepare(&self, to: &str, notice: Notice) -> Result<Option<MailRecord>, Unexpected> {
        self.prepare_with(to, notice, false).await
    }

    async fn prepare_after_answer(
        &self,
        to: &str,
        notice: Notice,
    ) -> Result<Option<MailRecord>, Unexpected> {
        self.prepare_with(to, notice, true).await
    }

    async fn restart_code_budgets(&self, to: &str) -> Result<(), Unexpected> {
        self.store
            .clear_budgets(to, crate::domain::notify::kinds::EMAIL_CODE)
            .await?;
        Ok(())
    }
}
