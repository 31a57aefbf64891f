//! Introspection (RFC 7662): a confidential client may ask about the tokens issued to it (it is
//! their audience); any other token is `active: false`, exactly as an unknown one.
//!
//! The common question, a client asking about its own access token, takes one database round
//! trip: the token's signature and audience are checked first (no database), then the query
//! that reads the token's revocation state also reads the calling client's secret digest, and
//! the caller is authenticated against that row, read at the same moment as the token's state.
//! The failure budget per (client id, network) is checked before and spent on a wrong secret,
//! as for every other client authentication; the answers are the same as on the other path
//! (`invalid_client` for any failure, nothing about the token before the caller is known).
//! Every other question (a refresh token, another client's token, an invalid one, no secret)
//! authenticates the client before answering; the failure budget is read once per request and
//! a token already verified on the way is not verified again.

use serde_json::{Value, json};

use crate::domain::clients::{Client, ClientCredentials, secret_matches};
use crate::domain::context::RequestContext;
use crate::domain::oauth::client_auth::ClientAttempt;
use crate::domain::oauth::error::{OAuthCode, OAuthError};
use crate::domain::oauth::tokens::{Audience, revocation_verdict};
use crate::domain::oauth::{OAuthService, digest};
use crate::domain::tokens::jwt::{self, AccessClaims};

/// The answer for a token that is not active, or not the caller's to ask about.
fn inactive() -> Value {
    json!({ "active": false })
}

/// The answer for an active access token: its `token_type` is the type RFC 7662 §2.2 means
/// (RFC 6749 §5.1's, `Bearer`); `token_use` says which of authd's tokens it is.
fn active_access(c: &AccessClaims) -> Value {
    json!({
        "active": true,
        "token_type": "Bearer",
        "token_use": "access_token",
        "scope": c.scope,
        "client_id": c.client_id,
        "sub": c.sub,
        "aud": c.aud,
        "iss": c.iss,
        "exp": c.exp,
        "iat": c.iat,
        "nbf": c.nbf,
        "jti": c.jti,
    })
}

fn invalid_client() -> OAuthError {
    OAuthError::protocol(OAuthCode::InvalidClient, "client authentication failed")
}

impl OAuthService {
    /// The caller, authenticated against the attempt already taken, if it is a confidential
    /// client (a public one has nothing to prove who asks).
    async fn confidential(
        &self,
        attempt: ClientAttempt,
        creds: &ClientCredentials,
    ) -> Result<Client, OAuthError> {
        let client = self.authenticate_attempt(attempt, creds).await?;
        if client.is_public {
            return Err(OAuthError::protocol(
                OAuthCode::InvalidClient,
                "public clients cannot introspect",
            ));
        }
        Ok(client)
    }

    /// RFC 7662 §2: what `creds` may know about `token`.
    pub async fn introspect(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Value, OAuthError> {
        let attempt = self.client_attempt(ctx, creds).await?;
        let (Some(secret), false) = (creds.secret.as_deref(), creds.id.is_empty()) else {
            // No secret or no id: no confidential client authenticates, so the answer is
            // authentication's refusal (a public client's: it cannot introspect).
            let refused = self.confidential(attempt, creds).await.err();
            return Err(refused.unwrap_or_else(invalid_client));
        };
        let audience = match self.verify_for(&creds.id, token).await? {
            Audience::Caller(claims) => {
                let mut state = self.bearer_state_of(&claims).await?;
                let hash = state.client_secret_hash.take();
                if !hash.is_some_and(|stored| secret_matches(&stored, secret)) {
                    self.client_failed(attempt);
                    return Err(invalid_client());
                }
                return Ok(match revocation_verdict(*claims, state) {
                    Ok((c, _)) => active_access(&c),
                    Err(_) => inactive(),
                });
            }
            other => other,
        };
        // Client ids match exactly, so what `verify_for` said of the id presented holds for the
        // client authenticated by it.
        let caller = self.confidential(attempt, creds).await?;
        self.introspect_for(&caller, token, audience).await
    }

    /// Introspection the long way, the caller authenticated: the token as `verify_for` saw it
    /// for this caller, else a refresh token of the caller's.
    async fn introspect_for(
        &self,
        caller: &Client,
        token: &str,
        audience: Audience,
    ) -> Result<Value, OAuthError> {
        match audience {
            Audience::Other => return Ok(inactive()),
            Audience::Caller(claims) => {
                return Ok(match self.check_revocation(*claims).await? {
                    Ok((c, _)) => active_access(&c),
                    Err(_) => inactive(),
                });
            }
            Audience::Invalid(_) => {}
        }
        let now = self.clock.now().unix_timestamp();
        if token.len() <= jwt::MAX_TOKEN_LEN
            && let Some((r, f)) = self.grants.find_refresh(&digest(token)).await?
            && f.client_id == caller.id
            && r.used_at.is_none()
            && f.revoked_at.is_none()
            && r.expires_at > now
            && f.expires_at > now
        {
            return Ok(json!({
                // Not a token type of RFC 6749 §5.1 (it is never presented as a bearer), so
                // no `token_type`; `token_use` names it.
                "active": true,
                "token_use": "refresh_token",
                "scope": f.scope,
                "client_id": f.client_id,
                "sub": f.user_id,
                "exp": r.expires_at,
                "iat": r.created_at,
                "iss": self.settings.issuer,
            }));
        }
        Ok(inactive())
    }
}
