//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): which requests end the session and
//! where the browser may go afterwards.

use crate::domain::error::Unexpected;
use crate::domain::oauth::OAuthService;
use crate::domain::tokens::jwt;

/// Why an RP-initiated logout request is refused (the page shows `message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessionRefusal {
    /// The `id_token_hint` is not an ID token of ours.
    InvalidHint,
    /// The hint and `client_id` name different clients.
    TwoClients,
    /// The `post_logout_redirect_uri` is not one the client registered.
    UnregisteredRedirect,
}

impl EndSessionRefusal {
    /// The text the error page shows.
    pub fn message(self) -> &'static str {
        match self {
            Self::InvalidHint => "The sign-out request carries an invalid id_token_hint.",
            Self::TwoClients => "The sign-out request names two different applications.",
            Self::UnregisteredRedirect => {
                "The application asked to return to an address it did not register."
            }
        }
    }
}

/// What RP-initiated logout should do.
#[derive(Debug, Clone)]
pub struct EndSession {
    /// The user the `id_token_hint` names, whose session should end.
    pub user_id: Option<String>,
    /// Where to send the browser afterwards (a registered post-logout URI, with `state`).
    pub redirect: Option<String>,
}

impl OAuthService {
    /// Validates an RP-initiated logout request (OIDC RP-Initiated Logout 1.0 §2–3). A
    /// post-logout redirect needs a valid `id_token_hint` (or `client_id`) naming the client
    /// that registered that exact URI; an invalid hint is refused.
    pub async fn end_session(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Result<EndSession, EndSessionRefusal>, Unexpected> {
        let hint = match id_token_hint {
            Some(t) => match jwt::verify_id_hint(&self.keys, t, &self.settings.issuer).await? {
                Some(c) => Some(c),
                None => return Ok(Err(EndSessionRefusal::InvalidHint)),
            },
            None => None,
        };
        if let (Some(h), Some(c)) = (&hint, client_id)
            && h.aud != c
        {
            return Ok(Err(EndSessionRefusal::TwoClients));
        }
        let client_id = hint.as_ref().map(|h| h.aud.as_str()).or(client_id);
        let redirect = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let client = match client_id {
                    // A disabled client's addresses are not followed.
                    Some(id) => self.clients.find(id).await?.filter(|c| !c.is_disabled()),
                    None => None,
                };
                if !client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)) {
                    return Ok(Err(EndSessionRefusal::UnregisteredRedirect));
                }
                let params: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
                Some(crate::domain::oauth::authorize::with_params(uri, &params))
            }
        };
        Ok(Ok(EndSession {
            user_id: hint.map(|h| h.sub),
            redirect,
        }))
    }
}
