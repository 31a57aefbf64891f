//! SMTP delivery through lettre. `AUTHD_SMTP_URL` follows lettre's URL form:
//! `smtp://host:port` (plain, for a local relay), `smtp://host:587?tls=required` (STARTTLS),
//! `smtps://user:pass@host` (implicit TLS).

use async_trait::async_trait;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::mail::{MailError, Mailer, OutgoingMail, build_message};

/// Delivers through an SMTP server.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpMailer")
    }
}

impl SmtpMailer {
    /// Parses the URL (credentials stay inside lettre; they are never logged).
    pub fn new(url: &str, from: lettre::message::Mailbox) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Invalid(e.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Transport(e.to_string()))
    }
}
