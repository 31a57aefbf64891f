//! `grant_type=refresh_token`: every use rotates the token. Presenting a spent token revokes
//! its whole family and records `refresh_reuse_detected` (RFC 9700 §4.14.2); two instances
//! racing on one token are serialised by the database, and exactly one wins. A token expires
//! when unused for the idle lifetime, and its family at the absolute lifetime.

use std::collections::BTreeSet;

use crate::domain::clients::{Client, parse_scope};
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::oauth::error::{OAuthCode, OAuthError};
use crate::domain::oauth::grants::TokenRequest;
use crate::domain::oauth::{OAuthService, Subject, TokenResponse, digest};
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::storage::oauth::{FamilyRecord, RefreshRecord, Rotation};

impl OAuthService {
    pub(crate) async fn refresh(
        &self,
        ctx: &RequestContext,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let invalid = |d| OAuthError::protocol(OAuthCode::InvalidGrant, d);
        let token = req.refresh_token.as_deref().ok_or(OAuthError::protocol(
            OAuthCode::InvalidRequest,
            "the refresh_token parameter is missing",
        ))?;
        if !client.has_grant("refresh_token") {
            return Err(OAuthError::protocol(
                OAuthCode::UnauthorizedClient,
                "this client is not registered for the refresh_token grant",
            ));
        }
        let now = self.clock.now().unix_timestamp();
        let old_hash = digest(token);
        let Some((old, family)) = self.grants.find_refresh(&old_hash).await? else {
            return Err(invalid("unknown refresh token"));
        };
        if family.client_id != client.id {
            return Err(invalid("refresh token was issued to another client"));
        }
        if family.revoked_at.is_some() {
            return Err(invalid("refresh token revoked"));
        }
        if old.used_at.is_some() {
            self.reuse_detected(ctx, &family, now).await?;
            return Err(invalid("refresh token already used"));
        }
        if old.expires_at <= now || family.expires_at <= now {
            return Err(invalid("refresh token expired"));
        }
        let scopes = narrowed(&family.scope, req.scope.as_deref())?;
        if self
            .accounts
            .find_active_by_id(&family.user_id)
            .await?
            .is_none()
        {
            return Err(invalid("the user no longer exists or is disabled"));
        }
        let new_token = self.rotate(ctx, &family, &old_hash, now).await?;
        let subject = Subject {
            user_id: &family.user_id,
            auth_time: family.auth_time,
            amr: crate::domain::mfa::amr_from_stored(family.amr.as_deref()),
            nonce: None,
            family_id: Some(&family.id),
        };
        let response = self
            .mint(client, &scopes, Some(subject), Some(new_token))
            .await?;
        self.record(
            EventKind::TokenRefreshed,
            ctx,
            &client.id,
            Some(&family.user_id),
            Decision::RefreshRotated,
        )
        .await?;
        // The refresh is scored against the owner's contexts; a suspicious one is recorded
        // (`risk_evaluated`), not refused: confidential clients refresh from their servers.
        self.score_use(
            ctx,
            "refresh_token",
            &client.id,
            &family.user_id,
            &family.id,
            false,
        )
        .await?;
        Ok(response)
    }

    /// Rotates `old_hash` into a new token of `family`; the new token, or the refusal (a
    /// concurrent caller won, which counts as reuse).
    async fn rotate(
        &self,
        ctx: &RequestContext,
        family: &FamilyRecord,
        old_hash: &str,
        now: i64,
    ) -> Result<String, OAuthError> {
        let invalid = |d| OAuthError::protocol(OAuthCode::InvalidGrant, d);
        let new_token = self.random.token(32);
        let new = RefreshRecord {
            token_hash: digest(&new_token),
            family_id: family.id.clone(),
            expires_at: (now + self.settings.refresh_idle).min(family.expires_at),
            used_at: None,
            created_at: now,
        };
        match self.grants.rotate_refresh(old_hash, &new, now).await? {
            Rotation::Rotated => Ok(new_token),
            Rotation::Reused => {
                self.reuse_detected(ctx, family, now).await?;
                Err(invalid("refresh token already used"))
            }
            Rotation::NotFound => Err(invalid("unknown refresh token")),
        }
    }

    async fn reuse_detected(
        &self,
        ctx: &RequestContext,
        family: &FamilyRecord,
        now: i64,
    ) -> Result<(), Unexpected> {
        self.revoke_family(&family.id, now).await?;
        self.record(
            EventKind::RefreshReuseDetected,
            ctx,
            &family.client_id,
            Some(&family.user_id),
            Decision::RefreshFamilyRevoked,
        )
        .await
    }
}

/// The scope of a refresh: the grant's, or a narrower one asked for (never wider).
fn narrowed(granted: &str, asked: Option<&str>) -> Result<BTreeSet<String>, OAuthError> {
    let granted = parse_scope(granted)?;
    let Some(asked) = asked else {
        return Ok(granted);
    };
    let asked = parse_scope(asked)?;
    if !asked.is_subset(&granted) {
        return Err(OAuthError::protocol(
            OAuthCode::InvalidScope,
            "scope asks for more than the original grant",
        ));
    }
    Ok(asked)
}
