//! Sign-in: the one path every sign-in takes, readable top to bottom in `LoginService::login`.
//! Each step lives in its own file:
//!
//! - `door.rs`: step 1, the per-network rate limits and room in the hash queue (a refusal
//!   there costs no database work);
//! - `keys.rs`: counter keys (`CounterKey`, `Source`, `Pair`): which row an attempt counts on;
//! - `ladder.rs`: the failure ladder (count, delay, challenge, block, account-wide lock);
//! - `devices.rs`: device cookies (a known browser is exempt from the lock);
//! - `links.rs`: signed, expiring links (`Purpose`: unlock, "wasn't you?");
//! - `settle.rs`: settling the outcome (events, metrics, the device cookie);
//! - `alerts.rs`: the owner's mails (new device, lockout, attack alert);
//! - `forms.rs`: the same ladder for the register and forgot forms;
//! - `admission.rs`: what the ladder answers before the password check (`Admission`);
//! - `pass.rs`: the challenge shown before a submit, and a passed one held for the next;
//! - `step_up.rs`: the second factor a right password may still owe (`domain/mfa`; why, in
//!   `step_up_why.rs`), and `step_up_checks.rs`: checking its answers (codes; the passkey's assertion, bound to the
//!   pending step-up);
//! - `verify.rs`: the address's verification link;
//! - `passkey.rs`: the same path without a password (a passkey's assertion instead);
//! - `unlock.rs`, `not_me.rs`: what the mailed links do; `sessions.rs`: session events.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::domain::account_security::sessions::SignInNote;
use crate::domain::accounts::model::{Account, Email, Password};
use crate::domain::accounts::password::Lane;
use crate::domain::accounts::service::{AccountService, account_from};
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::mfa::totp::Authenticators;
use crate::domain::notify::Outbox;
use crate::domain::oauth::BearerCacheClear;
use crate::domain::passkeys::PasskeyService;
use crate::domain::risk::service::RiskService;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{Pair, normalised_name};
use crate::domain::signin::ladder::{ChallengeAnswer, Counted, SignInLookup};
use crate::domain::signin::settle::{AfterCheck, Outcome};
use crate::domain::tasks::Background;
use crate::domain::throttle::{DevicePair, Door, Throttle, ThrottleKey};
use crate::events::sink::EventSink;
use crate::storage::oauth::GrantStore;

/// The ladder's answer before the password check.
pub mod admission;
/// The owner's alerts (new device, lockout, attack).
pub mod alerts;
/// Device cookies.
pub mod devices;
/// Step 1: rate limits and room in the hash queue.
mod door;
/// `SignInError`: what a sign-in can answer.
pub mod error;
/// Managing second factors (the app, recovery codes, the setting, the operator's reset).
pub mod factors;
/// The register/forgot form gate.
pub mod forms;
/// Counter keys.
pub mod keys;
/// The failure ladder.
pub mod ladder;
/// Signed links.
pub mod links;
/// "Wasn't you?".
pub mod not_me;
/// The challenge shown up front, and a passed one held for the rest of an attempt.
pub mod pass;
/// Passwordless sign-in with a passkey.
pub mod passkey;
/// The protection parts and their keys.
mod protection;
pub use protection::Protection;
/// Session events.
mod sessions;
/// Thresholds and the challenge's work.
pub mod settings;
/// Settling a sign-in's outcome.
mod settle;
/// Stand-in histories for names with no account.
pub mod stand_in;
/// The step-up after the password (second factors).
pub mod step_up;
/// Checking a step-up's answers.
pub mod step_up_checks;
/// Why a right password owes a second factor.
pub mod step_up_why;
/// Lifting locks.
pub mod unlock;
/// Verifying the address (the mailed link).
pub mod verify;

/// One sign-in attempt, as the form sent it.
#[derive(Debug)]
pub struct Attempt<'a> {
    /// The username as typed.
    pub username: &'a str,
    /// The password.
    pub password: SecretString,
    /// The browser's device cookie, if any.
    pub device_cookie: Option<&'a str>,
    /// The challenge answer in this request.
    pub challenge: ChallengeAnswer,
    /// A client's `acr_values` asked for a second factor: step up whatever the risk.
    pub force_step_up: bool,
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// When the password was verified.
    pub at: OffsetDateTime,
    /// A device cookie to set (the browser was not a known device yet).
    pub new_device_cookie: Option<String>,
    /// What the session index keeps of this sign-in (its event; the risk reasons when it
    /// was challenged).
    pub note: SignInNote,
    /// How the user authenticated (RFC 8176 `amr`: `pwd`, then `otp`/`hwk` and `mfa`).
    pub amr: Vec<String>,
    /// The second factor this sign-in passed is the owner's own as far as authd can tell: the
    /// e-mailed code, or an app or passkey that was itself set up past a factor (`proven`). A
    /// factor set up in this session is recorded as proven only then, so one set up with the
    /// password alone cannot vouch for the next (a chain the owner's reset would not undo).
    pub factor_proven: bool,
}

impl LoginService {
    /// Checks a username and password. Unknown users, malformed emails and out-of-range
    /// passwords cost one dummy verification, exactly like a wrong password, and all answer
    /// `InvalidCredentials`.
    #[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(
        &self,
        ctx: &RequestContext,
        attempt: Attempt<'_>,
    ) -> Result<SignedIn, SignInError> {
        let Attempt {
            username,
            password,
            device_cookie,
            challenge,
            force_step_up,
        } = attempt;
        // 1. Per-network rate limits and room in the hash queue, before any database work.
        let name = normalised_name(username);
        let device = device_cookie.and_then(|c| self.protection.devices.claim(c));
        let knock = device.as_ref().map(|d| (d, name.as_str()));
        let pair = self.throttle(ctx, username, knock, true).await?;
        // 2. Look the account up and count the attempt in one round trip. Unknown names get
        //    counters too, so a challenge never tells whether an account exists.
        let email = Email::parse(username);
        let lookup = SignInLookup {
            email: email.as_ref().map(Email::as_str),
            name: &name,
            device: device.as_ref(),
            ip: ctx.ip,
        };
        let counted = self.protection.ladder.count_sign_in(&lookup).await?;
        // The device cookie's pair settled; the per-account budget (never a 429).
        let account_busy = self.settle_source(&counted.pair, &name, pair);
        // 3. The risk score: one more read (profile and velocity counters). A name with no
        //    account is scored against a stand-in's history, like a real one (`stand_in.rs`).
        let secret = password.expose_secret().as_bytes();
        let stand_in = self.protection.stand_ins.point(&name);
        let assessment = self
            .risk
            .assess_sign_in(ctx, &counted.facts(secret, &stand_in))
            .await?;
        // 4. The ladder, with the score as one more signal (and the answer weighed: `weigh`).
        let ladder = &self.protection.ladder;
        let (challenge, verdict) = ladder.weigh(challenge, assessment.verdict, &counted);
        let admission = ladder
            .decide_sign_in(&counted, challenge, verdict, account_busy)
            .await?;
        let account = counted.account.clone().map(account_from).transpose()?;
        let o = Outcome {
            ctx,
            username,
            account: account.as_ref(),
            pair: &counted.pair,
            risk: Some(assessment.event_risk()),
            work: settings::work(ladder.settings(), &counted.state, counted.now),
            new_block: settle::new_block(&counted, &admission, verdict),
            amr: None,
            signed_in_before: assessment.signed_in_before(),
        };
        // 5. Refused before the password check (challenge, block): recorded and answered.
        let after = self.settle_admission(&o, admission, challenge).await?;
        // 6. The password check (the dummy hash when there is no account to check against).
        let verified = self.verify(account.as_ref(), &password, &counted).await?;
        // 7. A failure counts account-wide from unknown sources, and may lock the account.
        let newly_locked = verified.is_none() && ladder.record_failure(&counted.pair).await?;
        // 8. Settle: events, metrics, alerts, the new device cookie — or, for the right password
        //    with a takeover signal or past a challenge, a second factor first (`step_up.rs`).
        let now = self.clock.now();
        let asks = step_up_why::Asks::new(force_step_up, after, challenge);
        let owed = self.step_up_owed(&o, verified, &assessment, asks, now);
        if let Some(e) = owed.await? {
            return Err(e);
        }
        match (after, verified) {
            (AfterCheck::Challenge, verified) => {
                self.challenged(&o, verified, newly_locked, secret, now)
                    .await?;
                Err(SignInError::ChallengeRequired { work: o.work })
            }
            (AfterCheck::Answer { .. }, Some(a)) => {
                let passed = challenge.clears_rung();
                Ok(self.succeeded(&o, a, &assessment, now, passed).await?)
            }
            (AfterCheck::Answer { delay_ms, .. }, None) => {
                self.failed(&o, delay_ms, newly_locked, secret, now).await?;
                Err(SignInError::InvalidCredentials)
            }
        }
    }

    /// Step 2½: what the lookup says of the source. The device cookie's `device` pair with the
    /// name is remembered for the door when the cookie is the account's, forgotten when not
    /// (`Throttle::settle_pair`, step 1). Then whether the attempted account's per-instance
    /// budget is spent: spent only by sources the account does not know, beyond it they need
    /// a passed challenge (never a 429: the owner must not be locked out). A known device of
    /// the account neither draws from it nor is held by it: anyone can spend the budget (it
    /// is keyed by the typed name), so it only ever asks unknown sources for a challenge.
    fn settle_source(&self, pair: &Pair, name: &str, device: Option<DevicePair>) -> bool {
        self.throttle
            .settle_pair(device, pair.source.is_known_device());
        if pair.source.is_known_device() {
            return false;
        }
        let key = [ThrottleKey::Account(name.to_owned())];
        self.throttle.check(Door::Login, &key).is_err()
    }

    /// Step 6: the account if `password` is its password and it may sign in. A password that
    /// could never have been set, or a name with no account, is still verified (against the
    /// dummy hash) so it takes the same time as any other wrong password; a disabled account's
    /// is verified against its own hash and then refused, so it answers exactly like a wrong
    /// password (same status, page and time). A browser the account knows (the `counted`
    /// pair's source) waits in the known lane, ahead of a flood of unknown ones, one check per
    /// account at a time (`accounts/password.rs`, `accounts/known_lane.rs`) and a bounded
    /// number a minute (`Throttle::known_lane_within`). A password that
    /// verified against a hash made at another cost than today's is hashed again, after the
    /// answer (`AccountService::upgrade_hash_later`).
    async fn verify<'a>(
        &self,
        account: Option<&'a Account>,
        password: &SecretString,
        counted: &Counted,
    ) -> Result<Option<&'a Account>, SignInError> {
        let valid_shape = Password::parse(password.clone()).is_ok();
        let stored = account
            .filter(|_| valid_shape)
            .map(|a| a.password_hash.as_str());
        let started = tokio::time::Instant::now();
        let hasher = self.accounts.hasher();
        let known = |a: &&Account| {
            counted.pair.source.is_known_device() && self.throttle.known_lane_within(&a.id)
        };
        let ok = match account.filter(known) {
            Some(a) => hasher.verify_known(&a.id, password, stored).await,
            None => hasher.verify_in(Lane::Ordinary, password, stored).await,
        };
        let ok = door::held(started, ok).await?;
        if let Some(a) = account.filter(|_| ok) {
            self.accounts
                .upgrade_hash_later(&self.background, a, password);
        }
        Ok(account.filter(|a| ok && a.may_sign_in()))
    }
}

/// Sign-in and sign-out, with their events.
#[derive(Clone)]
pub struct LoginService {
    accounts: AccountService,
    clock: Arc<dyn Clock>,
    events: EventSink,
    throttle: Throttle,
    protection: Protection,
    risk: RiskService,
    outbox: Arc<dyn Outbox>,
    grants: Arc<dyn GrantStore>,
    bearer_cache: BearerCacheClear,
    issuer: String,
    background: Background,
    authenticators: Authenticators,
    passkeys: PasskeyService,
}

impl std::fmt::Debug for LoginService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginService")
    }
}

/// What the sign-in service is built from besides the accounts.
#[derive(Clone)]
pub struct LoginDeps {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The event sink.
    pub events: EventSink,
    /// Per-instance rate limits.
    pub throttle: Throttle,
    /// Counters, challenges, blocks, locks, device cookies and links.
    pub protection: Protection,
    /// The risk engine.
    pub risk: RiskService,
    /// Mail.
    pub outbox: Arc<dyn Outbox>,
    /// OAuth grants (revoked when the owner reports a sign-in).
    pub grants: Arc<dyn GrantStore>,
    /// This instance's bearer cache, cleared with them.
    pub bearer_cache: BearerCacheClear,
    /// The public base URL (for links in mail).
    pub issuer: String,
    /// Runs the after-the-answer work (the alert after a risk challenge), tracked so tests and
    /// shutdown can wait for it.
    pub background: Background,
    /// Authenticator apps and recovery codes (a step-up factor).
    pub authenticators: Authenticators,
    /// Passkeys (the strongest step-up factor).
    pub passkeys: PasskeyService,
}

impl LoginService {
    /// The authenticator apps and recovery codes.
    pub fn authenticators(&self) -> &Authenticators {
        &self.authenticators
    }

    /// The risk engine.
    pub fn risk(&self) -> &RiskService {
        &self.risk
    }

    /// Builds the service.
    pub fn new(accounts: AccountService, deps: LoginDeps) -> Self {
        Self {
            accounts,
            clock: deps.clock,
            events: deps.events,
            throttle: deps.throttle,
            protection: deps.protection,
            risk: deps.risk,
            outbox: deps.outbox,
            grants: deps.grants,
            bearer_cache: deps.bearer_cache,
            issuer: deps.issuer,
            background: deps.background,
            authenticators: deps.authenticators,
            passkeys: deps.passkeys,
        }
    }
}
