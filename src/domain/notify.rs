//! What the domain asks to be told to a user by mail. The mail module renders and queues it
//! durably; the domain never sees templates or SMTP.

use async_trait::async_trait;

use crate::domain::error::Unexpected;
use crate::storage::mail::MailRecord;

/// A message to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A password-reset link (valid 30 minutes, single use).
    PasswordReset {
        /// The full link.
        link: String,
        /// The network that asked for it (IPv4 address, IPv6 /64): each network has its own
        /// share of the recipient's reset-mail budget, so one network asking over and over
        /// cannot use up the owner's.
        requested_from: String,
    },
    /// A sign-in from a browser this account had not used before.
    NewDevice {
        /// When (UTC, RFC 3339).
        when: String,
        /// From which address.
        ip: String,
        /// With which browser, summarised ("Firefox on Linux"; never the raw User-Agent).
        device: String,
        /// Signs out every session and leads to a password reset.
        not_me_link: String,
    },
    /// Sign-ins from unknown places were locked after many failures.
    Lockout {
        /// Lifts the lock.
        unlock_link: String,
        /// Where to reset the password.
        reset_link: String,
    },
    /// The password was changed; every session was signed out.
    PasswordChanged {
        /// Where to reset it if this was not the user.
        reset_link: String,
    },
}

impl Notice {
    /// The kind, as stored with the queued mail.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } => "password_reset",
            Self::PasswordChanged { .. } => "password_changed",
            Self::Lockout { .. } => "lockout",
            Self::NewDevice { .. } => "new_device",
        }
    }
}

/// Durable delivery. `prepare` renders a notice and applies the per-recipient limits; the
/// caller stores the result together with the event that caused it, in one transaction
/// (`EventSink::record_with_mail`), so a mail exists exactly when its event does.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// The queued mail for `notice` to `to`, or `None` when a per-kind limit suppresses it.
    async fn prepare(&self, to: &str, notice: Notice) -> Result<Option<MailRecord>, Unexpected>;
}
