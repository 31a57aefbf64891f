//! `grant_type=authorization_code`: a code is spent atomically on first presentation; it must
//! come from the same client, with the same redirect URI, before it expires, with the PKCE
//! verifier of its challenge (and without one if none was sent, which stops downgrades). A
//! second presentation revokes everything the first one issued (RFC 6749 §4.1.2); the grant is
//! created in the transaction that spends the code, so there is no moment when a replay finds
//! nothing to revoke.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clients::{Client, parse_scope};
use crate::domain::context::RequestContext;
use crate::domain::oauth::error::{OAuthCode, OAuthError};
use crate::domain::oauth::grants::TokenRequest;
use crate::domain::oauth::{OAuthService, Subject, TokenResponse, digest};
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::storage::oauth::{CodeRecord, CodeRedemption, GrantStart, RefreshRecord};

/// Whether `verifier` (RFC 7636 §4.1: 43–128 unreserved characters) hashes to `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

impl OAuthService {
    pub(crate) async fn exchange_code(
        &self,
        ctx: &RequestContext,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let code = req.code.as_deref().ok_or(OAuthError::protocol(
            OAuthCode::InvalidRequest,
            "the code parameter is missing",
        ))?;
        if !client.has_grant("authorization_code") {
            return Err(OAuthError::protocol(
                OAuthCode::UnauthorizedClient,
                "this client is not registered for the authorization_code grant",
            ));
        }
        let now = self.clock.now().unix_timestamp();
        // The grant is created with the redemption, in one transaction: a replay of the code at
        // any moment after this finds it and revokes it, even before any token is issued.
        let start = GrantStart {
            family_id: uuid::Uuid::new_v4().to_string(),
            expires_at: now + self.settings.refresh_lifetime,
        };
        let record = match self.grants.redeem_code(&digest(code), now, &start).await? {
            CodeRedemption::NotFound => {
                return Err(OAuthError::protocol(
                    OAuthCode::InvalidGrant,
                    "the code is not valid (unknown, or not issued by this server)",
                ));
            }
            CodeRedemption::AlreadyUsed(r) => {
                self.code_reused(ctx, &r, now).await?;
                return Err(OAuthError::protocol(
                    OAuthCode::InvalidGrant,
                    "the code was already used",
                ));
            }
            CodeRedemption::Redeemed(r) => r,
        };
        if let Err(e) = self.check_redemption(&record, client, req, now).await {
            // The code is spent and nothing may come of it: its grant ends here.
            self.grants.revoke_family(&start.family_id, now).await?;
            return Err(e);
        }
        let scopes = parse_scope(&record.scope)?;
        let refresh_token = client
            .has_grant("refresh_token")
            .then(|| self.random.token(32));
        if let Some(t) = refresh_token.as_deref() {
            let refresh = RefreshRecord {
                token_hash: digest(t),
                family_id: start.family_id.clone(),
                expires_at: (now + self.settings.refresh_idle).min(start.expires_at),
                used_at: None,
                created_at: now,
            };
            self.grants.insert_refresh(&refresh).await?;
        }
        let subject = Subject {
            user_id: &record.user_id,
            auth_time: record.auth_time,
            amr: crate::domain::mfa::amr_from_stored(record.amr.as_deref()),
            nonce: record.nonce.as_deref(),
            family_id: Some(&start.family_id),
        };
        let response = self
            .mint(client, &scopes, Some(subject), refresh_token)
            .await?;
        self.record(
            EventKind::TokenIssued,
            ctx,
            &client.id,
            Some(&record.user_id),
            Decision::IssuedAuthorizationCode,
        )
        .await?;
        Ok(response)
    }

    /// A spent code presented again: the grant its first redemption started is revoked, and
    /// with it everything that redemption issued or is still issuing.
    async fn code_reused(
        &self,
        ctx: &RequestContext,
        r: &CodeRecord,
        now: i64,
    ) -> Result<(), OAuthError> {
        if let Some(family) = &r.family_id
            && self.revoke_family(family, now).await?
        {
            self.record(
                EventKind::TokenRevoked,
                ctx,
                &r.client_id,
                Some(&r.user_id),
                Decision::CodeReuse,
            )
            .await?;
        }
        Ok(())
    }

    /// Whether the redeemed `record` may be exchanged by `client` with `req` at `now`.
    async fn check_redemption(
        &self,
        record: &CodeRecord,
        client: &Client,
        req: &TokenRequest,
        now: i64,
    ) -> Result<(), OAuthError> {
        let invalid = |d| OAuthError::protocol(OAuthCode::InvalidGrant, d);
        if record.client_id != client.id {
            return Err(invalid("the code was issued to another client"));
        }
        if record.expires_at <= now {
            return Err(invalid("the code expired"));
        }
        match req.redirect_uri.as_deref() {
            None | Some("") => {
                return Err(OAuthError::protocol(
                    OAuthCode::InvalidRequest,
                    "redirect_uri is missing (send the one of the authorization request)",
                ));
            }
            Some(r) if r != record.redirect_uri => {
                return Err(invalid(
                    "redirect_uri differs from the one of the authorization request",
                ));
            }
            Some(_) => {}
        }
        match (&record.code_challenge, &req.code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
            (None, None) => {}
            (Some(_), None) => {
                return Err(OAuthError::protocol(
                    OAuthCode::InvalidRequest,
                    "code_verifier is missing (the authorization request carried a code_challenge)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "code_verifier does not match the code_challenge (PKCE)",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "code_verifier sent, but the authorization request had no code_challenge",
                ));
            }
        }
        if self
            .accounts
            .find_active_by_id(&record.user_id)
            .await?
            .is_none()
        {
            return Err(invalid("the user no longer exists or is disabled"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            challenge
        ));
        assert!(!pkce_matches(challenge, challenge), "plain is not accepted");
        assert!(!pkce_matches("short", challenge));
    }
}
