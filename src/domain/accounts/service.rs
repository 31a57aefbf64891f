//! Creating and finding accounts. Registration hashes before it looks at the database, so a
//! taken email costs the same time as a new one.

use std::sync::Arc;

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::domain::accounts::error::AccountError;
use crate::domain::accounts::model::{Account, Email, Password, parse_name};
use crate::domain::accounts::password::{HashError, PasswordHasher};
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::tasks::Background;
use crate::domain::throttle::{Door, Throttle, ThrottleKey};
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventKind};
use crate::storage::error::StoreError;
use crate::storage::{AccountRecord, AccountStore};

/// `InvalidInput`'s text for an address that is not one (the form ties it to the email field;
/// every other `InvalidInput` of `create` is about the password).
pub const INVALID_EMAIL: &str = "Enter a valid email address.";

/// A new password, checked and hashed (`AccountService::hash_password`), not yet stored.
pub struct NewPassword(String);

/// Account creation and lookup.
#[derive(Clone)]
pub struct AccountService {
    store: Arc<dyn AccountStore>,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    events: EventSink,
    throttle: Throttle,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountService")
    }
}

/// Who creates an account: a visitor on `/register`, or an operator on the command line.
#[derive(Debug)]
pub enum Origin<'a> {
    /// Self-service registration, with the request context for the event.
    Web(&'a RequestContext),
    /// `authd user add`.
    Cli,
}

impl AccountService {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn AccountStore>,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
        events: EventSink,
        throttle: Throttle,
    ) -> Self {
        Self {
            store,
            hasher,
            clock,
            events,
            throttle,
        }
    }

    /// The hashing pool (shared with login).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates an account. `EmailTaken` if the email is registered already; callers facing the
    /// public must not reveal that.
    pub async fn create(
        &self,
        email: &str,
        password: SecretString,
        is_admin: bool,
        origin: Origin<'_>,
    ) -> Result<Account, AccountError> {
        if let Origin::Web(ctx) = origin
            && let Err((key, retry_after)) = self
                .throttle
                .check(Door::Register, &ThrottleKey::nets(ctx.ip))
        {
            let event = AuthEvent::new(EventKind::RateLimited, ctx, self.clock.now())
                .decision(key.dimension());
            self.events.record(event).await?;
            return Err(AccountError::RateLimited { retry_after });
        }
        let email = Email::parse(email).ok_or(AccountError::InvalidInput(INVALID_EMAIL))?;
        let password = Password::parse(password).map_err(AccountError::InvalidInput)?;
        let hash = self.hasher.hash(password.secret()).await?;
        let now = self.clock.now();
        let record = AccountRecord {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.as_str().to_owned(),
            password_hash: hash,
            is_admin,
            created_at: now.unix_timestamp(),
            updated_at: now.unix_timestamp(),
            session_epoch: 0,
            // An operator vouches for the address; a visitor proves it with the mailed link.
            email_verified_at: matches!(origin, Origin::Cli).then_some(now.unix_timestamp()),
            require_mfa: false,
            name: None,
            profile_updated_at: None,
            disabled_at: None,
        };
        match self.store.insert(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Err(AccountError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        if let Origin::Web(ctx) = origin {
            let event = AuthEvent::new(EventKind::UserRegistered, ctx, now)
                .user(&record.id)
                .username(email.as_str());
            self.events.record(event).await?;
        }
        Ok(account_from(record)?)
    }

    /// The account's current session epoch; `None` if it no longer exists or may not sign in
    /// (disabled): every session of it is then dead.
    pub async fn session_epoch(&self, id: &str) -> Result<Option<i64>, Unexpected> {
        let standing = self.store.session_standing(id).await?;
        Ok(standing.and_then(|(epoch, disabled_at)| disabled_at.is_none().then_some(epoch)))
    }

    /// Checks a new password (8–128 characters) for account `id`, whose holder proved the
    /// right to set it, and hashes it (`PasswordHasher::hash_known`) for `store_password`: a
    /// caller spending something to set it (a reset link) hashes first, so a busy pool answers
    /// before anything is spent.
    pub async fn hash_password(
        &self,
        id: &str,
        password: SecretString,
    ) -> Result<NewPassword, AccountError> {
        let password = Password::parse(password).map_err(AccountError::InvalidInput)?;
        let hash = self.hasher.hash_known(id, password.secret()).await?;
        Ok(NewPassword(hash))
    }

    /// Stores a new password hashed by `hash_password` and ends every session of the account.
    pub async fn store_password(&self, id: &str, hash: &NewPassword) -> Result<(), AccountError> {
        let now = self.clock.now().unix_timestamp();
        Ok(self.store.update_password(id, &hash.0, now).await?)
    }

    /// After `password` verified against `account`'s stored hash: when that hash was made at
    /// another cost than today's (`PasswordHasher::needs_rehash`), hashes the password again at
    /// today's cost and stores it, in `background` (the sign-in does not wait for the second
    /// hash). Best effort: a busy pool or a password changed meanwhile leaves the old hash for
    /// the next sign-in; a failure is logged.
    pub fn upgrade_hash_later(
        &self,
        background: &Background,
        account: &Account,
        password: &SecretString,
    ) {
        if !self.hasher.needs_rehash(&account.password_hash) {
            return;
        }
        let (me, id, old) = (
            self.clone(),
            account.id.clone(),
            account.password_hash.clone(),
        );
        let password = password.clone();
        background.spawn(async move {
            let new = match me.hasher.hash(&password).await {
                Ok(new) => new,
                Err(HashError::Busy { .. }) => return,
                Err(HashError::Unexpected(e)) => {
                    tracing::warn!(error = %e, "could not hash a password again at today's cost");
                    return;
                }
            };
            if let Err(e) = me.store.replace_password_hash(&id, &old, &new).await {
                tracing::warn!(error = %e, "could not store a password hashed at today's cost");
            }
        });
    }

    /// Ends every session of the account (the session epoch moves on).
    pub async fn end_sessions(&self, id: &str) -> Result<(), Unexpected> {
        Ok(self
            .store
            .end_sessions(id, self.clock.now().unix_timestamp())
            .await?)
    }

    /// Marks the account's address verified; `true` if it was not yet.
    pub async fn mark_email_verified(&self, id: &str) -> Result<bool, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(self.store.mark_email_verified(id, now).await?)
    }

    /// Sets the owner's "second factor at every sign-in" setting.
    pub async fn set_require_mfa(&self, id: &str, on: bool) -> Result<(), Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(self.store.set_require_mfa(id, on, now).await?)
    }

    /// Finds an account by its id.
    pub async fn find_by_id(&self, id: &str) -> Result<Option<Account>, Unexpected> {
        self.store
            .find_by_id(id)
            .await?
            .map(account_from)
            .transpose()
    }

    /// Sets (or, with an empty field, clears) the owner's name; the profile's `updated_at`
    /// moves to now; one `profile_updated` event.
    pub async fn set_name(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        raw: &str,
    ) -> Result<Option<String>, AccountError> {
        let name = parse_name(raw).map_err(AccountError::InvalidInput)?;
        let now = self.clock.now();
        self.store
            .set_name(user_id, name.as_deref(), now.unix_timestamp())
            .await?;
        let event = AuthEvent::new(EventKind::ProfileUpdated, ctx, now)
            .user(user_id)
            .decision_detail(Decision::ProfileChangedByOwner, "name");
        self.events.record(event).await?;
        Ok(name)
    }

    /// Clears the account's name (no event: the caller's own records the change).
    pub async fn clear_name(&self, id: &str) -> Result<(), Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(self.store.set_name(id, None, now).await?)
    }

    /// Finds an account by its id if it may sign in (`Account::may_sign_in`): what a grant
    /// redeemed or refreshed for it asks.
    pub async fn find_active_by_id(&self, id: &str) -> Result<Option<Account>, Unexpected> {
        Ok(self.find_by_id(id).await?.filter(Account::may_sign_in))
    }

    /// Finds an account by (unnormalised) email; `None` for an invalid address.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<Account>, Unexpected> {
        let Some(email) = Email::parse(email) else {
            return Ok(None);
        };
        self.store
            .find_by_email(email.as_str())
            .await?
            .map(account_from)
            .transpose()
    }
}

pub(crate) fn account_from(r: AccountRecord) -> Result<Account, Unexpected> {
    let created_at = OffsetDateTime::from_unix_timestamp(r.created_at)
        .map_err(|e| Unexpected(anyhow::anyhow!("account created_at: {e}")))?;
    Ok(Account {
        id: r.id,
        email: r.email,
        password_hash: r.password_hash,
        is_admin: r.is_admin,
        created_at,
        session_epoch: r.session_epoch,
        email_verified_at: r
            .email_verified_at
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
        require_mfa: r.require_mfa,
        profile_updated_at: r.profile_updated_at.unwrap_or(r.created_at),
        name: r.name,
        disabled_at: r
            .disabled_at
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
    })
}
