//! Grants: authorization codes, refresh-token families, revoked access tokens and consents —
//! the records, the `GrantStore` trait and its SQL, one text for both engines. The writes of
//! several statements (code redemption, refresh rotation, a family started from a code) are in
//! `transactions.rs`.

use async_trait::async_trait;

use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// The grant writes of several statements, each one transaction.
pub(crate) mod transactions;

/// An authorization code (stored by hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeRecord {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    /// Client it was issued to.
    pub client_id: String,
    /// User who authorised.
    pub user_id: String,
    /// The redirect URI of the request, to be matched at redemption.
    pub redirect_uri: String,
    /// Granted scope (space-separated).
    pub scope: String,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the user authenticated (unix seconds).
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 `amr`, a JSON list; `None`: a password).
    #[sqlx(default)]
    pub amr: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// The token family issued from this code (set at redemption).
    pub family_id: Option<String>,
    /// When redeemed.
    pub used_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A grant: the tokens issued from one authorization, revoked together.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FamilyRecord {
    /// Family id (UUID); carried as `sid` in the tokens.
    pub id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// Granted scope.
    pub scope: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 `amr`, a JSON list; `None`: a password).
    #[sqlx(default)]
    pub amr: Option<String>,
    /// Absolute end of the family (unix seconds).
    pub expires_at: i64,
    /// When revoked.
    pub revoked_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A refresh token (stored by hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshRecord {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// Its family.
    pub family_id: String,
    /// Idle expiry (unix seconds).
    pub expires_at: i64,
    /// When rotated (used).
    pub used_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Everything a bearer check needs from the database, read in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BearerState {
    /// The subject's email, when the subject is an account.
    pub email: Option<String>,
    /// Whether the subject's address was verified (false when the subject is no account).
    pub email_verified: bool,
    /// Whether the token's `jti` was revoked.
    pub jti_revoked: bool,
    /// 1 if the token's grant exists and is not revoked, else 0.
    pub family_active: i64,
    /// Whether the client the token was issued to is still registered, is not disabled, and
    /// was not disabled after the token was issued (`client.tokens_revoked_at`; a client added
    /// again under a deleted one's id starts with it at the deletion, so the tokens issued to
    /// the one deleted do not come back).
    pub client_active: bool,
    /// The subject's name (OIDC `name`), when set.
    pub name: Option<String>,
    /// When the subject's profile last changed (else when the account was made), unix seconds.
    pub profile_updated_at: Option<i64>,
    /// When the subject's account was disabled, if it is.
    pub subject_disabled_at: Option<i64>,
    /// The secret digest of the client the token was issued to, while that client is
    /// confidential and enabled: introspection authenticates its caller, the token's audience,
    /// against it in this same round trip.
    pub client_secret_hash: Option<String>,
}

/// The grant a code's redemption starts, in the same transaction that spends the code: from
/// that moment a replay of the code finds a grant to revoke, even while the first exchange is
/// still issuing its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantStart {
    /// The new family's id (carried as `sid` in its tokens).
    pub family_id: String,
    /// Its absolute end (unix seconds).
    pub expires_at: i64,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now spent and its grant (`family_id`) exists.
    Redeemed(CodeRecord),
    /// Already spent before.
    AlreadyUsed(CodeRecord),
    /// No such code.
    NotFound,
}

/// The outcome of rotating a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// This caller won: the old token is spent and `new` is stored.
    Rotated,
    /// The token had been used already (or another caller won the race).
    Reused,
    /// No such token.
    NotFound,
}

/// Codes, refresh-token families, revoked access tokens, consents.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new code.
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError>;
    /// Spends a code atomically and, in the same transaction, creates the grant it starts
    /// (the code's client, user, scope and sign-in time, with `start`'s id and end) and links
    /// the code to it: exactly one caller gets `Redeemed`, and every later caller finds the
    /// grant in `AlreadyUsed`.
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        start: &GrantStart,
    ) -> Result<CodeRedemption, StoreError>;
    /// Stores a family's first refresh token.
    async fn insert_refresh(&self, refresh: &RefreshRecord) -> Result<(), StoreError>;
    /// A refresh token and its family.
    async fn find_refresh(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRecord, FamilyRecord)>, StoreError>;
    /// Spends `old_hash` and stores `new` in one transaction; exactly one concurrent caller
    /// gets `Rotated`.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new: &RefreshRecord,
        now: i64,
    ) -> Result<Rotation, StoreError>;
    /// A family by id.
    async fn find_family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError>;
    /// Revokes every active grant of a user (a password reset or change, "wasn't me", "sign
    /// out everywhere", `authd user revoke`) and, in the same transaction, spends the user's
    /// codes not yet exchanged (one issued just before would otherwise still redeem into a new
    /// grant); how many grants.
    async fn revoke_user_families(&self, user_id: &str, now: i64) -> Result<u64, StoreError>;
    /// Revokes a family; `true` if it was active.
    async fn revoke_family(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Revokes an access token by `jti` until its expiry.
    async fn revoke_jti(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError>;
    /// The revocation state of an access token and its subject's email, in one query (the hot
    /// path of every bearer check). `sid` is the token's grant, if any; `client_id` the client
    /// it was issued to; `issued_at` its `iat`.
    async fn bearer_state(
        &self,
        sub: &str,
        jti: &str,
        sid: Option<&str>,
        client_id: &str,
        issued_at: i64,
    ) -> Result<BearerState, StoreError>;
    /// The scopes (JSON array) a user consented to for a client.
    async fn find_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Records (or widens) a consent.
    async fn upsert_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &str,
        now: i64,
    ) -> Result<(), StoreError>;
}

#[async_trait]
impl GrantStore for Backend {
    async fn insert_code(&self, c: &CodeRecord) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into auth_code (code_hash, client_id, user_id, redirect_uri, scope, nonce, \
                 code_challenge, auth_time, expires_at, family_id, used_at, created_at, amr) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, null, null, $10, $11)",
            )
            .bind(&c.code_hash)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.redirect_uri)
            .bind(&c.scope)
            .bind(&c.nonce)
            .bind(&c.code_challenge)
            .bind(c.auth_time)
            .bind(c.expires_at)
            .bind(c.created_at)
            .bind(&c.amr)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        start: &GrantStart,
    ) -> Result<CodeRedemption, StoreError> {
        transactions::redeem_code(self, code_hash, now, start).await
    }

    async fn insert_refresh(&self, r: &RefreshRecord) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(transactions::INSERT_REFRESH)
                .bind(&r.token_hash)
                .bind(&r.family_id)
                .bind(r.expires_at)
                .bind(r.created_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn find_refresh(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRecord, FamilyRecord)>, StoreError> {
        let refresh: Option<RefreshRecord> = on_pool!(self.pool(), |p| sqlx::query_as(
            "select token_hash, family_id, expires_at, used_at, created_at \
             from refresh_token where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(p)
        .await?);
        Ok(match refresh {
            Some(r) => self.find_family(&r.family_id).await?.map(|f| (r, f)),
            None => None,
        })
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new: &RefreshRecord,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        transactions::rotate_refresh(self, old_hash, new, now).await
    }

    async fn find_family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
        Ok(on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "select id, client_id, user_id, scope, auth_time, amr, expires_at, revoked_at, created_at \
             from token_family where id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
        }))
    }

    async fn revoke_user_families(&self, user_id: &str, now: i64) -> Result<u64, StoreError> {
        transactions::revoke_user_since(self, user_id, i64::MIN, now).await
    }

    async fn revoke_family(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update token_family set revoked_at = $2 where id = $1 and revoked_at is null",
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected())
            == 1)
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into revoked_token (jti, expires_at, created_at) values ($1, $2, $3) \
                 on conflict (jti) do nothing",
            )
            .bind(jti)
            .bind(expires_at)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn bearer_state(
        &self,
        sub: &str,
        jti: &str,
        sid: Option<&str>,
        client_id: &str,
        issued_at: i64,
    ) -> Result<BearerState, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select a.email as email, \
             (a.email_verified_at is not null) as email_verified, \
             exists(select 1 from revoked_token where jti = $2) as jti_revoked, \
             (select count(*) from token_family where id = $3 and revoked_at is null) \
             as family_active, \
             (c.id is not null and c.disabled_at is null \
             and (c.tokens_revoked_at is null or c.tokens_revoked_at < $5)) as client_active, \
             a.name as name, \
             coalesce(a.profile_updated_at, a.created_at) as profile_updated_at, \
             a.disabled_at as subject_disabled_at, \
             case when c.disabled_at is null and not c.is_public then c.secret_hash end \
             as client_secret_hash \
             from (select 1 as one) o left join account a on a.id = $1 \
             left join client c on c.id = $4",
        )
        .bind(sub)
        .bind(jti)
        .bind(sid)
        .bind(client_id)
        .bind(issued_at)
        .fetch_one(p)
        .await?))
    }

    async fn find_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select scopes from consent where user_id = $1 and client_id = $2",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(p)
        .await?))
    }

    async fn upsert_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into consent (user_id, client_id, scopes, created_at) \
                 values ($1, $2, $3, $4) \
                 on conflict (user_id, client_id) do update set scopes = excluded.scopes",
            )
            .bind(user_id)
            .bind(client_id)
            .bind(scopes)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
