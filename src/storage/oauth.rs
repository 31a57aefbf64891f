//! Storage records and traits for OAuth: clients, signing keys, and grants (authorization
//! codes, refresh-token families, revoked access tokens, consents).

use async_trait::async_trait;

use crate::storage::error::StoreError;

/// An OAuth client as stored. List fields are JSON arrays of strings.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientRecord {
    /// The client_id.
    pub id: String,
    /// SHA-256 (hex) of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs (JSON array).
    pub redirect_uris: String,
    /// Registered post-logout redirect URIs (JSON array).
    pub post_logout_redirect_uris: String,
    /// Allowed scopes (JSON array).
    pub scopes: String,
    /// Allowed grant types (JSON array).
    pub grants: String,
    /// Public (no secret, PKCE required).
    pub is_public: bool,
    /// Skips the consent page.
    pub is_first_party: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// A signing key as stored; the private key may be encrypted (see `domain::tokens::keys`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// JWS algorithm (`RS256`, `ES256`, `EdDSA`).
    pub alg: String,
    /// PKCS#8 DER, base64, possibly sealed with the master key.
    pub private_key: String,
    /// The public JWK (JSON).
    pub public_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// After this (unix seconds) the key is no longer published; `None` while active.
    pub retire_after: Option<i64>,
}

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
    /// Whether the token's `jti` was revoked.
    pub jti_revoked: bool,
    /// 1 if the token's grant exists and is not revoked, else 0.
    pub family_active: i64,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now spent.
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

/// OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Inserts a client; `Conflict` if the id is taken.
    async fn insert(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Finds by client_id.
    async fn find_by_id(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key not yet past `retire_after` at `now`, newest first.
    async fn list_published(&self, now: i64) -> Result<Vec<KeyRecord>, StoreError>;
    /// Inserts `new` keys and, in the same transaction, marks every active key to retire at
    /// `retire_after`.
    async fn rotate(&self, new: &[KeyRecord], retire_after: i64) -> Result<(), StoreError>;
}

/// Codes, refresh-token families, revoked access tokens, consents.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new code.
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError>;
    /// Spends a code atomically: exactly one caller gets `Redeemed`.
    async fn redeem_code(&self, code_hash: &str, now: i64) -> Result<CodeRedemption, StoreError>;
    /// Creates a family (and its first refresh token), linking it to the code it came from.
    async fn insert_family(
        &self,
        family: &FamilyRecord,
        refresh: Option<&RefreshRecord>,
        code_hash: Option<&str>,
    ) -> Result<(), StoreError>;
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
    /// Revokes every active grant of a user (after a password reset); how many.
    async fn revoke_user_families(&self, user_id: &str, now: i64) -> Result<u64, StoreError>;
    /// Revokes a family; `true` if it was active.
    async fn revoke_family(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Revokes an access token by `jti` until its expiry.
    async fn revoke_jti(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError>;
    /// The revocation state of an access token and its subject's email, in one query (the hot
    /// path of every bearer check). `sid` is the token's grant, if any.
    async fn bearer_state(
        &self,
        sub: &str,
        jti: &str,
        sid: Option<&str>,
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
