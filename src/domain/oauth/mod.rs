//! The OAuth 2.0 / OpenID Connect provider: authorization requests and codes, the three grants,
//! bearer-token validation, userinfo, introspection (RFC 7662) and revocation (RFC 7009).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::accounts::service::AccountService;
use crate::domain::clients::{Client, ClientService, hex_lower, scope_string};
use crate::domain::clock::{Clock, Random};
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::mfa::acr_of;
use crate::domain::risk::Verdict;
use crate::domain::throttle::Throttle;
use crate::domain::tokens::alg::SigningAlg;
use crate::domain::tokens::jwt::{self, AccessClaims, IdClaims};
use crate::domain::tokens::keys::KeyRing;
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventKind};
use crate::storage::oauth::GrantStore;

/// Authorization requests, consent and codes.
pub mod authorize;
/// A short-lived cache of passed bearer checks.
mod bearer_cache;
/// `authd client list|update|rotate-secret|delete`.
pub mod client_admin;
/// Client authentication and the limit on its failures.
mod client_auth;
/// RP-initiated logout.
pub mod end_session;
/// `OAuthError`, `BearerError`, `ClientError` and the RFC error codes.
pub mod error;
/// The token endpoint's grants.
pub mod grants;
/// Introspection (RFC 7662): one round trip for a client asking about its own access token.
mod introspection;
/// The `prompt`/`max_age` policy and the server-side re-authentication mark.
pub mod prompt;
/// Bearer validation, userinfo, introspection, revocation.
pub mod tokens;

/// Token lifetimes and formats.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of every token.
    pub issuer: String,
    /// Access-token lifetime (seconds).
    pub access_ttl: i64,
    /// ID-token lifetime (seconds).
    pub id_ttl: i64,
    /// Authorization-code lifetime (seconds).
    pub code_ttl: i64,
    /// A refresh token unused this long expires (seconds).
    pub refresh_idle: i64,
    /// A grant's refresh tokens all end this long after sign-in (seconds).
    pub refresh_lifetime: i64,
    /// Access-token signing algorithm.
    pub access_alg: SigningAlg,
    /// Seconds a passed bearer check is reused on this instance (0: never).
    pub bearer_cache_secs: i64,
    /// Failed client authentications allowed per minute per (client id, network).
    pub auth_failures_per_minute: u32,
}

/// The token endpoint's success response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Granted scope.
    pub scope: String,
    /// A refresh token, for clients holding the `refresh_token` grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The OAuth provider.
#[derive(Clone)]
pub struct OAuthService {
    pub(crate) clients: ClientService,
    pub(crate) accounts: AccountService,
    pub(crate) grants: Arc<dyn GrantStore>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) events: EventSink,
    pub(crate) settings: TokenSettings,
    pub(crate) bearer_cache: Arc<bearer_cache::BearerCache>,
    pub(crate) throttle: Throttle,
    pub(crate) auth_failures: Arc<client_auth::AuthFailures>,
    pub(crate) risk: Option<crate::domain::risk::service::RiskService>,
}

/// Clears this instance's bearer cache (`bearer_cache.rs`) after a revocation made outside
/// `OAuthService`, so it holds at once here (other instances see it within the cache's TTL).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct BearerCacheClear(Arc<bearer_cache::BearerCache>);

impl BearerCacheClear {
    /// Drops every cached bearer check.
    pub fn now(&self) {
        self.0.clear();
    }
}

impl std::fmt::Debug for OAuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OAuthService")
    }
}

/// SHA-256 (hex) of an opaque token or code: only digests are stored.
pub fn digest(token: &str) -> String {
    hex_lower(&Sha256::digest(token.as_bytes()))
}

/// Who a set of tokens is for.
pub(crate) struct Subject<'a> {
    pub user_id: &'a str,
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176).
    pub amr: Vec<String>,
    pub nonce: Option<&'a str>,
    pub family_id: Option<&'a str>,
}

impl OAuthService {
    /// Builds the provider.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        clients: ClientService,
        accounts: AccountService,
        grants: Arc<dyn GrantStore>,
        keys: Arc<KeyRing>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        events: EventSink,
        settings: TokenSettings,
        throttle: Throttle,
    ) -> Self {
        let bearer_cache = Arc::new(bearer_cache::BearerCache::new(settings.bearer_cache_secs));
        let auth_failures = Arc::new(client_auth::AuthFailures::new(
            settings.auth_failures_per_minute,
        ));
        Self {
            clients,
            accounts,
            grants,
            keys,
            clock,
            random,
            events,
            settings,
            bearer_cache,
            throttle,
            auth_failures,
            risk: None,
        }
    }

    /// Scores token use (userinfo, refresh grants, `/risk/evaluate`) with the risk engine.
    #[must_use]
    pub fn with_risk(mut self, risk: crate::domain::risk::service::RiskService) -> Self {
        self.risk = Some(risk);
        self
    }

    /// Scores a user token's use in `ctx`; records `risk_evaluated` (with `what` in the
    /// decision) when the verdict is not `allow` or when `always`. Without `always`, a use from
    /// a network this token was already seen from is not scored again (`None`).
    pub(crate) async fn score_use(
        &self,
        ctx: &RequestContext,
        what: &str,
        client_id: &str,
        user_id: &str,
        token_id: &str,
        always: bool,
    ) -> Result<Option<(f64, Vec<String>, Verdict)>, Unexpected> {
        let Some(risk) = &self.risk else {
            return Ok(None);
        };
        let Some((score, reasons, verdict)) = risk
            .assess_token_use(user_id, token_id, ctx, always)
            .await?
        else {
            return Ok(None);
        };
        if always || verdict != Verdict::Allow {
            let decision = match verdict {
                Verdict::Allow => Decision::TokenUseAllow,
                Verdict::Challenge => Decision::TokenUseChallenge,
                Verdict::Block => Decision::TokenUseBlock,
            };
            let e = self
                .event(EventKind::RiskEvaluated, ctx, client_id, Some(user_id))
                .decision_as(decision, format!("{what}:{}", verdict.as_str()))
                .risk(Some(crate::events::Risk {
                    score: (score * 10_000.0).round() / 10_000.0,
                    reasons: reasons.clone(),
                    features: None,
                }));
            self.events.record(e).await?;
        }
        Ok(Some((score, reasons, verdict)))
    }

    /// The key ring (JWKS, rotation).
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// The clients.
    pub fn clients(&self) -> &ClientService {
        &self.clients
    }

    /// Token settings (for discovery).
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Mints an access token (and an ID token when `openid` is in `scopes` and a user signed
    /// in) for `client`, and wraps them with `refresh_token` into the token response.
    pub(crate) async fn mint(
        &self,
        client: &Client,
        scopes: &BTreeSet<String>,
        subject: Option<Subject<'_>>,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, Unexpected> {
        let (access_token, id_token) = self.sign_tokens(client, scopes, subject).await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.access_ttl,
            scope: scope_string(scopes),
            refresh_token,
            id_token,
        })
    }

    async fn sign_tokens(
        &self,
        client: &Client,
        scopes: &BTreeSet<String>,
        subject: Option<Subject<'_>>,
    ) -> Result<(String, Option<String>), Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: subject
                .as_ref()
                .map_or_else(|| client.id.clone(), |s| s.user_id.to_owned()),
            aud: client.id.clone(),
            exp: now + self.settings.access_ttl,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: client.id.clone(),
            scope: scope_string(scopes),
            auth_time: subject.as_ref().map(|s| s.auth_time),
            acr: subject.as_ref().map(|s| acr_of(&s.amr).to_owned()),
            sid: subject
                .as_ref()
                .and_then(|s| s.family_id.map(str::to_owned)),
        };
        let access = jwt::sign_access(&self.keys, self.settings.access_alg, &claims)?;
        let Some(subject) = subject.filter(|_| scopes.contains("openid")) else {
            return Ok((access, None));
        };
        let (with_email, with_profile) = (scopes.contains("email"), scopes.contains("profile"));
        let account = if with_email || with_profile {
            self.accounts.find_by_id(subject.user_id).await?
        } else {
            None
        };
        let email_account = account.as_ref().filter(|_| with_email);
        let email_verified = email_account.map(|a| a.email_verified_at.is_some());
        let email = email_account.map(|a| a.email.clone());
        // OIDC Core §5.1/§5.4: the `profile` scope's claims authd holds.
        let profile = account.as_ref().filter(|_| with_profile);
        let name = profile.and_then(|a| a.name.clone());
        let updated_at = profile.map(|a| a.profile_updated_at);
        let id = IdClaims {
            iss: self.settings.issuer.clone(),
            sub: subject.user_id.to_owned(),
            aud: client.id.clone(),
            azp: client.id.clone(),
            exp: now + self.settings.id_ttl,
            iat: now,
            auth_time: subject.auth_time,
            nonce: subject.nonce.map(str::to_owned),
            at_hash: Some(jwt::at_hash(&access)),
            acr: acr_of(&subject.amr).to_owned(),
            amr: subject.amr.clone(),
            sid: subject.family_id.map(str::to_owned),
            email_verified,
            email,
            name,
            updated_at,
        };
        Ok((access, Some(jwt::sign_id(&self.keys, &id)?)))
    }

    /// What services that revoke grants themselves (sign-out everywhere, "wasn't me", a
    /// password change or reset) clear this instance's bearer cache with.
    pub fn bearer_cache_clear(&self) -> BearerCacheClear {
        BearerCacheClear(self.bearer_cache.clone())
    }

    /// Revokes a grant (and so every token of it); this instance's bearer cache forgets them.
    pub(crate) async fn revoke_family(&self, id: &str, now: i64) -> Result<bool, Unexpected> {
        let revoked = self.grants.revoke_family(id, now).await?;
        // One pass over the cache, only when this call revoked it (a client repeating the
        // revocation of a revoked grant costs no scan).
        if revoked {
            self.bearer_cache.forget_grant(id);
        }
        Ok(revoked)
    }

    /// Records a token event for `client_id` with a `decision` of fixed text.
    pub(crate) async fn record(
        &self,
        kind: EventKind,
        ctx: &RequestContext,
        client_id: &str,
        user_id: Option<&str>,
        decision: Decision,
    ) -> Result<(), Unexpected> {
        let e = self.event(kind, ctx, client_id, user_id).decision(decision);
        Ok(self.events.record(e).await?)
    }

    /// An OAuth event (without its decision); the client id (attacker-controlled before
    /// authentication) is cleaned of control characters and bounded.
    pub(crate) fn event(
        &self,
        kind: EventKind,
        ctx: &RequestContext,
        client_id: &str,
        user_id: Option<&str>,
    ) -> AuthEvent {
        let mut e = AuthEvent::new(kind, ctx, self.clock.now());
        e.client_id = (!client_id.is_empty()).then(|| {
            client_id
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect()
        });
        match user_id {
            Some(u) => e.user(u),
            None => e,
        }
    }
}
