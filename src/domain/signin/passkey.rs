//! Passwordless sign-in with a passkey: the password sign-in's path (`mod.rs`) with the
//! assertion in place of the password check. The same network limits; the attempt counted
//! before the check on the pair of the account the answer claims (or, for a credential that
//! names nobody, the network's `passkey` row), so failed assertions climb the same ladder as
//! wrong passwords; the same risk scoring, events, new-device alert, profile update and
//! device cookie. A passed assertion with user verification is itself the strongest answer to
//! a challenge, so only a block refuses it.

use webauthn_rs::prelude::PublicKeyCredential;

use crate::domain::accounts::model::Account;
use crate::domain::captcha::PowLevel;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::passkeys::PasskeyService;
use crate::domain::passkeys::error::PasskeyError;
use crate::domain::passkeys::state::KeyKind;
use crate::domain::risk::service::SignInFacts;
use crate::domain::signin::devices::DeviceClaim;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{CounterKey, Pair, Source};
use crate::domain::signin::ladder::{self, ChallengeAnswer};
use crate::domain::signin::settle::{AfterCheck, Outcome};
use crate::domain::signin::{LoginService, SignedIn, settings, settle};
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::storage::risk::ProfileKey;

/// The counter name of assertions whose credential names no account.
const UNKNOWN: &str = "passkey";

/// One passwordless attempt, as the browser sent it.
#[derive(Debug)]
pub struct PasskeyAttempt<'a> {
    /// The ceremony state the session kept since `PasskeyService::start_sign_in`.
    pub state: &'a str,
    /// The authenticator's answer.
    pub answer: &'a PublicKeyCredential,
    /// The browser's device cookie, if any.
    pub device_cookie: Option<&'a str>,
}

/// A passwordless sign-in that succeeded.
#[derive(Debug, Clone)]
pub struct PasskeySignedIn {
    /// As for a password.
    pub signed_in: SignedIn,
    /// Which kind of key answered (the session's `amr`).
    pub kind: KeyKind,
}

/// The counter row: the claimed account from its own device (a cookie issued to it at its
/// current epoch) or from the network; a credential naming nobody counts on the network.
fn pair_for(account: Option<&Account>, device: Option<&DeviceClaim>, ip: std::net::IpAddr) -> Pair {
    let Some(a) = account else {
        return Pair::new(CounterKey::Name(UNKNOWN.to_owned()), Source::net(ip));
    };
    let source = match device {
        Some(d) if d.user == a.id && d.epoch == a.session_epoch => Source::Device(d.device.clone()),
        _ => Source::net(ip),
    };
    Pair::new(CounterKey::User(a.id.clone()), source)
}

impl LoginService {
    /// The counter row of a passkey sign-in (`pair_for`), where a browser its owner reported
    /// ("this wasn't me") is no device of the account.
    async fn passkey_pair(
        &self,
        account: Option<&Account>,
        device_cookie: Option<&str>,
        ip: std::net::IpAddr,
    ) -> Result<Pair, Unexpected> {
        let device = device_cookie.and_then(|c| self.protection.devices.claim(c));
        let mut pair = pair_for(account, device.as_ref(), ip);
        let store = &self.protection.ladder.store;
        if pair.source.is_known_device() && store.is_revoked_device(&pair.source.encode()).await? {
            pair.source = Source::net(ip);
        }
        Ok(pair)
    }

    /// Signs in with a passkey (see the module's doc for the steps).
    #[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login_with_passkey(
        &self,
        ctx: &RequestContext,
        passkeys: &PasskeyService,
        attempt: PasskeyAttempt<'_>,
    ) -> Result<PasskeySignedIn, SignInError> {
        // 1. Per-instance rate limits per network (no password, so no hash queue to ask).
        self.throttle(ctx, "", None, false).await?;
        // 2. The account the answer claims, and the attempt counted on its pair.
        let account = match passkeys.claimed_account(attempt.answer) {
            Some(id) => self.accounts.find_by_id(&id).await?,
            None => None,
        };
        let pair = self
            .passkey_pair(account.as_ref(), attempt.device_cookie, ctx.ip)
            .await?;
        let ladder = &self.protection.ladder;
        let counted = ladder.count_pair(pair, ctx.ip).await?;
        // 3. The risk score, for the event and the owner's profile.
        let stand_in = self.protection.stand_ins.point(UNKNOWN);
        let facts = SignInFacts {
            profile: account
                .as_ref()
                .map_or(ProfileKey::StandIn(&stand_in), |a| ProfileKey::User(&a.id)),
            pair: &counted.pair,
            pair_failures: counted.state.failures,
            password: b"",
        };
        let assessment = self.risk.assess_sign_in(ctx, &facts).await?;
        // 4–5. The ladder: the assertion answers any challenge, of any work; a block refuses.
        let passed = ChallengeAnswer::Passed(PowLevel::TOP);
        let verdict = ladder::answered(assessment.verdict, passed, &counted);
        let admission = ladder
            .decide_sign_in(&counted, passed, verdict, false)
            .await?;
        let o = Outcome {
            ctx,
            username: account.as_ref().map_or("", |a| a.email.as_str()),
            account: account.as_ref(),
            pair: &counted.pair,
            risk: Some(assessment.event_risk()),
            work: settings::work(ladder.settings(), &counted.state, counted.now),
            new_block: settle::new_block(&counted, &admission, verdict),
            amr: None,
            signed_in_before: assessment.signed_in_before(),
        };
        let AfterCheck::Answer { delay_ms, .. } = self
            .settle_admission(&o, admission, ChallengeAnswer::Absent)
            .await?
        else {
            return Err(SignInError::InvalidCredentials);
        };
        // 6. The assertion.
        let verified = match passkeys.finish_sign_in(attempt.state, attempt.answer).await {
            // A disabled account's valid assertion is refused like a failed one.
            Ok(asserted) => account
                .as_ref()
                .filter(|a| a.id == asserted.account_id && a.may_sign_in())
                .map(|a| (a, asserted.kind, asserted.proven)),
            Err(PasskeyError::Unexpected(e)) => return Err(SignInError::Unexpected(e)),
            Err(_) => None,
        };
        let now = self.clock.now();
        let Some((a, kind, proven)) = verified else {
            // 7. A failure, counted account-wide too (it may lock the account).
            self.passkey_failed(&o, delay_ms).await?;
            return Err(SignInError::InvalidCredentials);
        };
        // 8. Settled like a password sign-in, with the key's `amr` on the event.
        let o = Outcome {
            amr: Some(kind.amr()),
            ..o
        };
        // A user-verified passkey is the sign-in itself, not a passed challenge on the way.
        let mut signed_in = self.succeeded(&o, a, &assessment, now, false).await?;
        signed_in.factor_proven = proven;
        Ok(PasskeySignedIn { signed_in, kind })
    }

    /// A refused assertion: `login_failed` (deny; passkey), the account-wide count, the lock
    /// mail if it locked, and the delay rung.
    async fn passkey_failed(&self, o: &Outcome<'_>, delay_ms: u64) -> Result<(), SignInError> {
        let newly_locked = self.protection.ladder.record_failure(o.pair).await?;
        let now = self.clock.now();
        let event = o
            .event(EventKind::LoginFailed, now)
            .decision_detail(Decision::Deny, "passkey");
        let recorded = self.events.record(event).await;
        if newly_locked && let Some(a) = o.account {
            // Whether or not the event was written: the lock's record must not depend on it.
            self.spawn_locked(o.ctx, a);
        }
        recorded?;
        metrics::counter!("authd_logins_total", "outcome" => "failed").increment(1);
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        Ok(())
    }
}
