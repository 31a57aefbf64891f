//! `grant_type=client_credentials`: a confidential client gets an access token for itself
//! (`sub` = its client id), limited to the scopes it holds. No refresh or ID token.

use crate::domain::clients::{Client, parse_scope};
use crate::domain::context::RequestContext;
use crate::domain::oauth::error::{OAuthCode, OAuthError};
use crate::domain::oauth::grants::TokenRequest;
use crate::domain::oauth::{OAuthService, TokenResponse};
use crate::events::EventKind;
use crate::events::decision::Decision;

impl OAuthService {
    pub(crate) async fn client_credentials(
        &self,
        ctx: &RequestContext,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        if client.is_public || !client.has_grant("client_credentials") {
            return Err(OAuthError::protocol(
                OAuthCode::UnauthorizedClient,
                "this client is not registered for the client_credentials grant",
            ));
        }
        let mut scopes = match req.scope.as_deref() {
            Some(s) => parse_scope(s)?,
            None => client.scopes.clone(),
        };
        if !scopes.is_subset(&client.scopes) {
            return Err(OAuthError::protocol(
                OAuthCode::InvalidScope,
                "a requested scope is not registered for this client",
            ));
        }
        // There is no user: `openid` would promise an ID token that cannot exist.
        scopes.remove("openid");
        let response = self.mint(client, &scopes, None, None).await?;
        self.record(
            EventKind::TokenIssued,
            ctx,
            &client.id,
            None,
            Decision::IssuedClientCredentials,
        )
        .await?;
        Ok(response)
    }
}
