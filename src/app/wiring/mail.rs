//! Builds mail: the transport (SMTP, or `.eml` files), the worker that delivers the queue and
//! the outbox the domain queues through.

use std::sync::Arc;

use super::Base;
use crate::domain::notify::Outbox;
use crate::mail::Mailer;
use crate::mail::file::FileMailer;
use crate::mail::outbox::QueueOutbox;
use crate::mail::smtp::SmtpMailer;
use crate::mail::worker::MailWorker;

/// Mail: the transport (SMTP, or `.eml` files), the worker that delivers the queue, and the
/// outbox the domain queues through.
pub(super) fn mail(b: &Base<'_>) -> anyhow::Result<(MailWorker, Arc<dyn Outbox>)> {
    use secrecy::ExposeSecret;
    let c = b.config;
    let mailer: Arc<dyn Mailer> = match &c.smtp_url {
        Some(url) => Arc::new(
            SmtpMailer::new(url.expose_secret(), c.mail_from.clone())
                .map_err(|_| anyhow::anyhow!("AUTHD_SMTP_URL: not a valid SMTP URL"))?,
        ),
        None => Arc::new(FileMailer::new(c.mail_dir.clone(), c.mail_from.clone())),
    };
    // A code or a link that expired while its mail waited (an SMTP outage) is not sent late.
    use crate::domain::notify::kinds;
    let lifetimes = [
        (kinds::EMAIL_CODE, c.protection.email_code_ttl_secs),
        (
            kinds::PASSWORD_RESET,
            crate::domain::accounts::reset::RESET_TTL_SECS,
        ),
        (
            kinds::VERIFY_EMAIL,
            crate::domain::signin::links::VERIFY_TTL_SECS,
        ),
    ];
    let worker = MailWorker::new(
        b.store.mail.clone(),
        mailer,
        b.deps.clock.clone(),
        b.sealer.clone(),
    )
    .with_lifetimes(lifetimes.into_iter().collect());
    let outbox: Arc<dyn Outbox> = Arc::new(QueueOutbox::new(
        b.store.mail.clone(),
        b.deps.clock.clone(),
        c.mail_from.email.domain().to_owned(),
        b.sealer.clone(),
        b.brand.clone(),
    ));
    Ok((worker, outbox))
}
