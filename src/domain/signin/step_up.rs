//! The step-up: after the right password, a sign-in whose risk score reaches
//! `AUTHD_STEP_UP_AT` — a takeover signal —, that got past a challenge from a source the
//! account does not know (`Why::PastChallenge`), or whose owner asked for it at every sign-in owes
//! the account's strongest second factor (`domain/mfa`) before any session exists. The
//! pending step-up lives in the browser's server-side session (the HTTP layer keeps it; the
//! session is not signed in meanwhile); each answer comes back here. A wrong answer is a
//! `challenge_failed` event and a failure on the ladder like a wrong password, and after
//! `AUTHD_STEP_UP_MAX_FAILURES` the step-up is dropped; a right one is `challenge_passed` with
//! the factor, the sign-in's success, and the owner's context for the risk profile.
//! An account with no second factor keeps the CAPTCHA (`settle.rs`). The passkey rung's
//! answers are checked in `step_up_checks.rs`.

use time::OffsetDateTime;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::domain::account_security::sessions::SignInNote;
use crate::domain::accounts::model::Account;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::mfa::pending::{PendingStepUp, STEP_UP_TTL_SECS, SentCode};
use crate::domain::mfa::{Factor, amr_with};
use crate::domain::notify::Notice;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{CounterKey, Pair, Source, normalised_name};
use crate::domain::signin::settle::{Outcome, device_after};
use crate::domain::signin::step_up_checks::Passed;
use crate::domain::signin::step_up_why::StepUpReason;
use crate::domain::signin::{LoginService, SignedIn};
use crate::domain::throttle::net_of;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind, Risk};
use crate::storage::mail::MailRecord;

/// An answer to a pending step-up.
#[derive(Debug, Clone)]
pub enum StepUpAnswer {
    /// A code typed for a factor (`email_code`, or `totp_code` — a recovery code goes there).
    Code(Factor, String),
    /// The authenticator's answer to the passkey assertion started for this step-up
    /// (`LoginService::start_passkey_step_up`).
    Passkey(Box<PublicKeyCredential>),
    /// The user chose another factor the account has (for the e-mail: a new code).
    Choose(Factor),
}

/// What an answer led to.
#[derive(Debug)]
pub enum StepUpOutcome {
    /// The factor passed: sign the session in.
    Passed(Box<SignedIn>),
    /// Still pending (keep it), with what to tell the user.
    Pending {
        /// The updated step-up.
        pending: Box<PendingStepUp>,
        /// An error to show (a wrong code).
        error: Option<&'static str>,
    },
    /// Too many failures, expired, or the account is gone: start the sign-in again.
    Dropped,
}

impl LoginService {
    /// Starts a step-up: the right password is not a failure (the count is taken back), the
    /// owner is alerted when the risk or a challenge asked for it, and the strongest factor is asked for
    /// (for the e-mail, a code is mailed with the `login_challenged` event).
    pub(super) async fn begin_step_up(
        &self,
        o: &Outcome<'_>,
        account: &Account,
        why: StepUpReason,
        now: OffsetDateTime,
    ) -> Result<SignInError, Unexpected> {
        self.protection.ladder.take_back(o.pair).await?;
        if why.why.alerts() {
            let (this, ctx, a) = (self.clone(), o.ctx.clone(), account.clone());
            let before = o.signed_in_before;
            self.background.spawn(async move {
                if let Err(e) = this.new_device_alert(&ctx, &a, before).await {
                    tracing::warn!(error = %e, "alert before a step-up failed");
                }
            });
        }
        let factor = why.offered.first().copied().unwrap_or(Factor::Email);
        let mut pending = PendingStepUp {
            user_id: account.id.clone(),
            username: o.username.to_owned(),
            offered: why.offered,
            factor,
            score: o.risk.as_ref().map(|r| r.score),
            reasons: o
                .risk
                .as_ref()
                .map(|r| r.reasons.clone())
                .unwrap_or_default(),
            failures: 0,
            started_at: now.unix_timestamp(),
            amr: vec!["pwd".to_owned()],
            counter: (o.pair.account.encode(), o.pair.source.encode()),
            known_device: o.pair.source.is_known_device(),
            binding: self.protection.codes.binding(),
            code: None,
            assertion: None,
            requested_from: net_of(o.ctx.ip).to_string(),
            familiar_network: why.familiar_network,
            epoch: Some(account.session_epoch),
        };
        let mail = self.code_mail(&mut pending, account, now).await?;
        let event = o
            .event(EventKind::LoginChallenged, now)
            .decision(why.why.decision());
        self.events.record_with_mail(event, mail).await?;
        metrics::counter!("authd_logins_total", "outcome" => "stepped_up").increment(1);
        Ok(SignInError::StepUpRequired(Box::new(pending)))
    }

    /// For the e-mail factor, a new code (replacing any earlier one) and its mail, unless the
    /// address's hourly budget is spent.
    async fn code_mail(
        &self,
        pending: &mut PendingStepUp,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<Option<MailRecord>, Unexpected> {
        if pending.factor != Factor::Email {
            return Ok(None);
        }
        let (code, mac) = self
            .protection
            .codes
            .issue(&pending.binding, &pending.user_id);
        let ttl = self.protection.ladder.settings().email_code_ttl_secs;
        let notice = Notice::EmailCode {
            code,
            minutes: (ttl / 60).max(1),
            requested_from: pending.requested_from.clone(),
            familiar: pending.familiar_network,
            device: pending.known_device.then(|| pending.counter.1.clone()),
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        pending.code = Some(SentCode {
            mac,
            sent_at: now.unix_timestamp(),
            mailed: mail.is_some(),
        });
        Ok(mail)
    }

    /// Answers a pending step-up (the HTTP layer took it out of the session; it puts back
    /// what `Pending` returns).
    pub async fn answer_step_up(
        &self,
        ctx: &RequestContext,
        mut pending: PendingStepUp,
        answer: StepUpAnswer,
    ) -> Result<StepUpOutcome, SignInError> {
        let now = self.clock.now();
        // The account as it was when the password was checked (`PendingStepUp::epoch`).
        let account = (self.accounts.find_by_id(&pending.user_id).await?)
            .filter(|a| a.may_sign_in() && pending.epoch == Some(a.session_epoch));
        let (Some(account), false) = (account, pending.expired(now.unix_timestamp())) else {
            return Ok(StepUpOutcome::Dropped);
        };
        // An answer to check takes one of the step-up's answers first, atomically across
        // requests and instances (`Links::take_answer`); none left, it is over.
        let checks = matches!(answer, StepUpAnswer::Code(..) | StepUpAnswer::Passkey(_));
        let (max, until) = (
            self.protection.ladder.settings().step_up_max_failures,
            pending.started_at + STEP_UP_TTL_SECS,
        );
        if checks
            && !self
                .protection
                .links
                .take_answer(&pending.binding, max, until)
                .await?
        {
            return Ok(StepUpOutcome::Dropped);
        }
        match answer {
            StepUpAnswer::Choose(f) if pending.offered.contains(&f) => {
                pending.factor = f;
                let mail = self.code_mail(&mut pending, &account, now).await?;
                if mail.is_some() {
                    let e = self
                        .step_up_event(ctx, &pending, EventKind::LoginChallenged, now)
                        .decision(f.decision());
                    self.events.record_with_mail(e, mail).await?;
                }
                Ok(StepUpOutcome::Pending {
                    pending: Box::new(pending),
                    error: None,
                })
            }
            StepUpAnswer::Choose(_) => Ok(StepUpOutcome::Pending {
                pending: Box::new(pending),
                error: None,
            }),
            StepUpAnswer::Code(f, typed) => {
                let passed = if pending.offered.contains(&f) {
                    self.check_factor(&pending, f, &typed, now).await?
                } else {
                    None
                };
                self.settle_answer(ctx, pending, &account, (f, passed), now)
                    .await
            }
            StepUpAnswer::Passkey(answer) => {
                let passed = self.check_passkey(&mut pending, &answer).await?;
                let f = Factor::Webauthn;
                self.settle_answer(ctx, pending, &account, (f, passed), now)
                    .await
            }
        }
    }

    /// A checked answer: signed in if it passed, a counted failure if not.
    async fn settle_answer(
        &self,
        ctx: &RequestContext,
        pending: PendingStepUp,
        account: &Account,
        (f, passed): (Factor, Option<Passed>),
        now: OffsetDateTime,
    ) -> Result<StepUpOutcome, SignInError> {
        if let Some(passed) = passed {
            let signed_in = self
                .passed_step_up(ctx, &pending, account, passed, now)
                .await?;
            return Ok(StepUpOutcome::Passed(Box::new(signed_in)));
        }
        self.failed_step_up(ctx, pending, account, f, now).await
    }

    /// The factor passed: `challenge_passed`, then the sign-in's success exactly as after a
    /// password alone (the pair cleared, the profile taught this context, a device cookie).
    async fn passed_step_up(
        &self,
        ctx: &RequestContext,
        pending: &PendingStepUp,
        account: &Account,
        passed: Passed,
        now: OffsetDateTime,
    ) -> Result<SignedIn, Unexpected> {
        let event = self
            .step_up_event(ctx, pending, EventKind::ChallengePassed, now)
            .decision(passed.how);
        self.events.record(event).await?;
        let decision = if pending.known_device {
            Decision::AllowKnownDevice
        } else {
            Decision::Allow
        };
        let event = self
            .step_up_event(ctx, pending, EventKind::LoginSucceeded, now)
            .decision(decision);
        let mut note = SignInNote {
            event_id: Some(event.id.clone()),
            risk_reasons: pending.reasons.clone(),
            device: None,
        };
        let pair = pair_of(pending);
        if let Some(pair) = &pair {
            self.protection.ladder.succeed(pair, &event, None).await?;
            crate::events::sink::trace(&event);
        } else {
            self.events.record(event).await?;
        }
        self.risk.learn(&account.id, ctx).await?;
        metrics::counter!("authd_logins_total", "outcome" => "succeeded").increment(1);
        let new_device_cookie = (!pending.known_device).then(|| {
            self.protection.devices.issue(
                &account.id,
                account.session_epoch,
                &normalised_name(&account.email),
            )
        });
        let source = pair.map_or(Source::All, |p| p.source);
        note.device = device_after(&source, new_device_cookie.as_deref());
        Ok(SignedIn {
            account: account.clone(),
            at: now,
            new_device_cookie,
            note,
            amr: amr_with(pending.amr.clone(), passed.amr),
            factor_proven: passed.proven,
        })
    }

    /// A wrong answer: `challenge_failed`, a failure on the ladder (which may lock the
    /// account), and the step-up dropped after too many.
    async fn failed_step_up(
        &self,
        ctx: &RequestContext,
        mut pending: PendingStepUp,
        account: &Account,
        f: Factor,
        now: OffsetDateTime,
    ) -> Result<StepUpOutcome, SignInError> {
        let e = self
            .step_up_event(ctx, &pending, EventKind::ChallengeFailed, now)
            .decision(f.decision());
        self.events.record(e).await?;
        metrics::counter!("authd_logins_total", "outcome" => "step_up_failed").increment(1);
        if let Some(pair) = pair_of(&pending)
            && self.protection.ladder.count_failure(&pair).await?
        {
            // After the answer, tried again after a database error: the lock is committed, so
            // its record and notice must not fail this answer (nor be lost with it).
            self.spawn_locked(ctx, account);
        }
        pending.failures += 1;
        if pending.failures >= self.protection.ladder.settings().step_up_max_failures {
            return Ok(StepUpOutcome::Dropped);
        }
        let error = match f {
            Factor::Webauthn => "The passkey was not accepted. Try again, or choose another way.",
            Factor::Totp | Factor::Email => "That code is not right. Check it and try again.",
        };
        Ok(StepUpOutcome::Pending {
            pending: Box::new(pending),
            error: Some(error),
        })
    }

    /// An event about a pending step-up, with its reasons.
    fn step_up_event(
        &self,
        ctx: &RequestContext,
        pending: &PendingStepUp,
        kind: EventKind,
        now: OffsetDateTime,
    ) -> AuthEvent {
        let risk = pending.score.map(|score| Risk {
            score,
            reasons: pending.reasons.clone(),
            features: None,
        });
        AuthEvent::new(kind, ctx, now)
            .user(&pending.user_id)
            .username(&pending.username)
            .risk(risk)
    }
}

/// The ladder's counter row a pending step-up counts on.
fn pair_of(p: &PendingStepUp) -> Option<Pair> {
    Some(Pair::new(
        CounterKey::decode(&p.counter.0)?,
        Source::decode(&p.counter.1)?,
    ))
}
