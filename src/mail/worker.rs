//! The delivery worker: claims due mails (a lease, so instances sharing a database never send
//! one twice at once), sends them, and on failure retries with exponential backoff (30 s
//! doubling, at most an hour) for as long as it takes. Nothing is lost across outages or
//! restarts: a mail leaves the queue only once the transport accepted it. The polling loop itself
//! is one of the jobs in `app::jobs`.

use crate::domain::clock::Clock;
use crate::mail::{Mailer, OutgoingMail};
use crate::storage::mail::MailStore;

/// Seconds a claimed mail stays invisible to other workers.
const LEASE: i64 = 120;

/// The delay before attempt `attempts + 1`.
pub fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    (30 * 2_i64.pow(exp)).min(3600)
}

/// Delivers what is due now; returns how many were sent.
pub async fn deliver_due(store: &dyn MailStore, mailer: &dyn Mailer, clock: &dyn Clock) -> usize {
    let now = clock.now().unix_timestamp();
    let due = match store.claim_due(now, LEASE, 20).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "mail queue unavailable");
            return 0;
        }
    };
    let mut sent = 0;
    for m in due {
        let mail = OutgoingMail {
            message_id: m.message_id.clone(),
            to: m.recipient.clone(),
            subject: m.subject.clone(),
            text: m.text_body.clone(),
            html: m.html_body.clone(),
        };
        let result = match mailer.send(&mail).await {
            Ok(()) => {
                sent += 1;
                metrics::counter!("authd_mail_sent_total", "kind" => m.kind.clone()).increment(1);
                store.mark_sent(&m.id, clock.now().unix_timestamp()).await
            }
            Err(e) => {
                tracing::warn!(kind = %m.kind, attempts = m.attempts + 1, error = %e, "mail delivery failed; will retry");
                metrics::counter!("authd_mail_failed_total").increment(1);
                let next = clock.now().unix_timestamp() + backoff(m.attempts);
                store.mark_failed(&m.id, next, &e.to_string()).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "mail queue update failed");
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), 30);
        assert_eq!(backoff(1), 60);
        assert_eq!(backoff(3), 240);
        assert_eq!(backoff(20), 3600);
    }
}
