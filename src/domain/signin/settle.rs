//! Settling a sign-in's outcome: the event every answer leaves (with the risk and the reason in
//! `decision`), the `authd_logins_total` metric, the device cookie for a browser that was not
//! known yet, and when to alert the owner (new device, lock, a block this attempt set; the mails
//! themselves are in `alerts.rs`).

use time::OffsetDateTime;

use crate::domain::account_security::sessions::SignInNote;
use crate::domain::accounts::model::Account;
use crate::domain::captcha::PowLevel;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::risk::Verdict;
use crate::domain::risk::service::Assessment;
use crate::domain::signin::devices::Devices;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{Pair, Source, normalised_name};
use crate::domain::signin::ladder::{Admission, ChallengeAnswer, ChallengeReason, Counted};
use crate::domain::signin::{LoginService, SignedIn};
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind, Risk};

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
    /// `Some(failures)`: this attempt set a block on its pair, after that many failures (the
    /// owner gets the attack alert).
    pub new_block: Option<i64>,
    /// The RFC 8176 `amr` of a sign-in without a password (a passkey's `hwk`/`swk`), written
    /// into the success event's decision; `None` for a password.
    pub amr: Option<&'static str>,
    /// Whether the account signed in before, as its risk profile counts
    /// (`Assessment::signed_in_before`): no new-device alert on a first sign-in.
    pub signed_in_before: bool,
}

/// Whether `admission` is a block this attempt set (`Some(the pair's failures)`): a block
/// that neither was there already nor comes from the risk verdict (which is not stored).
pub(super) fn new_block(c: &Counted, admission: &Admission, risk: Verdict) -> Option<i64> {
    let already = c.state.blocked_until.is_some_and(|u| u > c.now);
    (matches!(admission, Admission::Blocked { .. }) && !already && risk != Verdict::Block)
        .then_some(c.state.failures)
}

impl Outcome<'_> {
    /// An event of `kind` about this attempt, at `at`.
    pub(super) fn event(&self, kind: EventKind, at: OffsetDateTime) -> AuthEvent {
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
        /// The challenge the attempt got past on the way (`Admission::Admit`).
        past: Option<ChallengeReason>,
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
            Admission::Admit { delay_ms, past } => {
                if answer.passed_now() {
                    self.events
                        .record(event(EventKind::ChallengePassed).decision(Decision::Captcha))
                        .await?;
                }
                Ok(AfterCheck::Answer { delay_ms, past })
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
                if let (Some(failures), Some(a)) = (o.new_block, o.account) {
                    self.spawn_attack_alert(o, a, failures);
                }
                metrics::counter!("authd_logins_total", "outcome" => "blocked").increment(1);
                Err(SignInError::RateLimited { retry_after })
            }
        }
    }

    /// The lock's event and notice (`locked`), after the answer (`Background`), so the attempt
    /// that locks a real account takes no longer to answer than the one that locks a name with
    /// no account (which has nothing to record or mail).
    pub(super) fn spawn_locked(&self, ctx: &RequestContext, account: &Account) {
        let (this, ctx, a) = (self.clone(), ctx.clone(), account.clone());
        self.background.spawn(async move {
            if let Err(e) = this.locked(&ctx, &a).await {
                tracing::warn!(error = %e, "the lockout notice failed");
            }
        });
    }

    /// The owner's attack alert for a block this attempt set, after the answer (tracked).
    fn spawn_attack_alert(&self, o: &Outcome<'_>, account: &Account, failures: i64) {
        let (this, ctx, a) = (self.clone(), o.ctx.clone(), account.clone());
        self.background.spawn(async move {
            if let Err(e) = this.attack_alert(&ctx, &a, failures).await {
                tracing::warn!(error = %e, "the attack alert failed");
            }
        });
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
            let before = o.signed_in_before;
            self.background.spawn(async move {
                let done = async {
                    this.protection.ladder.take_back(&pair).await?;
                    this.new_device_alert(&ctx, &a, before).await
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
        let recorded = self.events.record(e).await;
        if newly_locked && let Some(a) = o.account {
            // Whether or not this attempt's own event was written: the lock is committed, its
            // record must not depend on that write. After it, so that the lock's writes do not
            // hold up this answer (SQLite has one writer) and its report counts this attempt.
            self.spawn_locked(o.ctx, a);
        }
        recorded?;
        metrics::counter!("authd_logins_total", "outcome" => "challenged").increment(1);
        Ok(())
    }

    /// The right password: alert on a new device, clear the pair with the success event, teach
    /// the owner's profile, and hand out a device cookie to a browser that had none. The risk
    /// reasons go to the session index only when a challenge was `passed` on the way.
    pub(super) async fn succeeded(
        &self,
        o: &Outcome<'_>,
        account: &Account,
        assessment: &Assessment,
        now: OffsetDateTime,
        passed: bool,
    ) -> Result<SignedIn, Unexpected> {
        tracing::Span::current().record("user_id", account.id.as_str());
        let known_device = o.pair.source.is_known_device();
        if !known_device {
            self.new_device_alert(o.ctx, account, o.signed_in_before)
                .await?;
        }
        let decision = if known_device {
            Decision::AllowKnownDevice
        } else {
            Decision::Allow
        };
        let event = o.event(EventKind::LoginSucceeded, now);
        let event = match o.amr {
            Some(amr) => event.decision_detail(decision, &format!("amr {amr}")),
            None => event.decision(decision),
        };
        let profile = self.risk.profile_after(assessment)?;
        let profile = crate::storage::risk::ProfileWrite {
            user_id: &account.id,
            profile: &profile,
            now: now.unix_timestamp(),
        };
        self.protection
            .ladder
            .succeed(o.pair, &event, Some(profile))
            .await?;
        crate::events::sink::trace(&event);
        metrics::counter!("authd_logins_total", "outcome" => "succeeded").increment(1);
        let new_device_cookie = (!known_device).then(|| {
            self.protection.devices.issue(
                &account.id,
                account.session_epoch,
                &normalised_name(&account.email),
            )
        });
        Ok(SignedIn {
            account: account.clone(),
            at: now,
            note: SignInNote {
                event_id: Some(event.id.clone()),
                risk_reasons: if passed {
                    assessment.reasons.clone()
                } else {
                    Vec::new()
                },
                device: device_after(&o.pair.source, new_device_cookie.as_deref()),
            },
            new_device_cookie,
            amr: amr_of(o.amr),
            // A password passes no factor; a passkey sign-in says whether its key was proven.
            factor_proven: false,
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
        let recorded = self.events.record(event).await;
        if newly_locked && let Some(a) = o.account {
            // Whether or not the event was written, as above.
            self.spawn_locked(o.ctx, a);
        }
        recorded?;
        metrics::counter!("authd_logins_total", "outcome" => "failed").increment(1);
        // The delay rung: a failed answer waits, more so after each failure.
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        Ok(())
    }
}

/// The `amr` of a sign-in (RFC 8176): `["pwd"]` for a password; for a passkey alone, its key
/// kind (`hwk`/`swk`) and `mfa` — a passkey with user verification is itself two factors (the
/// key held, unlocked by the device's PIN or biometrics), which the ceremony requires and
/// `passkeys/assertion.rs` checks again.
fn amr_of(passwordless: Option<&'static str>) -> Vec<String> {
    match passwordless {
        Some(key) => vec![key.to_owned(), "mfa".to_owned()],
        None => vec!["pwd".to_owned()],
    }
}

/// The device id the browser holds after a sign-in from `source`: its own cookie's if that
/// counted, else the one issued with the sign-in (`new_cookie`).
pub(super) fn device_after(source: &Source, new_cookie: Option<&str>) -> Option<String> {
    match source {
        Source::Device(id) => Some(id.clone()),
        _ => new_cookie.map(|c| Devices::id_of(c).to_owned()),
    }
}
