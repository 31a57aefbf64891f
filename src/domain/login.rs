//! Login orchestration: the one path every sign-in takes.
//!
//! throttle (per-instance rates) → look up → gate (counters, challenge, block, lock; known
//! devices exempt) → verify (dummy hash for unknown users) → record the outcome (lock and
//! notify) → events. The risk issue adds its score to the gate.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::domain::accounts::model::{Account, Email, Password};
use crate::domain::accounts::service::{AccountService, account_from};
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::DomainError;
use crate::domain::notify::{Notice, Outbox};
use crate::domain::protection::{Admission, ChallengeAnswer, Protection, Source};
use crate::domain::risk::service::RiskService;
use crate::domain::throttle::{Door, Throttle, ThrottleKey, net_of};
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::oauth::GrantStore;

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
    issuer: String,
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
    /// Counters, challenges, blocks and locks.
    pub protection: Protection,
    /// The risk engine.
    pub risk: RiskService,
    /// Mail.
    pub outbox: Arc<dyn Outbox>,
    /// OAuth grants (revoked when the owner reports a sign-in).
    pub grants: Arc<dyn GrantStore>,
    /// The public base URL (for links in mail).
    pub issuer: String,
}

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
}

impl LoginService {
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
            issuer: deps.issuer,
        }
    }

    /// Checks a username and password. Unknown users, malformed emails and out-of-range
    /// passwords cost one dummy verification, exactly like a wrong password, and all answer
    /// `InvalidCredentials`.
    #[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(
        &self,
        ctx: &RequestContext,
        attempt: Attempt<'_>,
    ) -> Result<SignedIn, DomainError> {
        let username = attempt.username;
        let name_key = self.throttle_login(ctx, username).await?;
        // The account lookup and the attempt's count share one round trip. Unknown names get
        // counters too, so a challenge never tells whether an account exists.
        let email = Email::parse(username);
        let prefix = crate::domain::risk::features::prefix_of(ctx.ip);
        let counted = self
            .protection
            .count_sign_in(
                email.as_ref().map(Email::as_str),
                &format!("name:{name_key}"),
                attempt.device_cookie,
                &net_of(ctx.ip).to_string(),
                &prefix,
            )
            .await?;
        // The risk score: one more read (profile and velocity counters together).
        let assessment = self
            .risk
            .assess_sign_in(
                ctx,
                counted.account.as_ref().map(|a| a.id.as_str()),
                &counted.counter,
                &counted.source_key,
                counted.source.is_known_device(),
                counted.state.failures,
                attempt.password.expose_secret().as_bytes(),
            )
            .await?;
        let admission = self
            .protection
            .decide_sign_in(&counted, attempt.challenge, assessment.verdict)
            .await?;
        let risk = Some(assessment.event_risk());
        let account = counted.account.clone().map(account_from).transpose()?;
        let (counter, source) = (counted.counter, counted.source);
        let (delay_ms, challenge_after_check) = self
            .gate(
                ctx,
                username,
                account.as_ref(),
                admission,
                attempt.challenge,
                risk.clone(),
            )
            .await?;
        // A password that could never have been set is still verified (against the dummy
        // hash) so it takes the same time as any other wrong password.
        let password = attempt.password;
        let valid_shape = Password::parse(password.clone()).is_ok();
        let stored = account
            .as_ref()
            .filter(|_| valid_shape)
            .map(|a| a.password_hash.as_str());
        let ok = self.accounts.hasher().verify(&password, stored).await?;
        let success = ok && account.is_some();
        // A success clears the pair together with its event (below); a failure counts here.
        let newly_locked = !success && self.protection.record_failure(&counter, &source).await?;
        let now = self.clock.now();
        if challenge_after_check {
            // A risky attempt meets the challenge whether or not the password was right (no
            // oracle); with the right one, the owner is told someone has it.
            if success && let Some(a) = &account {
                // After the answer, so its timing does not tell a right password from a wrong
                // one (that would confirm stuffed pairs).
                let (this, ctx, a) = (self.clone(), ctx.clone(), a.clone());
                let (counter, source) = (counter.clone(), source.clone());
                tokio::spawn(async move {
                    let done = async {
                        this.protection.take_back(&counter, &source).await?;
                        this.new_device_alert(&ctx, &a).await
                    };
                    if let Err(e) = done.await {
                        tracing::warn!(error = %e, "alert after a risk challenge failed");
                    }
                });
            } else {
                self.risk
                    .failed(password.expose_secret().as_bytes(), &counter);
            }
            let mut e = AuthEvent::new(EventKind::LoginChallenged, ctx, now)
                .username(username)
                .risk(risk)
                .decision(if success {
                    "high_risk; right password"
                } else {
                    "high_risk; wrong password"
                });
            if let Some(a) = &account {
                e = e.user(&a.id);
            }
            self.events.record(e).await?;
            if newly_locked && let Some(a) = &account {
                self.locked(ctx, a).await?;
            }
            metrics::counter!("authd_logins_total", "outcome" => "challenged").increment(1);
            return Err(DomainError::ChallengeRequired);
        }
        match account {
            Some(account) if success => {
                tracing::Span::current().record("user_id", account.id.as_str());
                if !source.is_known_device() {
                    self.new_device_alert(ctx, &account).await?;
                }
                let event = AuthEvent::new(EventKind::LoginSucceeded, ctx, now)
                    .user(&account.id)
                    .username(username)
                    .decision(if source.is_known_device() {
                        "allow:known_device"
                    } else {
                        "allow"
                    })
                    .risk(risk);
                self.protection.succeed(&counter, &source, &event).await?;
                self.risk.succeeded(&account.id, &assessment).await?;
                crate::events::sink::trace(&event);
                metrics::counter!("authd_logins_total", "outcome" => "succeeded").increment(1);
                let new_device_cookie =
                    (!source.is_known_device()).then(|| self.protection.issue_device(&account.id));
                Ok(SignedIn {
                    account,
                    at: now,
                    new_device_cookie,
                })
            }
            known => {
                let decision = if delay_ms > 0 {
                    format!("deny; delayed {delay_ms} ms")
                } else {
                    "deny".to_owned()
                };
                self.risk
                    .failed(password.expose_secret().as_bytes(), &counter);
                let mut event = AuthEvent::new(EventKind::LoginFailed, ctx, now)
                    .username(username)
                    .decision(&decision)
                    .risk(risk);
                if let Some(a) = &known {
                    event = event.user(&a.id);
                }
                self.events.record(event).await?;
                metrics::counter!("authd_logins_total", "outcome" => "failed").increment(1);
                if newly_locked && let Some(a) = &known {
                    self.locked(ctx, a).await?;
                }
                // The delay rung: a failed answer waits, more so after each failure.
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                Err(DomainError::InvalidCredentials)
            }
        }
    }

    /// Step 2: the decision point before the password check.
    async fn gate(
        &self,
        ctx: &RequestContext,
        username: &str,
        account: Option<&Account>,
        admission: Admission,
        answer: ChallengeAnswer,
        risk: Option<crate::events::Risk>,
    ) -> Result<(u64, bool), DomainError> {
        let event = |kind| {
            let e = AuthEvent::new(kind, ctx, self.clock.now())
                .username(username)
                .risk(risk.clone());
            match account {
                Some(a) => e.user(&a.id),
                None => e,
            }
        };
        match admission {
            Admission::Admit { delay_ms } => {
                if answer == ChallengeAnswer::Passed {
                    self.events
                        .record(event(EventKind::ChallengePassed).decision("captcha"))
                        .await?;
                }
                Ok((delay_ms, false))
            }
            Admission::CheckThenChallenge { delay_ms } => Ok((delay_ms, true)),
            Admission::Challenge(reason) => {
                if answer == ChallengeAnswer::Failed {
                    self.events
                        .record(event(EventKind::ChallengeFailed).decision("captcha"))
                        .await?;
                }
                self.events
                    .record(event(EventKind::LoginChallenged).decision(reason))
                    .await?;
                metrics::counter!("authd_logins_total", "outcome" => "challenged").increment(1);
                Err(DomainError::ChallengeRequired)
            }
            Admission::Blocked { retry_after } => {
                self.events
                    .record(event(EventKind::LoginBlocked).decision("blocked"))
                    .await?;
                metrics::counter!("authd_logins_total", "outcome" => "blocked").increment(1);
                Err(DomainError::RateLimited { retry_after })
            }
        }
    }

    /// The gate for other public forms (`register`, `forgot`): every submission from a network
    /// counts; past `AUTHD_CHALLENGE_AFTER` in the window a CAPTCHA is needed, past
    /// `AUTHD_BLOCK_AFTER` the network is blocked for a while.
    pub async fn gate_form(
        &self,
        ctx: &RequestContext,
        form: &str,
        answer: ChallengeAnswer,
    ) -> Result<(), DomainError> {
        let counter = format!("form:{form}");
        let source = Source::Net(net_of(ctx.ip).to_string());
        let event =
            |kind| AuthEvent::new(kind, ctx, self.clock.now()).decision(&format!("form:{form}"));
        match self.protection.admit(&counter, &source, answer).await? {
            Admission::Admit { .. } => {
                if answer == ChallengeAnswer::Passed {
                    self.events
                        .record(event(EventKind::ChallengePassed))
                        .await?;
                }
                Ok(())
            }
            Admission::Challenge(_) | Admission::CheckThenChallenge { .. } => {
                if answer == ChallengeAnswer::Failed {
                    self.events
                        .record(event(EventKind::ChallengeFailed))
                        .await?;
                }
                self.events
                    .record(event(EventKind::LoginChallenged))
                    .await?;
                Err(DomainError::ChallengeRequired)
            }
            Admission::Blocked { retry_after } => {
                self.events.record(event(EventKind::LoginBlocked)).await?;
                Err(DomainError::RateLimited { retry_after })
            }
        }
    }

    /// The account was just locked for unknown sources: record it and tell the owner.
    async fn locked(&self, ctx: &RequestContext, account: &Account) -> Result<(), DomainError> {
        let now = self.clock.now();
        let e = AuthEvent::new(EventKind::AccountLocked, ctx, now)
            .user(&account.id)
            .decision("unknown_sources");
        self.events.record(e).await?;
        let notice = Notice::Lockout {
            unlock_link: format!(
                "{}/unlock?token={}",
                self.issuer,
                self.protection.unlock_token(&account.id)
            ),
            reset_link: format!("{}/password/forgot", self.issuer),
        };
        if let Some(mail) = self.outbox.prepare(&account.email, notice).await? {
            let e = AuthEvent::new(EventKind::AlertSent, ctx, now)
                .user(&account.id)
                .decision("lockout");
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
    ) -> Result<(), DomainError> {
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
            device: ctx.user_agent.chars().take(120).collect(),
            not_me_link: format!(
                "{}/not-me?token={}",
                self.issuer,
                self.protection
                    .link_token("not_me", &account.id, 7 * 86_400)
            ),
        };
        if let Some(mail) = self.outbox.prepare(&account.email, notice).await? {
            let e = AuthEvent::new(EventKind::AlertSent, ctx, now)
                .user(&account.id)
                .decision("new_device");
            self.events.record_with_mail(e, Some(mail)).await?;
        }
        Ok(())
    }

    /// Whether a "wasn't you?" link token is valid and unexpired (the confirmation page is only
    /// shown for one).
    pub fn not_me_link_is_valid(&self, token: &str) -> bool {
        token.len() <= 512 && self.protection.check_link_token("not_me", token).is_some()
    }

    /// "Wasn't you?": the owner reports a sign-in. Every session and OAuth grant of the account
    /// ends; the event (`session_revoked`, decision `reported_not_me`) labels the report for the
    /// risk model. The user id if the token was valid.
    pub async fn report_not_me(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<String>, DomainError> {
        let Some(user_id) = self.protection.check_link_token("not_me", token) else {
            return Ok(None);
        };
        self.accounts.end_sessions(&user_id).await?;
        let now = self.clock.now();
        let grants = self
            .grants
            .revoke_user_families(&user_id, now.unix_timestamp())
            .await?;
        let e = AuthEvent::new(EventKind::SessionRevoked, ctx, now)
            .user(&user_id)
            .decision(&format!("reported_not_me; {grants} grants revoked"));
        self.events.record(e).await?;
        Ok(Some(user_id))
    }

    /// Lifts every block and lock of `user_id` (`authd user unlock`, or the mailed link).
    pub async fn unlock(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        via: &str,
    ) -> Result<bool, DomainError> {
        let lifted = self.protection.unlock(&format!("user:{user_id}")).await?;
        let e = AuthEvent::new(EventKind::AccountUnlocked, ctx, self.clock.now())
            .user(user_id)
            .decision(via);
        self.events.record(e).await?;
        Ok(lifted)
    }

    /// Lifts the lock named by a mailed unlock token; the user id if the token was valid.
    pub async fn unlock_with_token(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<String>, DomainError> {
        let Some(user_id) = self.protection.check_unlock_token(token) else {
            return Ok(None);
        };
        self.unlock(ctx, &user_id, "link").await?;
        Ok(Some(user_id))
    }

    /// Step 1: the per-instance rate limits, per network and per attempted account, before any
    /// database or hashing work.
    async fn throttle_login(
        &self,
        ctx: &RequestContext,
        username: &str,
    ) -> Result<String, DomainError> {
        let account_key = Email::parse(username).map_or_else(
            || {
                // Typed input goes into counters' keys: no control characters (PostgreSQL
                // text cannot even hold NUL), and bounded.
                username
                    .trim()
                    .to_lowercase()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(AuthEvent::MAX_USERNAME)
                    .collect()
            },
            |e| e.as_str().to_owned(),
        );
        let keys = [
            ThrottleKey::net(ctx.ip),
            ThrottleKey::Account(account_key.clone()),
        ];
        let Err((key, retry_after)) = self.throttle.check(Door::Login, &keys) else {
            return Ok(account_key);
        };
        let event = AuthEvent::new(EventKind::RateLimited, ctx, self.clock.now())
            .username(username)
            .decision(key.dimension());
        self.events.record(event).await?;
        metrics::counter!("authd_logins_total", "outcome" => "rate_limited").increment(1);
        Err(DomainError::RateLimited { retry_after })
    }

    /// Records that a session was created for `user_id` after sign-in.
    pub async fn session_created(
        &self,
        ctx: &RequestContext,
        user_id: &str,
    ) -> Result<(), DomainError> {
        let event = AuthEvent::new(EventKind::SessionCreated, ctx, self.clock.now()).user(user_id);
        Ok(self.events.record(event).await?)
    }

    /// Records a sign-out (`logout`) or an expired session (`session_revoked`).
    pub async fn session_ended(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        kind: EventKind,
        reason: &str,
    ) -> Result<(), DomainError> {
        let event = AuthEvent::new(kind, ctx, self.clock.now())
            .user(user_id)
            .decision(reason);
        Ok(self.events.record(event).await?)
    }

    /// The user's own recent security events, newest first (for `/account`).
    pub async fn recent_events(
        &self,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<AuthEvent>, DomainError> {
        let filter = EventFilter {
            user_id: Some(user_id.to_owned()),
            limit,
            ..EventFilter::default()
        };
        Ok(self.events.list(&filter).await?)
    }
}
