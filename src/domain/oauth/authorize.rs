//! The authorization endpoint's rules (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2): which
//! requests are valid, which failures are shown on a page (an unknown client or redirect URI,
//! which must never cause a redirect) and which go back to the client, consent, and codes.

use std::collections::BTreeSet;

use crate::domain::clients::{Client, scope_string};
use crate::domain::error::Unexpected;
use crate::domain::oauth::error::OAuthCode;
use crate::domain::oauth::{OAuthService, digest};
use crate::storage::oauth::CodeRecord;

/// The checks of a request whose client and redirect URI are known.
mod checks;

/// The raw parameters of an authorization request.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// client_id.
    pub client_id: Option<String>,
    /// redirect_uri.
    pub redirect_uri: Option<String>,
    /// response_type.
    pub response_type: Option<String>,
    /// scope.
    pub scope: Option<String>,
    /// state.
    pub state: Option<String>,
    /// nonce.
    pub nonce: Option<String>,
    /// code_challenge.
    pub code_challenge: Option<String>,
    /// code_challenge_method.
    pub code_challenge_method: Option<String>,
    /// prompt.
    pub prompt: Option<String>,
    /// max_age.
    pub max_age: Option<String>,
    /// login_hint.
    pub login_hint: Option<String>,
    /// acr_values (RFC 9470): space-separated, preferred first.
    pub acr_values: Option<String>,
    /// request (a request object, OIDC Core §6.1): refused.
    pub request: Option<String>,
    /// request_uri (OIDC Core §6.2): refused.
    pub request_uri: Option<String>,
    /// response_mode: only `query`.
    pub response_mode: Option<String>,
    /// id_token_hint: an ID token of ours naming the user the client expects.
    pub id_token_hint: Option<String>,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The client.
    pub client: Client,
    /// The (registered) redirect URI.
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: BTreeSet<String>,
    /// state, echoed back.
    pub state: Option<String>,
    /// nonce, carried into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt=none`: never show a page.
    pub prompt_none: bool,
    /// `prompt=login`: authenticate again.
    pub prompt_login: bool,
    /// `prompt=consent`: ask again.
    pub prompt_consent: bool,
    /// max_age in seconds.
    pub max_age: Option<i64>,
    /// login_hint, prefilled on the sign-in form.
    pub login_hint: Option<String>,
    /// `acr_values` asks for a second factor (`mfa::wants_mfa`): a session that signed in
    /// with a password alone is sent through the step-up first.
    pub acr_mfa: bool,
    /// The user a valid `id_token_hint` names (its `sub`): another signed-in user is not
    /// answered as if they were that one (`prompt.rs`).
    pub hint_sub: Option<String>,
}

/// An error that goes back to the client's redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone)]
pub struct ErrorRedirect {
    /// The validated redirect URI.
    pub redirect_uri: String,
    /// Error code.
    pub code: OAuthCode,
    /// Description.
    pub description: &'static str,
    /// state, echoed back.
    pub state: Option<String>,
}

/// Why an authorization request cannot proceed.
#[derive(Debug, Clone)]
pub enum AuthorizeFailure {
    /// Unknown client or redirect URI: show an error page, never redirect.
    Page(&'static str),
    /// Any other error: back to the client.
    Redirect(ErrorRedirect),
}

/// Appends query parameters to a redirect URI that may already carry a query.
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

impl ErrorRedirect {
    /// The `Location` for this error.
    pub fn location(&self, issuer: &str) -> String {
        let mut params = vec![
            ("error", self.code.as_str()),
            ("error_description", self.description),
        ];
        if let Some(s) = &self.state {
            params.push(("state", s));
        }
        params.push(("iss", issuer));
        with_params(&self.redirect_uri, &params)
    }
}

impl OAuthService {
    /// Validates an authorization request. An unknown client or redirect URI is answered on a
    /// page (never a redirect); every later failure goes back to the client.
    pub async fn validate_authorize(
        &self,
        p: &AuthorizeParams,
    ) -> Result<Result<AuthorizeRequest, AuthorizeFailure>, Unexpected> {
        let Some(client_id) = p.client_id.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(Err(AuthorizeFailure::Page(
                "The request names no application: client_id is missing.",
            )));
        };
        let Some(client) = self.clients.find(client_id).await? else {
            return Ok(Err(AuthorizeFailure::Page(
                "The application is not registered with this server.",
            )));
        };
        if client.is_disabled() {
            return Ok(Err(AuthorizeFailure::Page(
                "The application is disabled on this server.",
            )));
        }
        let Some(asked) = p.redirect_uri.as_deref().filter(|r| !r.is_empty()) else {
            return Ok(Err(AuthorizeFailure::Page(
                "The application sent no redirect address: redirect_uri is missing.",
            )));
        };
        let Some(redirect_uri) = client.match_redirect_uri(asked) else {
            return Ok(Err(AuthorizeFailure::Page(
                "The application sent a redirect address that is not registered.",
            )));
        };
        let mut checked = checks::check_request(p, &client);
        let mut hint_sub = None;
        let hint = p.id_token_hint.as_deref().filter(|h| !h.is_empty());
        if let (Ok(_), Some(hint)) = (&checked, hint) {
            match self.hint_subject(hint).await? {
                Some(sub) => hint_sub = Some(sub),
                None => {
                    let why = "id_token_hint is not a valid ID token of this server";
                    checked = Err((OAuthCode::InvalidRequest, why));
                }
            }
        }
        let checked = match checked {
            Ok(c) => c,
            Err((code, description)) => {
                return Ok(Err(AuthorizeFailure::Redirect(ErrorRedirect {
                    redirect_uri,
                    code,
                    description,
                    state: p.state.clone().filter(|s| s.len() <= 1024),
                })));
            }
        };
        Ok(Ok(AuthorizeRequest {
            client,
            redirect_uri,
            scopes: checked.scopes,
            state: p.state.clone(),
            nonce: p.nonce.clone(),
            code_challenge: checked.code_challenge,
            prompt_none: checked.prompts.contains("none"),
            prompt_login: checked.prompts.contains("login"),
            prompt_consent: checked.prompts.contains("consent"),
            max_age: checked.max_age,
            login_hint: p.login_hint.clone().filter(|h| h.len() <= 254),
            acr_mfa: p
                .acr_values
                .as_deref()
                .is_some_and(crate::domain::mfa::wants_mfa),
            hint_sub,
        }))
    }

    /// The `sub` of an `id_token_hint`; `None` when it is not an ID token this server signed
    /// (signature and issuer are checked; an expired one still names its user).
    async fn hint_subject(&self, hint: &str) -> Result<Option<String>, Unexpected> {
        if hint.len() > 8 * 1024 {
            return Ok(None);
        }
        let issuer = &self.settings.issuer;
        let claims = crate::domain::tokens::jwt::verify_id_hint(&self.keys, hint, issuer).await?;
        Ok(claims.map(|c| c.sub))
    }

    /// Whether the user must be asked to consent (never for first-party clients).
    pub async fn needs_consent(
        &self,
        user_id: &str,
        req: &AuthorizeRequest,
    ) -> Result<bool, Unexpected> {
        if req.client.is_first_party {
            return Ok(false);
        }
        if req.prompt_consent {
            return Ok(true);
        }
        let granted: BTreeSet<String> =
            match self.grants.find_consent(user_id, &req.client.id).await? {
                Some(json) => serde_json::from_str(&json).unwrap_or_default(),
                None => BTreeSet::new(),
            };
        Ok(!req.scopes.is_subset(&granted))
    }

    /// Remembers that the user consented to the request's scopes (added to earlier ones).
    pub async fn grant_consent(
        &self,
        user_id: &str,
        req: &AuthorizeRequest,
    ) -> Result<(), Unexpected> {
        let mut granted: BTreeSet<String> =
            match self.grants.find_consent(user_id, &req.client.id).await? {
                Some(json) => serde_json::from_str(&json).unwrap_or_default(),
                None => BTreeSet::new(),
            };
        granted.extend(req.scopes.iter().cloned());
        let json = serde_json::to_string(&granted).map_err(|e| Unexpected(e.into()))?;
        let now = self.clock.now().unix_timestamp();
        Ok(self
            .grants
            .upsert_consent(user_id, &req.client.id, &json, now)
            .await?)
    }

    /// Issues a code for a signed-in user (who authenticated at `auth_time` with `amr`) and
    /// returns the redirect `Location`.
    pub async fn issue_code(
        &self,
        req: &AuthorizeRequest,
        user_id: &str,
        auth_time: i64,
        amr: &[String],
    ) -> Result<String, Unexpected> {
        let code = self.random.token(32);
        let now = self.clock.now().unix_timestamp();
        let record = CodeRecord {
            code_hash: digest(&code),
            client_id: req.client.id.clone(),
            user_id: user_id.to_owned(),
            redirect_uri: req.redirect_uri.clone(),
            scope: scope_string(&req.scopes),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth_time,
            amr: serde_json::to_string(amr).ok(),
            expires_at: now + self.settings.code_ttl,
            family_id: None,
            used_at: None,
            created_at: now,
        };
        self.grants.insert_code(&record).await?;
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = &req.state {
            params.push(("state", s));
        }
        params.push(("iss", &self.settings.issuer));
        Ok(with_params(&req.redirect_uri, &params))
    }

    /// The error redirect for a request that cannot be answered without a page (`prompt=none`).
    pub fn error_redirect(
        &self,
        req: &AuthorizeRequest,
        code: OAuthCode,
        description: &'static str,
    ) -> String {
        ErrorRedirect {
            redirect_uri: req.redirect_uri.clone(),
            code,
            description,
            state: req.state.clone(),
        }
        .location(&self.settings.issuer)
    }
}
