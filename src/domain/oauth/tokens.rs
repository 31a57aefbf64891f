//! Bearer tokens in use: validation for protected endpoints (every refusal recorded as
//! `token_rejected` with its reason, never the token), userinfo (OIDC Core §5.3), and what
//! clients may ask about tokens: introspection (RFC 7662) and `/risk/evaluate`, both for the
//! token's audience only, and revocation (RFC 7009) by the client it was issued to.

use serde_json::{Value, json};

use crate::domain::clients::ClientCredentials;
use crate::domain::clock::unix_ms;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::oauth::bearer_cache::{Lookup, SubjectInfo};
use crate::domain::oauth::error::{BearerError, OAuthError};
use crate::domain::oauth::{OAuthService, digest};
use crate::domain::tokens::jwt::{self, AccessClaims};
use crate::domain::tokens::rejection::{TokenRejection, Verified};
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::storage::oauth::BearerState;

/// Who an access token presented by a client is for.
pub(super) enum Audience {
    /// Not a valid access token (signature, claims).
    Invalid(TokenRejection),
    /// Valid, issued to the calling client.
    Caller(Box<AccessClaims>),
    /// Valid, issued to another client: the caller learns nothing about it.
    Other,
}

/// What a bearer check concludes from the token's state (`bearer_state_of`).
pub(super) fn revocation_verdict(
    claims: AccessClaims,
    state: BearerState,
) -> Verified<(AccessClaims, SubjectInfo)> {
    if state.jti_revoked {
        return Err(TokenRejection::Revoked);
    }
    if claims.sid.is_some() && state.family_active == 0 {
        return Err(TokenRejection::GrantRevoked);
    }
    // A deleted client's tokens die with it (`authd client delete`); a disabled one's are
    // refused while it is disabled, and those issued before it was disabled for good.
    if !state.client_active {
        return Err(TokenRejection::UnknownClient);
    }
    // A disabled account's tokens are refused even where no grant stands behind them.
    if state.subject_disabled_at.is_some() {
        return Err(TokenRejection::SubjectDisabled);
    }
    let subject = SubjectInfo {
        email: state.email,
        email_verified: state.email_verified,
        name: state.name,
        updated_at: state.profile_updated_at,
    };
    Ok((claims, subject))
}

impl OAuthService {
    /// Validates a token without recording anything: signature and claims, then revocation.
    async fn check_access(
        &self,
        token: &str,
    ) -> Result<Verified<(AccessClaims, SubjectInfo)>, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        match jwt::verify_access(&self.keys, token, &self.settings.issuer, now).await? {
            Ok(claims) => self.check_revocation(claims).await,
            Err(r) => Ok(Err(r)),
        }
    }

    /// One database round trip: is the token or its grant revoked, and the subject's email.
    pub(super) async fn check_revocation(
        &self,
        claims: AccessClaims,
    ) -> Result<Verified<(AccessClaims, SubjectInfo)>, Unexpected> {
        let state = self.bearer_state_of(&claims).await?;
        Ok(revocation_verdict(claims, state))
    }

    /// The token's revocation state, its subject's, and its client's, in one query.
    pub(super) async fn bearer_state_of(
        &self,
        claims: &AccessClaims,
    ) -> Result<BearerState, Unexpected> {
        Ok(self
            .grants
            .bearer_state(
                &claims.sub,
                &claims.jti,
                claims.sid.as_deref(),
                &claims.client_id,
                claims.iat,
            )
            .await?)
    }

    /// Records a refused bearer token (`token_rejected`, the reason as its decision).
    async fn reject(
        &self,
        ctx: &RequestContext,
        client_id: &str,
        reason: TokenRejection,
    ) -> Result<(), Unexpected> {
        let e = self
            .event(EventKind::TokenRejected, ctx, client_id, None)
            .decision_as(Decision::BearerRejected, reason.as_str());
        Ok(self.events.record(e).await?)
    }

    /// Validates a bearer token for a protected endpoint.
    pub async fn authenticate_bearer(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<AccessClaims, BearerError> {
        Ok(self.bearer(ctx, token).await?.0)
    }

    /// A bearer check for the admin API: a client-credentials token (the client acting for
    /// itself, never a user's) carrying the `admin` scope, of a client that holds `admin` now
    /// (read on every call: the token's scope says what the client held when it was issued,
    /// and an operator who takes `admin` away must not wait out the token's lifetime).
    pub async fn authenticate_admin(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<AccessClaims, BearerError> {
        let claims = self.authenticate_bearer(ctx, token).await?;
        if !claims.has_scope("admin") || claims.sub != claims.client_id {
            return Err(BearerError::InsufficientScope);
        }
        let client = self.clients.find(&claims.client_id).await?;
        if !client.is_some_and(|c| c.scopes.contains("admin")) {
            return Err(BearerError::InsufficientScope);
        }
        Ok(claims)
    }

    /// A bearer check for a protected endpoint, answered from the short-lived cache when this
    /// instance passed the same token a moment ago.
    async fn bearer(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<(AccessClaims, SubjectInfo), BearerError> {
        let at = self.clock.now();
        let (now, now_ms) = (at.unix_timestamp(), unix_ms(at));
        // A `Refresh` is checked in full like a miss; meanwhile other requests still hit.
        if let Lookup::Hit(claims, subject) = self.bearer_cache.get(token, now_ms) {
            return Ok((claims, subject));
        }
        let checked =
            match jwt::verify_access(&self.keys, token, &self.settings.issuer, now).await? {
                Ok(claims) => self.check_revocation(claims).await?,
                Err(reason) => Err(reason),
            };
        match checked {
            Ok((claims, subject)) => {
                self.bearer_cache.put(token, now_ms, &claims, &subject);
                Ok((claims, subject))
            }
            Err(reason) => {
                self.bearer_cache.forget(token);
                self.reject(ctx, "", reason).await?;
                Err(BearerError::InvalidToken(reason))
            }
        }
    }

    /// The userinfo claims for a token carrying `openid`.
    pub async fn userinfo(&self, ctx: &RequestContext, token: &str) -> Result<Value, BearerError> {
        let (claims, subject) = self.bearer(ctx, token).await?;
        if !claims.has_scope("openid") || claims.sub == claims.client_id {
            return Err(BearerError::InsufficientScope);
        }
        let Some(email) = subject.email else {
            let reason = TokenRejection::UnknownSubject;
            self.reject(ctx, &claims.client_id, reason).await?;
            return Err(BearerError::InvalidToken(reason));
        };
        // Scored against the owner's usual contexts; recorded when it looks wrong (the answer
        // itself is not refused: the resource server decides, see /risk/evaluate).
        self.score_use(
            ctx,
            "userinfo",
            &claims.client_id,
            &claims.sub,
            &claims.jti,
            false,
        )
        .await?;
        let mut out = json!({ "sub": claims.sub });
        if claims.has_scope("email")
            && let Some(obj) = out.as_object_mut()
        {
            obj.insert("email".into(), json!(email));
            obj.insert("email_verified".into(), json!(subject.email_verified));
        }
        // OIDC Core §5.4: the `profile` scope's claims authd holds.
        if claims.has_scope("profile")
            && let Some(obj) = out.as_object_mut()
        {
            if let Some(name) = subject.name {
                obj.insert("name".into(), json!(name));
            }
            if let Some(updated_at) = subject.updated_at {
                obj.insert("updated_at".into(), json!(updated_at));
            }
        }
        Ok(out)
    }

    /// `POST /risk/evaluate`: `caller` is the resource server's bearer token (a
    /// client-credentials token of a confidential client); `token` the access token it saw,
    /// used from `seen` (the IP and user agent it reports). An invalid token scores 1. Only
    /// the token's audience may ask about it: any other caller gets `NotTheAudience` (403)
    /// before anything is scored, remembered or written, so an unrelated client can neither
    /// learn the owner's usual contexts nor raise the token's risk nor write on their account.
    pub async fn evaluate_risk(
        &self,
        ctx: &RequestContext,
        caller: &str,
        token: &str,
        seen: &RequestContext,
    ) -> Result<Value, BearerError> {
        let (caller, _) = self.bearer(ctx, caller).await?;
        let client = self
            .clients
            .find(&caller.client_id)
            .await?
            .ok_or(BearerError::InvalidToken(TokenRejection::UnknownClient))?;
        if caller.sub != caller.client_id || client.is_public {
            return Err(BearerError::NotTheAudience);
        }
        let checked = match self.verify_for(&client.id, token).await? {
            Audience::Other => return Err(BearerError::NotTheAudience),
            Audience::Invalid(reason) => Err(reason),
            Audience::Caller(claims) => self.check_revocation(*claims).await?,
        };
        let answer = |score: f64, decision: &str, reasons: Vec<String>| json!({ "score": score, "decision": decision, "reasons": reasons });
        match checked {
            Err(reason) => {
                let why = self
                    .invalid_token_evaluated(seen, &client.id, reason)
                    .await?;
                Ok(answer(1.0, "block", vec![why]))
            }
            Ok((claims, _)) if claims.sub == claims.client_id => Ok(answer(
                0.0,
                "allow",
                vec!["a client's own token: no user context to compare".into()],
            )),
            Ok((claims, _)) => {
                let scored = self
                    .score_use(seen, "risk_api", &client.id, &claims.sub, &claims.jti, true)
                    .await?;
                let (score, reasons, verdict) = scored.unwrap_or((
                    0.0,
                    vec!["risk engine not configured".into()],
                    crate::domain::risk::Verdict::Allow,
                ));
                let score = (score * 10_000.0).round() / 10_000.0;
                // A challenge the token's own sign-in did not already answer with a second
                // factor: the resource server should send the user through the step-up
                // (RFC 9470), asking for this `acr`.
                let weak = claims.acr.as_deref() != Some(crate::domain::mfa::ACR_MFA);
                if verdict == crate::domain::risk::Verdict::Challenge && weak {
                    return Ok(json!({
                        "score": score,
                        "decision": "step_up",
                        "reasons": reasons,
                        "acr": crate::domain::mfa::ACR_MFA,
                    }));
                }
                Ok(answer(score, verdict.as_str(), reasons))
            }
        }
    }

    /// Records that `/risk/evaluate` was asked about a token that is not valid; the reason.
    async fn invalid_token_evaluated(
        &self,
        seen: &RequestContext,
        caller_id: &str,
        reason: TokenRejection,
    ) -> Result<String, Unexpected> {
        let why = format!("the token is not valid ({reason})");
        let e = self
            .event(EventKind::RiskEvaluated, seen, caller_id, None)
            .decision_detail(Decision::RiskApiInvalidToken, &format!("token {reason}"))
            .risk(Some(crate::events::Risk {
                score: 1.0,
                reasons: vec![why.clone()],
                features: None,
            }));
        self.events.record(e).await?;
        Ok(why)
    }

    /// An access token's signature and claims, and whether `caller_id` is its audience
    /// (revocation is checked after, by the caller of this).
    pub(super) async fn verify_for(
        &self,
        caller_id: &str,
        token: &str,
    ) -> Result<Audience, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(
            match jwt::verify_access(&self.keys, token, &self.settings.issuer, now).await? {
                Err(reason) => Audience::Invalid(reason),
                // `verify_access` holds `aud == client_id`: the client it was issued to.
                Ok(claims) if claims.aud != caller_id => Audience::Other,
                Ok(claims) => Audience::Caller(Box::new(claims)),
            },
        )
    }

    /// RFC 7009: revokes a refresh token (with its whole grant) or an access token, if it was
    /// issued to the calling client. Unknown tokens are not an error.
    pub async fn revoke(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<(), OAuthError> {
        let client = self.authenticate_client(ctx, creds).await?;
        let now = self.clock.now().unix_timestamp();
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Ok(());
        }
        if let Some((_, family)) = self.grants.find_refresh(&digest(token)).await? {
            if family.client_id == client.id && self.revoke_family(&family.id, now).await? {
                self.record(
                    EventKind::TokenRevoked,
                    ctx,
                    &client.id,
                    Some(&family.user_id),
                    Decision::RevokedRefreshToken,
                )
                .await?;
            }
            return Ok(());
        }
        if let Ok((c, _)) = self.check_access(token).await?
            && c.client_id == client.id
        {
            self.grants.revoke_jti(&c.jti, c.exp, now).await?;
            // This token only: a client revoking its own tokens must not empty the cache every
            // other client's traffic rides on.
            self.bearer_cache.forget(token);
            let user = (c.sub != c.client_id).then_some(c.sub.as_str());
            self.record(
                EventKind::TokenRevoked,
                ctx,
                &client.id,
                user,
                Decision::RevokedAccessToken,
            )
            .await?;
        }
        Ok(())
    }
}
