//! Mail: rendering (askama, text + HTML, through `render::Branding`: the product name and the
//! template overrides), the durable queue (`mail_queue`), the delivery worker
//! with retries and backoff, and the two transports: SMTP through lettre, or `.eml` files in
//! `AUTHD_MAIL_DIR`.

use async_trait::async_trait;

/// The second factors' and verification mails.
mod factor_messages;
/// `.eml` files in a directory.
pub mod file;
/// Rendering notices into subject, text and HTML.
pub mod messages;
/// The `Outbox` implementation: render, limit, queue.
pub mod outbox;
/// Sample mails of every kind, kept in docs/screens/mail (a test).
#[cfg(test)]
mod samples;
/// SMTP through lettre.
pub mod smtp;
/// The delivery worker.
pub mod worker;

/// Every mail template with its variables (the override catalogue; docs/branding.md).
pub fn templates() -> Vec<crate::render::Entry> {
    [messages::TEMPLATES, factor_messages::TEMPLATES].concat()
}

/// A rendered mail, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Stable `Message-ID` (with angle brackets).
    pub message_id: String,
    /// Recipient address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// A delivery failure (transient or not: the worker retries with backoff either way).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message could not be built (bad address).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// A mail transport.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers one mail.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}

/// Builds the lettre message both transports use: multipart/alternative, stable Message-ID.
pub fn build_message(
    from: &lettre::message::Mailbox,
    mail: &OutgoingMail,
) -> Result<lettre::Message, MailError> {
    let to: lettre::message::Mailbox = mail
        .to
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Invalid(e.to_string()))?;
    lettre::Message::builder()
        .message_id(Some(mail.message_id.clone()))
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .multipart(lettre::message::MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError::Invalid(e.to_string()))
}
