//! "This wasn't me" on the account security page: the owner reports one of their sessions or
//! grants. It ends (a browser session with every grant made since it signed in), its sign-in
//! is labelled an attack for the risk model (an admin-style label on its `login_succeeded`
//! event, and the `session_revoked` event with decision `reported_not_me` that the log's own
//! labels read), the browser's device cookie stops counting as the account's device, the owner
//! is mailed, and the page asks for a password change.

use crate::domain::account_security::SecurityService;
use crate::domain::account_security::error::SecurityError;
use crate::domain::account_security::sessions::{Ended, Target};
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::{Notice, when_for_people};
use crate::domain::signin::keys::Source;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};
use crate::storage::user_sessions::UserSessionRecord;

impl SecurityService {
    /// Reports the session or grant `target` of `user_id` as not theirs. `current` (the index
    /// row this request came with) cannot be reported: that is a sign-out.
    pub async fn not_me(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        target: &str,
        current: Option<&str>,
    ) -> Result<(), SecurityError> {
        if current.is_some_and(|c| target.strip_prefix("s-") == Some(c)) {
            return Err(SecurityError::InvalidInput(
                "That is the session you are using now: sign out instead.",
            ));
        }
        let now = self.clock.now();
        let ts = now.unix_timestamp();
        let ended = match Target::parse(target) {
            // The browser's device standing goes before its session does, so that it cannot
            // sign in again as a known device in between.
            Some(Target::Browser(id)) => {
                let row = self.owned_browser(user_id, &id).await?;
                self.forget_device(&row, current, ts).await?;
                self.end_browser(&row).await?;
                Ended::Browser(Box::new(row))
            }
            _ => self.end_one(user_id, target).await?,
        };
        let since = match &ended {
            Ended::Browser(r) => r.created_at,
            Ended::Grant { created_at, .. } => *created_at,
        };
        let grants = self
            .sessions
            .revoke_grants_since(user_id, since, ts)
            .await?;
        if let Ended::Browser(r) = &ended
            && let Some(event_id) = &r.sign_in_event
        {
            self.risk_store.label(event_id, true, ts).await?;
        }
        let detail = format!("{}; {grants} grants revoked", ended.what());
        let event = AuthEvent::new(EventKind::SessionRevoked, ctx, now)
            .user(user_id)
            .decision_detail(Decision::ReportedNotMe, &detail);
        let mail = self.report_mail(user_id, &ended, now).await?;
        Ok(self.events.record_with_mail(event, mail).await?)
    }

    /// Ends the reported browser's standing as a known device of the account: its device
    /// cookie no longer gets its own counter row, the way past the account-wide lock or the
    /// known-device exemptions, until a later sign-in there earns a new cookie. Not when the
    /// browser reporting holds the same cookie (a stale row of this very browser).
    async fn forget_device(
        &self,
        reported: &UserSessionRecord,
        current: Option<&str>,
        now: i64,
    ) -> Result<(), Unexpected> {
        let Some(device) = &reported.device_id else {
            return Ok(());
        };
        if let Some(current) = current {
            let mine = self.sessions.find_by_id(current).await?;
            if mine.and_then(|m| m.device_id).as_ref() == Some(device) {
                return Ok(());
            }
        }
        let source = Source::Device(device.clone()).encode();
        let (user, epoch) = (&reported.user_id, reported.epoch);
        Ok(self
            .sessions
            .revoke_device(&source, user, epoch, now)
            .await?)
    }

    /// The owner's mail about the report (`None` if the account is gone or its limit is hit).
    async fn report_mail(
        &self,
        user_id: &str,
        ended: &Ended,
        now: time::OffsetDateTime,
    ) -> Result<Option<crate::storage::mail::MailRecord>, Unexpected> {
        let Some(account) = self.accounts.find_by_id(user_id).await? else {
            return Ok(None);
        };
        let (what, place, since) = match ended {
            Ended::Browser(r) => {
                let place = match &r.country {
                    Some(c) => format!("the network {} ({c})", r.network),
                    None => format!("the network {}", r.network),
                };
                (r.device.clone(), place, r.created_at)
            }
            Ended::Grant {
                client_id,
                created_at,
            } => (
                format!("access for the app {client_id}"),
                "an app".to_owned(),
                *created_at,
            ),
        };
        let when = time::OffsetDateTime::from_unix_timestamp(since)
            .map(|t| when_for_people(t, now))
            .unwrap_or_default();
        let notice = Notice::SessionReported {
            what,
            place,
            when,
            security_link: format!("{}/account/security", self.issuer),
            reset_link: format!("{}/password/forgot", self.issuer),
        };
        self.outbox.prepare(&account.email, notice).await
    }
}
