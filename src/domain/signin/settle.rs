//! Settling a sign-in's outcome: the event every answer leaves (with the risk and the reason in
//! `decision`), the `authd_logins_total` metric, the lock and new-device alerts, and the device
//! cookie for a browser that was not known yet. The new-device alert names the browser as a
//! summary ("Firefox on Linux"), never the User-Agent itself: the sender chose that text.

use time::OffsetDateTime;

use crate::domain::accounts::model::Account;
use crate::domain::captcha::PowLevel;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::Notice;
use crate::domain::risk::features::parse_agent;
use crate::domain::risk::service::Assessment;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::Pair;
use crate::domain::signin::ladder::{Admission, ChallengeAnswer};
use crate::domain::signin::links::Purpose;
use crate::domain::signin::{LoginService, SignedIn};
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventFilter, EventKind, Risk};

/// What every event about one attempt carries.
pub(super) struct Outcome<'a> {
    /// The request.
    pub ctx: &'a RequestContext,
    /// The username as typed.
    pub username: &'a str,
    /// The account the username names, if any.
    pub account: Option<&'a Account>,
    /// The counter row the attempt counted on.
    pub pair: &'a Pair,
    /// The risk assessment, for the event.
    pub risk: Option<Risk>,
    /// The proof-of-work level a challenge for this attempt asks for.
    pub work: PowLevel,
}

impl Outcome<'_> {
    /// An event of `kind` about this attempt, at `at`.
    fn event(&self, kind: EventKind, at: OffsetDateTime) -> AuthEvent {
        let e = AuthEvent::new(kind, self.ctx, at)
            .username(self.username)
            .risk(self.risk.clone());
        match self.account {
            Some(a) => e.user(&a.id),
            None => e,
        }
    }
}

/// How to answer once the password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterCheck {
    /// With the result; a failure waits `delay_ms` first.
    Answer {
        /// Milliseconds to hold a failed answer.
        delay_ms: u64,
    },
    /// With the challenge, whatever the result (the risk score asked for it).
    Challenge,
}

impl LoginService {
    /// Step 5: the ladder's answer before the password check. A challenge or a block is
    /// recorded and refused here; otherwise the answer says how to settle after the check.
    pub(super) async fn settle_admission(
        &self,
        o: &Outcome<'_>,
        admission: Admission,
        answer: ChallengeAnswer,
    ) -> Result<AfterCheck, SignInError> {
        let event = |kind| o.event(kind, self.clock.now());
        match admission {
            Admission::Admit { delay_ms } => {
                if answer == ChallengeAnswer::Passed {
                    self.events
                        .record(event(EventKind::ChallengePassed).decision(Decision::Captcha))
                        .await?;
                }
                Ok(AfterCheck::Answer { delay_ms })
            }
            Admission::CheckThenChallenge { .. } => Ok(AfterCheck::Challenge),
            Admission::Challenge(reason) => {
                if answer == ChallengeAnswer::Failed {
                    self.events
                        .record(event(EventKind::ChallengeFailed).decision(Decision::Captcha))
                        .await?;
                }
                self.events
                    .record(event(EventKind::LoginChallenged).decision(reason.decision()))
                    .await?;
                metrics::counter!("authd_logins_total", "outcome" => "challenged").increment(1);
                Err(SignInError::ChallengeRequired { work: o.work })
            }
            Admission::Blocked { retry_after } => {
                self.events
                    .record(event(EventKind::LoginBlocked).decision(Decision::Blocked))
                    .await?;
                metrics::counter!("authd_logins_total", "outcome" => "blocked").increment(1);
                Err(SignInError::RateLimited { retry_after })
            }
        }
    }

    /// A risky attempt meets the challenge whether or not the password was right (no oracle);
    /// with the right one (`verified`), the owner is told someone has it.
    pub(super) async fn challenged(
        &self,
        o: &Outcome<'_>,
        verified: Option<&Account>,
        newly_locked: bool,
        password: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), Unexpected> {
        if let Some(a) = verified {
            // After the answer, so its timing does not tell a right password from a wrong
            // one (that would confirm stuffed pairs). Tracked, so a test (or a graceful stop)
            // can wait for it.
            let (this, ctx, a, pair) = (self.clone(), o.ctx.clone(), a.clone(), o.pair.clone());
            self.background.spawn(async move {
                let done = async {
                    this.protection.ladder.take_back(&pair).await?;
                    this.new_device_alert(&ctx, &a).await
                };
                if let Err(e) = done.await {
                    tracing::warn!(error = %e, "alert after a risk challenge failed");
                }
            });
        } else {
            self.risk.failed(password, &o.pair.account);
        }
        let e = o
            .event(EventKind::LoginChallenged, now)
            .decision(if verified.is_some() {
                Decision::HighRiskRightPassword
            } else {
                Decision::HighRiskWrongPassword
            });
        self.events.record(e).await?;
        if newly_locked && let Some(a) = o.account {
            self.locked(o.ctx, a).await?;
        }
        metrics::counter!("authd_logins_total", "outcome" => "challenged").increment(1);
        Ok(())
    }

    /// The right password: alert on a new device, clear the pair with the success event, teach
    /// the owner's profile, and hand out a device cookie to a browser that had none.
    pub(super) async fn succeeded(
        &self,
        o: &Outcome<'_>,
        account: &Account,
        assessment: &Assessment,
        now: OffsetDateTime,
    ) -> Result<SignedIn, Unexpected> {
        tracing::Span::current().record("user_id", account.id.as_str());
        let known_device = o.pair.source.is_known_device();
        if !known_device {
            self.new_device_alert(o.ctx, account).await?;
        }
        let event = o
            .event(EventKind::LoginSucceeded, now)
            .decision(if known_device {
                Decision::AllowKnownDevice
            } else {
                Decision::Allow
            });
        self.protection.ladder.succeed(o.pair, &event).await?;
        self.risk.succeeded(&account.id, assessment).await?;
        crate::events::sink::trace(&event);
        metrics::counter!("authd_logins_total", "outcome" => "succeeded").increment(1);
        let new_device_cookie = (!known_device).then(|| {
            self.protection
                .devices
                .issue(&account.id, account.session_epoch)
        });
        Ok(SignedIn {
            account: account.clone(),
            at: now,
            new_device_cookie,
        })
    }

    /// A wrong password (or no such account): recorded, the lock mailed if this failure set
    /// it, and the answer held for the delay rung.
    pub(super) async fn failed(
        &self,
        o: &Outcome<'_>,
        delay_ms: u64,
        newly_locked: bool,
        password: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), Unexpected> {
        self.risk.failed(password, &o.pair.account);
        let event = o.event(EventKind::LoginFailed, now);
        let event = if delay_ms > 0 {
            event.decision_detail(Decision::Deny, &format!("delayed {delay_ms} ms"))
        } else {
            event.decision(Decision::Deny)
        };
        self.events.record(event).await?;
        metrics::counter!("authd_logins_total", "outcome" => "failed").increment(1);
        if newly_locked && let Some(a) = o.account {
            self.locked(o.ctx, a).await?;
        }
        // The delay rung: a failed answer waits, more so after each failure.
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        Ok(())
    }

    /// The account was just locked for unknown sources: record it and tell the owner.
    async fn locked(&self, ctx: &RequestContext, account: &Account) -> Result<(), Unexpected> {
        let now = self.clock.now();
        let e = AuthEvent::new(EventKind::AccountLocked, ctx, now)
            .user(&account.id)
            .decision(Decision::UnknownSources);
        self.events.record(e).await?;
        let notice = Notice::Lockout {
            unlock_link: format!(
                "{}/unlock?token={}",
                self.issuer,
                self.protection.links.issue(Purpose::Unlock, &account.id)
            ),
            reset_link: format!("{}/password/forgot", self.issuer),
        };
        if let Some(mail) = self.outbox.prepare(&account.email, notice).await? {
            let e = AuthEvent::new(EventKind::AlertSent, ctx, now)
                .user(&account.id)
                .decision(Decision::AlertLockout);
            self.events.record_with_mail(e, Some(mail)).await?;
        }
        Ok(())
    }

    /// Tells the owner about a sign-in from a browser the account had not used before — but not
    /// on the very first sign-in, and at most once an hour (the outbox limits it).
    async fn new_device_alert(
        &self,
        ctx: &RequestContext,
        account: &Account,
    ) -> Result<(), Unexpected> {
        let filter = EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some(account.id.clone()),
            limit: 1,
            ..EventFilter::default()
        };
        if self.events.list(&filter).await?.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let notice = Notice::NewDevice {
            when: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            ip: ctx.ip.to_string(),
            device: browser_summary(&ctx.user_agent),
            not_me_link: format!(
                "{}/not-me?token={}",
                self.issuer,
                self.protection.links.issue(Purpose::NotMe, &account.id)
            ),
        };
        if let Some(mail) = self.outbox.prepare(&account.email, notice).await? {
            let e = AuthEvent::new(EventKind::AlertSent, ctx, now)
                .user(&account.id)
                .decision(Decision::AlertNewDevice);
            self.events.record_with_mail(e, Some(mail)).await?;
        }
        Ok(())
    }
}

/// "Firefox on Linux": the browser and operating system a User-Agent claims, as the alert mail
/// shows them. Only the parser's names are used (never the raw header: whoever signed in chose
/// it), kept to letters, digits and a little punctuation, and short.
fn browser_summary(user_agent: &str) -> String {
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
