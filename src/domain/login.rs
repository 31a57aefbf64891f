//! Login orchestration: the one path every sign-in takes.
//!
//! Today: parse → look up → verify (dummy hash for unknown users) → events. The attack
//! protection and risk issues insert their steps (throttle, risk, challenge, lockout) here, in
//! that order, each in its own module.

use std::sync::Arc;

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::domain::accounts::model::{Account, Email, Password};
use crate::domain::accounts::service::AccountService;
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::DomainError;
use crate::domain::throttle::{Door, Throttle, ThrottleKey};
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventFilter, EventKind};

/// Sign-in and sign-out, with their events.
#[derive(Clone, Debug)]
pub struct LoginService {
    accounts: AccountService,
    clock: Arc<dyn Clock>,
    events: EventSink,
    throttle: Throttle,
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// When the password was verified.
    pub at: OffsetDateTime,
}

impl LoginService {
    /// Builds the service.
    pub fn new(
        accounts: AccountService,
        clock: Arc<dyn Clock>,
        events: EventSink,
        throttle: Throttle,
    ) -> Self {
        Self {
            accounts,
            clock,
            events,
            throttle,
        }
    }

    /// Checks a username and password. Unknown users, malformed emails and out-of-range
    /// passwords cost one dummy verification, exactly like a wrong password, and all answer
    /// `InvalidCredentials`.
    #[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(
        &self,
        ctx: &RequestContext,
        username: &str,
        password: SecretString,
    ) -> Result<SignedIn, DomainError> {
        self.throttle_login(ctx, username).await?;
        let account = self.accounts.find_by_email(username).await?;
        // A password that could never have been set is still verified (against the dummy
        // hash) so it takes the same time as any other wrong password.
        let valid_shape = Password::parse(password.clone()).is_ok();
        let stored = account
            .as_ref()
            .filter(|_| valid_shape)
            .map(|a| a.password_hash.as_str());
        let ok = self.accounts.hasher().verify(&password, stored).await?;
        let now = self.clock.now();
        match account {
            Some(account) if ok => {
                tracing::Span::current().record("user_id", account.id.as_str());
                let event = AuthEvent::new(EventKind::LoginSucceeded, ctx, now)
                    .user(&account.id)
                    .username(username)
                    .decision("allow");
                self.events.record(event).await?;
                metrics::counter!("authd_logins_total", "outcome" => "succeeded").increment(1);
                Ok(SignedIn { account, at: now })
            }
            account => {
                let mut event = AuthEvent::new(EventKind::LoginFailed, ctx, now)
                    .username(username)
                    .decision("deny");
                if let Some(a) = &account {
                    event = event.user(&a.id);
                }
                self.events.record(event).await?;
                metrics::counter!("authd_logins_total", "outcome" => "failed").increment(1);
                Err(DomainError::InvalidCredentials)
            }
        }
    }

    /// Step 1: the per-instance rate limits, per network and per attempted account, before any
    /// database or hashing work.
    async fn throttle_login(
        &self,
        ctx: &RequestContext,
        username: &str,
    ) -> Result<(), DomainError> {
        let account_key = Email::parse(username).map_or_else(
            || {
                username
                    .trim()
                    .to_lowercase()
                    .chars()
                    .take(AuthEvent::MAX_USERNAME)
                    .collect()
            },
            |e| e.as_str().to_owned(),
        );
        let keys = [ThrottleKey::net(ctx.ip), ThrottleKey::Account(account_key)];
        let Err((key, retry_after)) = self.throttle.check(Door::Login, &keys) else {
            return Ok(());
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
