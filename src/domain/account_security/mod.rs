//! The account security page's decisions (`/account/security`): re-authentication before any
//! change (`reauth.rs`), sessions and devices (`sessions.rs`), "this wasn't me" (`not_me.rs`),
//! the password change and the operator's revoke (`password.rs`), and the page's read of
//! recent events. Never imports axum, sqlx or askama: the HTTP layer keeps the `ReauthMark`
//! and the index row's id in the session and asks here.

use std::sync::Arc;

use secrecy::SecretString;

use crate::domain::accounts::service::AccountService;
use crate::domain::clock::{Clock, Random};
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::Outbox;
use crate::domain::oauth::BearerCacheClear;
use crate::domain::risk::service::RiskService;
use crate::domain::seal::Sealer;
use crate::domain::sessions::SessionPolicy;
use crate::domain::throttle::{Door, Throttle, ThrottleKey};
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::oauth::GrantStore;
use crate::storage::risk::RiskStore;
use crate::storage::user_sessions::UserSessionStore;

/// The page's error.
pub mod error;
/// "This wasn't me".
pub mod not_me;
/// The password change; `authd user revoke`.
pub mod password;
/// Re-authentication: `ReauthMark`, `ReauthProof`.
pub mod reauth;
/// Sessions and devices.
pub mod sessions;

use error::SecurityError;
use reauth::{ReauthMark, ReauthProof, factor_proved};

/// Wrong passwords in a row a session may give on the security page before it is ended
/// (`SecurityService::reauth_given_up`).
pub const REAUTH_TRIES: u32 = 5;

/// What the account security page does.
#[derive(Clone)]
pub struct SecurityService {
    accounts: AccountService,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    events: EventSink,
    throttle: Throttle,
    sessions: Arc<dyn UserSessionStore>,
    grants: Arc<dyn GrantStore>,
    bearer_cache: BearerCacheClear,
    risk: RiskService,
    risk_store: Arc<dyn RiskStore>,
    outbox: Arc<dyn Outbox>,
    sealer: Sealer,
    policy: SessionPolicy,
    issuer: String,
}

/// What the service is built from besides the accounts.
#[derive(Clone)]
pub struct SecurityDeps {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness (index row ids).
    pub random: Arc<dyn Random>,
    /// The event sink.
    pub events: EventSink,
    /// Re-authentication attempts draw from the sign-in budget.
    pub throttle: Throttle,
    /// The session index.
    pub sessions: Arc<dyn UserSessionStore>,
    /// OAuth grants.
    pub grants: Arc<dyn GrantStore>,
    /// This instance's bearer cache, cleared with them.
    pub bearer_cache: BearerCacheClear,
    /// GeoIP, through the risk engine.
    pub risk: RiskService,
    /// Labels for the risk model.
    pub risk_store: Arc<dyn RiskStore>,
    /// The owner's mail.
    pub outbox: Arc<dyn Outbox>,
    /// Seals the tower-sessions ids in the index.
    pub sealer: Sealer,
    /// Idle timeout and lifetime (dead index rows are not listed).
    pub policy: SessionPolicy,
    /// The public base URL, for links in mail.
    pub issuer: String,
}

impl std::fmt::Debug for SecurityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityService")
    }
}

impl SecurityService {
    /// Builds the service.
    pub fn new(accounts: AccountService, d: SecurityDeps) -> Self {
        Self {
            accounts,
            clock: d.clock,
            random: d.random,
            events: d.events,
            throttle: d.throttle,
            sessions: d.sessions,
            grants: d.grants,
            bearer_cache: d.bearer_cache,
            risk: d.risk,
            risk_store: d.risk_store,
            outbox: d.outbox,
            sealer: d.sealer,
            policy: d.policy,
            issuer: d.issuer,
        }
    }

    /// Whether the session's mark (`mark`, its stored value) allows `user_id` a change now;
    /// `ReauthRequired` if there is none or it is too old.
    pub fn check_reauth(&self, user_id: &str, mark: Option<&str>) -> Result<(), SecurityError> {
        let now = self.clock.now();
        match mark.and_then(ReauthMark::decode) {
            Some(m) if m.allows(user_id, now) => Ok(()),
            _ => Err(SecurityError::ReauthRequired),
        }
    }

    /// After `check_reauth` (or the passkeys' recent sign-in), a change to `user_id`'s sign-in
    /// methods: `FactorRequired` when the account's factor guards them (`guarded`,
    /// `LoginService::factor_guard`) and this session — its sign-in's `amr`, its mark — proved
    /// no factor (`reauth::factor_proved`).
    pub fn check_factor_change(
        &self,
        user_id: &str,
        guarded: bool,
        amr: &[String],
        mark: Option<&str>,
    ) -> Result<(), SecurityError> {
        let mark = mark.and_then(ReauthMark::decode);
        if !guarded || factor_proved(user_id, amr, mark.as_ref(), self.clock.now()) {
            Ok(())
        } else {
            Err(SecurityError::FactorRequired)
        }
    }

    /// The mark a session earns by setting up a factor (the enrolment proved it: a code from
    /// the new app, an answer from the new passkey): changes for five minutes, as after a
    /// re-authentication with that factor.
    pub fn enrolled_mark(&self, user_id: &str, proof: ReauthProof) -> ReauthMark {
        ReauthMark::new(user_id, proof, self.clock.now())
    }

    /// Re-authenticates `user_id` with the account's password: the mark to keep in the
    /// session, or `WrongPassword`. Attempts draw from the account's sign-in budget, so a
    /// stolen session cannot be used to guess the password at leisure. Both outcomes are
    /// events (`challenge_passed` / `challenge_failed`, decision `reauth`).
    pub async fn reauth_by_password(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        password: &SecretString,
        row: Option<&str>,
    ) -> Result<ReauthMark, SecurityError> {
        self.verify_password(ctx, user_id, password, row).await?;
        self.reauth_by_factor(ctx, user_id, ReauthProof::Password)
            .await
            .map_err(SecurityError::from)
    }

    /// Re-authenticates `user_id` after a second factor checked its own answer (`proof`):
    /// records `challenge_passed` (decision `reauth`, the proof as detail) and returns the mark
    /// to keep in the session.
    pub async fn reauth_by_factor(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        proof: ReauthProof,
    ) -> Result<ReauthMark, Unexpected> {
        let now = self.clock.now();
        let event = AuthEvent::new(EventKind::ChallengePassed, ctx, now)
            .user(user_id)
            .decision_detail(Decision::Reauth, proof.code());
        self.events.record(event).await?;
        Ok(ReauthMark::new(user_id, proof, now))
    }

    /// A session that gave the wrong password `REAUTH_TRIES` times in a row on the security
    /// page (or tried again past them) ends: its index row goes, unless a right password
    /// cleared its count meanwhile, and `session_revoked` (decision `reauth_failures`) is
    /// recorded once; `SessionEnded` tells the caller to delete the browser session too. A
    /// stolen session can then neither guess the password at leisure nor spend the account's
    /// re-authentication budget, which the owner's own browsers draw from. A count cleared
    /// meanwhile (a right password sent beside this attempt) answers "try again".
    async fn reauth_given_up(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        row: &str,
    ) -> Result<(), SecurityError> {
        let limit = i64::from(REAUTH_TRIES);
        if !self
            .sessions
            .delete_after_reauth_attempts(row, limit)
            .await?
        {
            if self.sessions.find_by_id(row).await?.is_some() {
                return Err(SecurityError::RateLimited { retry_after: 1 });
            }
            // Ended already, by an attempt sent beside this one.
            return Err(SecurityError::SessionEnded);
        }
        let event = AuthEvent::new(EventKind::SessionRevoked, ctx, self.clock.now())
            .user(user_id)
            .decision(Decision::ReauthFailures);
        self.events.record(event).await?;
        Err(SecurityError::SessionEnded)
    }

    /// Checks `password` against `user_id`'s (re-authentication, the current password of a
    /// change) from the browser session whose index row is `row`: counted against that
    /// session first, in one statement (guesses sent at once are each counted), and past
    /// `REAUTH_TRIES` not checked at all; the `REAUTH_TRIES`th wrong one in a row, or any
    /// attempt past it, ends the session (`SessionEnded`). An attempt that gets no verdict
    /// (the account's throttle, a busy pool, a fault) is taken back. A failure is recorded as
    /// `challenge_failed`. A session without an index row (signed in before the index) has
    /// the account's throttle only.
    pub(crate) async fn verify_password(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        password: &SecretString,
        row: Option<&str>,
    ) -> Result<(), SecurityError> {
        let tries = match row {
            Some(row) => match self.sessions.count_reauth_attempt(row).await? {
                Some(n) => Some((row, n)),
                // The row went: the session was ended meanwhile (by a guess sent beside this
                // one, a sign-out elsewhere); nothing is checked for it.
                None => return Err(SecurityError::SessionEnded),
            },
            None => None,
        };
        let limit = i64::from(REAUTH_TRIES);
        if let Some((row, n)) = tries
            && n > limit
        {
            return self.reauth_given_up(ctx, user_id, row).await;
        }
        let right = match self.check_password(user_id, password).await {
            Ok(right) => right,
            Err(e) => {
                if let Some((row, _)) = tries {
                    self.sessions.uncount_reauth_attempt(row).await?;
                }
                return Err(e);
            }
        };
        if right {
            if let Some((row, _)) = tries {
                self.sessions.clear_reauth_attempts(row).await?;
            }
            return Ok(());
        }
        let event = AuthEvent::new(EventKind::ChallengeFailed, ctx, self.clock.now())
            .user(user_id)
            .decision(Decision::Reauth);
        self.events.record(event).await?;
        if let Some((row, n)) = tries
            && n >= limit
        {
            return self.reauth_given_up(ctx, user_id, row).await;
        }
        Err(SecurityError::WrongPassword)
    }

    /// Whether `password` is `user_id`'s, throttled per account (`RateLimited` beyond its
    /// budget, before any hash).
    async fn check_password(
        &self,
        user_id: &str,
        password: &SecretString,
    ) -> Result<bool, SecurityError> {
        let key = [ThrottleKey::Reauth(user_id.to_owned())];
        if let Err((_, retry_after)) = self.throttle.check(Door::Login, &key) {
            return Err(SecurityError::RateLimited { retry_after });
        }
        let account = self.accounts.find_by_id(user_id).await?;
        let stored = account.as_ref().map(|a| a.password_hash.as_str());
        // A signed-in session asks: the known lane, one check per account (`password.rs`).
        let hasher = self.accounts.hasher();
        Ok(hasher.verify_known(user_id, password, stored).await?)
    }

    /// The user's own recent security events, newest first.
    pub async fn recent_events(
        &self,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<AuthEvent>, Unexpected> {
        let filter = EventFilter {
            user_id: Some(user_id.to_owned()),
            limit,
            ..EventFilter::default()
        };
        Ok(self.events.list(&filter).await?)
    }
}
