//! The delivery worker: claims due mails (a lease, so instances sharing a database never send
//! one twice at once), sends them, and on failure retries with exponential backoff (30 s
//! doubling, at most an hour) for as long as it takes. Nothing is lost across outages or
//! restarts: a mail leaves the queue only once the transport accepted it. Bodies are stored
//! sealed and opened only to send; once sent they are blanked, so no one-time link stays usable
//! in the queue (a body from before sealing is sent as it is). The polling loop itself
//! is one of the jobs in `app::jobs`; tests call `MailWorker::drain` instead of waiting for it.
//! A mail whose use has a lifetime (an e-mailed code, a reset or verification link) is given
//! up, not sent, once that lifetime has passed while it waited (an SMTP outage): a dead link
//! delivered hours later is only noise (`Lifetimes`).

use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::seal::{Legacy, SealError, Sealer};
use crate::mail::outbox::body_context;
use crate::mail::{Mailer, OutgoingMail};
use crate::storage::mail::{MailRecord, MailStore};

/// Seconds a claimed mail stays invisible to other workers.
const LEASE: i64 = 120;
/// Mails claimed per pass.
const BATCH: i64 = 20;

/// How long each kind of mail is of use after it was queued (seconds), by `Notice::kind`;
/// kinds not named here (alerts, notices) are delivered however late.
pub type Lifetimes = std::collections::HashMap<&'static str, i64>;

/// The delay before attempt `attempts + 1`.
pub fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    (30 * 2_i64.pow(exp)).min(3600)
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Pass {
    /// Mails claimed (due now).
    claimed: usize,
    /// Of which the transport accepted.
    sent: usize,
}

/// The mail as the transport takes it, its bodies opened.
fn opened(m: &MailRecord, sealer: &Sealer) -> Result<OutgoingMail, SealError> {
    let open = |part: &str, stored: &str| -> Result<String, SealError> {
        let plain = sealer
            .open(&body_context(&m.id, part), stored, Legacy::Text)?
            .plain;
        Ok(String::from_utf8_lossy(&plain).into_owned())
    };
    Ok(OutgoingMail {
        message_id: m.message_id.clone(),
        to: m.recipient.clone(),
        subject: m.subject.clone(),
        text: open("text", &m.text_body)?,
        html: open("html", &m.html_body)?,
    })
}

/// Claims a batch of what is due now and sends it; a failure is rescheduled with backoff.
async fn deliver_batch(w: &MailWorker) -> Pass {
    let (store, mailer, clock) = (w.store.as_ref(), w.mailer.as_ref(), w.clock.as_ref());
    let (sealer, lifetimes) = (&w.sealer, w.lifetimes.as_ref());
    let now = clock.now().unix_timestamp();
    let due = match store.claim_due(now, LEASE, BATCH).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "mail queue unavailable");
            return Pass::default();
        }
    };
    let mut pass = Pass {
        claimed: due.len(),
        sent: 0,
    };
    for m in due {
        // A batch of slow sends can outlast the lease: renewed right before each send, and a
        // mail another worker has claimed since is left to it (never sent twice at once).
        let held = m.locked_until.unwrap_or_default();
        let until = clock.now().unix_timestamp() + LEASE;
        match store.renew_lease(&m.id, held, until).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "mail queue unavailable");
                continue;
            }
        }
        let now = clock.now().unix_timestamp();
        if let Some(life) = lifetimes.get(m.kind.as_str())
            && now > m.created_at.saturating_add(*life)
        {
            tracing::warn!(kind = %m.kind, attempts = m.attempts, "mail outlived its use before it could be delivered; given up");
            if let Err(e) = store.abandon(&m.id, now, "expired before delivery").await {
                tracing::warn!(error = %e, "mail queue update failed");
            }
            continue;
        }
        let sent = match opened(&m, sealer) {
            Ok(mail) => mailer.send(&mail).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let result = match sent {
            // No metric counts mails: every mail goes to an account, so a counter of them
            // would move for a real address and stay still for an unknown one (a forgot
            // request, a challenged sign-in with the right password), undoing the identical
            // answers. Failures are logged; the queue table keeps attempts and errors.
            Ok(()) => {
                pass.sent += 1;
                store.mark_sent(&m.id, clock.now().unix_timestamp()).await
            }
            Err(e) => {
                tracing::warn!(kind = %m.kind, attempts = m.attempts + 1, error = %e, "mail delivery failed; will retry");
                let next = clock.now().unix_timestamp() + backoff(m.attempts);
                store.mark_failed(&m.id, next, &e).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "mail queue update failed");
        }
    }
    pass
}

/// This instance's delivery worker: the queue, the transport and the clock, with one pass at a
/// time (the polling loop and `drain` share a lock, so a drain waits for a pass in flight
/// instead of finding its mails leased and returning early). Cheap to clone.
#[derive(Clone)]
pub struct MailWorker {
    store: Arc<dyn MailStore>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
    lifetimes: Arc<Lifetimes>,
    pass: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for MailWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailWorker")
    }
}

impl MailWorker {
    /// A worker over `store`, sending through `mailer`, opening bodies with `sealer`.
    pub fn new(
        store: Arc<dyn MailStore>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        sealer: Sealer,
    ) -> Self {
        Self {
            store,
            mailer,
            clock,
            sealer,
            lifetimes: Arc::default(),
            pass: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The same worker, giving up the kinds of mail `lifetimes` names once they outlived
    /// their use.
    #[must_use]
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = Arc::new(lifetimes);
        self
    }

    /// One pass: delivers a batch of what is due now; returns how many were sent.
    pub async fn run_once(&self) -> usize {
        let _pass = self.pass.lock().await;
        deliver_batch(self).await.sent
    }

    /// Delivers everything due now, batch after batch, after any pass in flight here; returns
    /// how many were sent. A failed mail is rescheduled (not due now), so this ends. Mail
    /// leased by another instance is that instance's to send.
    pub async fn drain(&self) -> usize {
        let _pass = self.pass.lock().await;
        let mut sent = 0;
        loop {
            let pass = deliver_batch(self).await;
            sent += pass.sent;
            if pass.claimed == 0 {
                return sent;
            }
        }
    }
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
