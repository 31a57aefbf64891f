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
        /// Whether the account has signed in from that network before: such requests have a
        /// budget of their own, which requests from anywhere else cannot spend.
        familiar: bool,
    },
    /// A sign-in from a browser this account had not used before.
    NewDevice {
        /// When, in the reader's words (`when_for_people`).
        when: String,
        /// From which address.
        ip: String,
        /// About where (`approximate_place`: the GeoIP country when configured).
        place: String,
        /// With which browser, summarised ("Firefox on Linux"; never the raw User-Agent).
        device: String,
        /// The application the sign-in was for (its registered name), if any.
        app: Option<String>,
        /// Signs out every session and leads to a password reset.
        not_me_link: String,
    },
    /// Sign-ins from unknown places were locked after many failures.
    Lockout {
        /// Lifts the lock.
        unlock_link: String,
        /// Where to reset the password.
        reset_link: String,
        /// What happened.
        report: AttackReport,
    },
    /// Attempts on the account were blocked (a source was blocked after repeated failures).
    Attack {
        /// What happened.
        report: AttackReport,
    },
    /// The password was changed; every session was signed out.
    PasswordChanged {
        /// Where to reset it if this was not the user.
        reset_link: String,
    },
    /// The owner reported a session or grant as not theirs ("this wasn't me"); it was ended.
    SessionReported {
        /// What was ended ("Firefox on Linux", "access for the app …").
        what: String,
        /// From about where ("the network 203.0.113.9 (FR)").
        place: String,
        /// When it signed in, for people.
        when: String,
        /// The account security page (to change the password).
        security_link: String,
        /// The forgot-password page.
        reset_link: String,
    },
    /// Confirms the address given at registration (single use, expiring).
    VerifyEmail {
        /// The full link.
        link: String,
    },
    /// The one-time code of a sign-in's step-up.
    EmailCode {
        /// The code (only ever in this mail, sealed in the queue).
        code: String,
        /// How long it is valid.
        minutes: i64,
        /// The network the sign-in came from (`/24` or `/48`), for the mail budget.
        requested_from: String,
        /// Whether the account has signed in from that network before: such step-ups have a
        /// budget of their own that sign-ins from elsewhere cannot spend (`mail/outbox.rs`).
        familiar: bool,
        /// The ladder's source key of the browser when it carried the account's device cookie
        /// (at the account's epoch): each such browser has a budget of its own, which only a
        /// holder of that cookie can spend, wherever it signs in from.
        device: Option<String>,
    },
    /// A sign-in method (a passkey, the authenticator app, …) was added to the account.
    SignInMethodAdded {
        /// Which, as the owner reads it ("passkey “Laptop”", "an authenticator app").
        method: String,
        /// When (`human_time`).
        when: String,
    },
    /// A sign-in method was removed from the account.
    SignInMethodRemoved {
        /// Which, as the owner reads it.
        method: String,
        /// When (`human_time`).
        when: String,
    },
}

/// The kinds a mail worker gives up once they outlived their use (`Notice::kind`'s words).
pub mod kinds {
    /// `Notice::PasswordReset`.
    pub const PASSWORD_RESET: &str = "password_reset";
    /// `Notice::VerifyEmail`.
    pub const VERIFY_EMAIL: &str = "verify_email";
    /// `Notice::EmailCode`.
    pub const EMAIL_CODE: &str = "email_code";
}

impl Notice {
    /// The kind, as stored with the queued mail.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } => kinds::PASSWORD_RESET,
            Self::PasswordChanged { .. } => "password_changed",
            Self::SessionReported { .. } => "session_reported",
            Self::Lockout { .. } => "lockout",
            Self::NewDevice { .. } => "new_device",
            Self::Attack { .. } => "attack",
            Self::VerifyEmail { .. } => kinds::VERIFY_EMAIL,
            Self::EmailCode { .. } => kinds::EMAIL_CODE,
            Self::SignInMethodAdded { .. } => "method_added",
            Self::SignInMethodRemoved { .. } => "method_removed",
        }
    }
}

/// What the owner is told about an attack on their account: how many attempts, from about
/// where, when, and — only if someone did sign in from a new browser lately — the "wasn't
/// you?" link. Never a password, never the attacker's User-Agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackReport {
    /// Failed attempts on the account in the protection window.
    pub count: i64,
    /// The window, in minutes.
    pub minutes: i64,
    /// The approximate place of the latest attempt (`approximate_place`).
    pub place: String,
    /// When (`human_time`).
    pub when: String,
    /// When someone signed in from a new browser lately (`human_time`), and the link that
    /// signs out everywhere.
    pub got_in: Option<(String, String)>,
}

/// A time as people read it: "Monday 30 November 2026, 10:42 UTC" (minutes, not nanoseconds).
pub fn human_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {} {} {}, {:02}:{:02} UTC",
        t.weekday(),
        t.day(),
        t.month(),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// A time in a mail, as people say it, with its zone: "today at 14:05 UTC", "yesterday at
/// 09:30 UTC", else "on 30 Nov 2026 at 14:05 UTC" (minutes, never seconds or nanoseconds).
/// `now` decides what "today" is (UTC: the reader's zone is not known).
pub fn when_for_people(t: time::OffsetDateTime, now: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let clock = format!("{:02}:{:02} UTC", t.hour(), t.minute());
    if t.date() == today {
        format!("today at {clock}")
    } else if today.previous_day() == Some(t.date()) {
        format!("yesterday at {clock}")
    } else {
        let month = t.month().to_string();
        let short: String = month.chars().take(3).collect();
        format!("on {} {short} {} at {clock}", t.day(), t.year())
    }
}

/// Where an attempt came from, approximately: the country GeoIP names (ISO code), else the
/// network (/24 or /48).
pub fn approximate_place(country: Option<&str>, prefix: &str) -> String {
    match country {
        Some(c) => format!("a network in {c} ({prefix})"),
        None => format!("the network {prefix}"),
    }
}

/// Durable delivery. `prepare` renders a notice and applies the per-recipient limits; the
/// caller stores the result together with the event that caused it, in one transaction
/// (`EventSink::record_with_mail`), so a mail exists exactly when its event does.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// The queued mail for `notice` to `to`, or `None` when a per-kind limit suppresses it.
    async fn prepare(&self, to: &str, notice: Notice) -> Result<Option<MailRecord>, Unexpected>;
    /// `prepare` for work after the answer, which can wait for the database: each limit's
    /// spend is tried again after a database error (`tasks::retried`), the spends that
    /// succeeded are not made again (a whole `prepare` tried again would spend them twice, and
    /// a one-an-hour notice would then be suppressed by its own first try).
    async fn prepare_after_answer(
        &self,
        to: &str,
        notice: Notice,
    ) -> Result<Option<MailRecord>, Unexpected>;
    /// Starts the step-up code's budgets for `to` again (every network's and device's): after
    /// the owner set a new password, whoever spent them with the old one cannot any more,
    /// and the owner must not wait out their hour for a code.
    async fn restart_code_budgets(&self, to: &str) -> Result<(), Unexpected>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_for_people_and_places_approximate() {
        let t = time::macros::datetime!(2026-11-30 10:42:13.123456789 UTC);
        assert_eq!(human_time(t), "Monday 30 November 2026, 10:42 UTC");
        let paris = time::macros::datetime!(2026-11-30 11:42:13 +1);
        assert_eq!(human_time(paris), "Monday 30 November 2026, 10:42 UTC");
        let now = time::macros::datetime!(2026-11-30 23:59:59 UTC);
        assert_eq!(when_for_people(t, now), "today at 10:42 UTC");
        assert_eq!(
            when_for_people(t, now + time::Duration::hours(1)),
            "yesterday at 10:42 UTC"
        );
        assert_eq!(
            when_for_people(t, now + time::Duration::days(3)),
            "on 30 Nov 2026 at 10:42 UTC"
        );
        assert_eq!(when_for_people(paris, now), "today at 10:42 UTC");
        assert_eq!(
            approximate_place(None, "203.0.113.0/24"),
            "the network 203.0.113.0/24"
        );
        assert_eq!(
            approximate_place(Some("DE"), "203.0.113.0/24"),
            "a network in DE (203.0.113.0/24)"
        );
    }
}
