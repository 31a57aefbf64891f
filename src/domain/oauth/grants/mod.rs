//! The token endpoint (RFC 6749 §3.2): client authentication (failures limited per client id
//! and network), then the per-client request budget, then one grant per file. The budget is
//! spent only by an authenticated client, so nobody can starve a client by presenting its id.

use crate::domain::clients::ClientCredentials;
use crate::domain::context::RequestContext;
use crate::domain::oauth::error::{OAuthCode, OAuthError};
use crate::domain::oauth::{OAuthService, TokenResponse};
use crate::domain::throttle::{Door, ThrottleKey, net_of};
use crate::events::EventKind;
use crate::events::decision::Decision;

/// `authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).
pub mod authorization_code;
/// `client_credentials` (RFC 6749 §4.4).
pub mod client_credentials;
/// `refresh_token` with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14).
pub mod refresh_token;

/// The token request's parameters.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// grant_type.
    pub grant_type: Option<String>,
    /// code.
    pub code: Option<String>,
    /// redirect_uri.
    pub redirect_uri: Option<String>,
    /// code_verifier.
    pub code_verifier: Option<String>,
    /// refresh_token.
    pub refresh_token: Option<String>,
    /// scope.
    pub scope: Option<String>,
}

impl OAuthService {
    /// Answers a token request. Every refusal is recorded as `token_rejected` with its reason.
    pub async fn token(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let result = self.token_inner(ctx, creds, req).await;
        if let Err(OAuthError::Protocol { code, description }) = &result {
            let reason = format!("{}: {description}", code.as_str());
            let e = self
                .event(EventKind::TokenRejected, ctx, &creds.id, None)
                .decision_as(Decision::TokenRequestRefused, reason);
            self.events.record(e).await?;
        }
        result
    }

    async fn token_inner(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(ctx, creds).await?;
        // A public client has no secret: anyone can present its id, so its budget is per
        // network; a confidential client's is its own.
        let key = if client.is_public {
            ThrottleKey::ClientNet(client.id.clone(), net_of(ctx.ip))
        } else {
            ThrottleKey::Client(client.id.clone())
        };
        if let Err((key, retry_after)) = self.throttle.check(Door::Token, &[key]) {
            self.record(
                EventKind::RateLimited,
                ctx,
                &client.id,
                None,
                key.dimension(),
            )
            .await?;
            return Err(OAuthError::RateLimited { retry_after });
        }
        match req.grant_type.as_deref() {
            Some("authorization_code") => self.exchange_code(ctx, &client, req).await,
            Some("refresh_token") => self.refresh(ctx, &client, req).await,
            Some("client_credentials") => self.client_credentials(ctx, &client, req).await,
            None => Err(OAuthError::protocol(
                OAuthCode::InvalidRequest,
                "the grant_type parameter is missing",
            )),
            Some(_) => Err(OAuthError::protocol(
                OAuthCode::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )),
        }
    }
}
