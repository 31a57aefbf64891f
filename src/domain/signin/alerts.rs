//! The owner's alerts, queued through the outbox with their `alert_sent` event: the new-device
//! mail ("wasn't you?"), the lockout notice and the attack alert (a source was blocked on the
//! account). The last two tell what happened (how many attempts, from about where, when), that
//! the account is safe, and carry the "wasn't you?" link only if someone did get in lately.
//! At most one attack alert an hour per account, none after a lockout notice (outbox budgets);
//! an alert the budget holds back is recorded as `alert_skipped`, never dropped silently.

use time::OffsetDateTime;

use crate::domain::accounts::model::Account;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::{AttackReport, Notice, approximate_place, when_for_people};
use crate::domain::risk::features::parse_agent;
use crate::domain::signin::LoginService;
use crate::domain::signin::links::Purpose;
use crate::domain::tasks::retried;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::error::StoreError;

/// How far back a sign-in from a new browser counts as "someone got in" for the attack mails.
const GOT_IN_LOOKBACK: time::Duration = time::Duration::hours(24);

impl LoginService {
    /// The account was just locked for unknown sources: record it and tell the owner. The lock
    /// is committed already, so a database error does not lose its record: each write is tried
    /// again (`tasks::retried`, the same event each time).
    pub(super) async fn locked(
        &self,
        ctx: &RequestContext,
        account: &Account,
    ) -> Result<(), Unexpected> {
        let now = self.clock.now();
        let e = AuthEvent::new(EventKind::AccountLocked, ctx, now)
            .user(&account.id)
            .decision(Decision::UnknownSources);
        // Given up after every try: the owner's notice (its unlock link) still goes out.
        if let Err(e) = retried("account_locked", || written(self.events.record(e.clone()))).await {
            tracing::error!(error = %e, "the account lock's event was not recorded");
        }
        let report = retried("lockout report", || {
            self.attack_report(ctx, account, 0, now)
        })
        .await?;
        let notice = Notice::Lockout {
            unlock_link: format!(
                "{}/unlock?token={}",
                self.issuer,
                self.protection.links.issue(Purpose::Unlock, &account.id)
            ),
            reset_link: format!("{}/password/forgot", self.issuer),
            report,
        };
        self.alert(ctx, account, notice, Decision::AlertLockout, now, true)
            .await
    }

    /// A source was just blocked on the account after `failures` of its own: tell the owner
    /// (one attack mail an hour). Run after the answer (`Background`), so a block on a real
    /// account takes no longer to answer than one on a name with no account.
    pub(super) async fn attack_alert(
        &self,
        ctx: &RequestContext,
        account: &Account,
        failures: i64,
    ) -> Result<(), Unexpected> {
        let now = self.clock.now();
        let report = retried("attack report", || {
            self.attack_report(ctx, account, failures, now)
        })
        .await?;
        self.alert(
            ctx,
            account,
            Notice::Attack { report },
            Decision::AlertAttack,
            now,
            true,
        )
        .await
    }

    /// What the attack mails say: the failed attempts on the account in the protection window
    /// (at least `failures`, the blocked pair's: wrong CAPTCHA answers count there), the place
    /// of this one, the time, and the "wasn't you?" link when a new browser signed in within
    /// the last day.
    async fn attack_report(
        &self,
        ctx: &RequestContext,
        account: &Account,
        failures: i64,
        now: OffsetDateTime,
    ) -> Result<AttackReport, Unexpected> {
        let observed = self.risk.observe(ctx, now);
        let window = time::Duration::seconds(self.risk.window_secs());
        let filter = EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some(account.id.clone()),
            since: Some(now - GOT_IN_LOOKBACK),
            limit: 100,
            ..EventFilter::default()
        };
        let got_in = self
            .events
            .list(&filter)
            .await?
            .into_iter()
            .find(|e| e.decision_code == Some(Decision::Allow))
            .map(|e| {
                let link = format!(
                    "{}/not-me?token={}",
                    self.issuer,
                    self.protection.links.issue(Purpose::NotMe, &account.id)
                );
                (when_for_people(e.ts, now), link)
            });
        Ok(AttackReport {
            count: self
                .failures_since(account, window, now)
                .await?
                .max(failures),
            minutes: window.whole_minutes().max(1),
            place: approximate_place(observed.place.country.as_deref(), &observed.prefix),
            when: when_for_people(now, now),
            got_in,
        })
    }

    /// Failed sign-ins on the account in the last `window` (its `login_failed` events, at most
    /// 1000).
    async fn failures_since(
        &self,
        account: &Account,
        window: time::Duration,
        now: OffsetDateTime,
    ) -> Result<i64, Unexpected> {
        let filter = EventFilter {
            kind: Some(EventKind::LoginFailed),
            user_id: Some(account.id.clone()),
            since: Some(now - window),
            limit: 1000,
            ..EventFilter::default()
        };
        let n = self.events.list(&filter).await?.len();
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// Queues `notice` to the owner with its `alert_sent` event; when the outbox's budget (the
    /// rate window) holds it back, records `alert_skipped` with the same decision instead.
    /// With `retry` (after the answer: nobody waits for it), each write is tried again after a
    /// database error (`tasks::retried`): the limits' spends one by one
    /// (`Outbox::prepare_after_answer`), the event and mail with the same ids each time.
    /// Without (inside a request), once.
    async fn alert(
        &self,
        ctx: &RequestContext,
        account: &Account,
        notice: Notice,
        decision: Decision,
        now: OffsetDateTime,
        retry: bool,
    ) -> Result<(), Unexpected> {
        let to = account.email.as_str();
        let prepared = if retry {
            self.outbox.prepare_after_answer(to, notice).await?
        } else {
            self.outbox.prepare(to, notice).await?
        };
        if let Some(mail) = prepared {
            let e = AuthEvent::new(EventKind::AlertSent, ctx, now)
                .user(&account.id)
                .decision(decision);
            let write = || written(self.events.record_with_mail(e.clone(), Some(mail.clone())));
            tried(retry, "alert_sent", write).await?;
        } else {
            let e = AuthEvent::new(EventKind::AlertSkipped, ctx, now)
                .user(&account.id)
                .decision_detail(decision, "held back by the rate window");
            let write = || written(self.events.record(e.clone()));
            tried(retry, "alert_skipped", write).await?;
        }
        Ok(())
    }

    /// Tells the owner about a sign-in from a browser the account had not used before — but not
    /// on the very first sign-in, and at most once an hour (the outbox limits it).
    /// `signed_in_before` is what the caller already knows (the risk profile counted a success):
    /// when it is false the event log is asked, for successes the profile did not count.
    pub(super) async fn new_device_alert(
        &self,
        ctx: &RequestContext,
        account: &Account,
        signed_in_before: bool,
    ) -> Result<(), Unexpected> {
        if !signed_in_before {
            let filter = EventFilter {
                kind: Some(EventKind::LoginSucceeded),
                user_id: Some(account.id.clone()),
                limit: 1,
                ..EventFilter::default()
            };
            if self.events.list(&filter).await?.is_empty() {
                return Ok(());
            }
        }
        let now = self.clock.now();
        let observed = self.risk.observe(ctx, now);
        let notice = Notice::NewDevice {
            when: when_for_people(now, now),
            ip: ctx.ip.to_string(),
            place: approximate_place(observed.place.country.as_deref(), &observed.prefix),
            device: browser_summary(&ctx.user_agent),
            app: ctx.app.clone(),
            not_me_link: format!(
                "{}/not-me?token={}",
                self.issuer,
                self.protection.links.issue(Purpose::NotMe, &account.id)
            ),
        };
        self.alert(ctx, account, notice, Decision::AlertNewDevice, now, false)
            .await
    }
}

/// "Firefox on Linux": the browser and operating system a User-Agent claims, as the alert mail
/// shows them. Only the parser's names are used (never the raw header: whoever signed in chose
/// it), kept to letters, digits and a little punctuation, and short. The account security
/// page shows the same summary.
pub fn browser_summary(user_agent: &str) -> String {
    let clean = |s: &str| -> Option<String> {
        let kept: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_'))
            .take(32)
            .collect();
        let kept = kept.trim().to_owned();
        (!kept.is_empty() && kept != "UNKNOWN").then_some(kept)
    };
    let bounded: String = user_agent.chars().take(1024).collect();
    let agent = parse_agent(&bounded);
    match (clean(&agent.browser), clean(&agent.os)) {
        (Some(b), Some(os)) => format!("{b} on {os}"),
        (Some(b), None) => b,
        (None, Some(os)) => format!("an unknown browser on {os}"),
        (None, None) => "an unknown browser".to_owned(),
    }
}

/// `attempt` once, or with `retry` through `tasks::retried`.
async fn tried<T, E, F, Fut>(retry: bool, what: &'static str, mut attempt: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    if retry {
        retried(what, attempt).await
    } else {
        attempt().await
    }
}

/// A write's answer, with a conflict on its id taken as done: an earlier try was written after
/// all, though its answer was lost (`tasks::retried` repeats a write with the same ids).
async fn written(
    write: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<(), StoreError> {
    match write.await {
        Err(StoreError::Conflict { .. }) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::browser_summary;

    #[test]
    fn the_alert_names_browser_and_os_never_the_raw_agent() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(browser_summary(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                      Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(browser_summary(chrome), "Chrome on Windows 10");
        for junk in [
            "",
            "curl/8.5.0 <script>",
            "\u{0}\r\nBcc: x@example.com",
            &"x".repeat(5000),
        ] {
            let s = browser_summary(junk);
            assert!(s.len() <= 80 && !s.chars().any(char::is_control), "{s:?}");
            assert!(!s.contains('<') && !s.contains("Bcc"), "{s:?}");
        }
        assert_eq!(browser_summary("\u{1}\u{2}"), "an unknown browser");
    }
}
