//! The authorization endpoint's rules (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2): which
//! requests are valid, which failures are shown on a page (an unknown client or redirect URI,
//! which must never cause a redirect) and which go back to the client, consent, and codes.

use std::collections::BTreeSet;

use crate::domain::clients::{Client, parse_scope, scope_string};
use crate::domain::error::Unexpected;
use crate::domain::oauth::error::OAuthCode;
use crate::domain::oauth::{OAuthService, digest};
use crate::storage::oauth::CodeRecord;

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

fn is_pkce_value(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl OAuthService {
    /// Validates an authorization request.
    pub async fn validate_authorize(
        &self,
        p: &AuthorizeParams,
    ) -> Result<Result<AuthorizeRequest, AuthorizeFailure>, Unexpected> {
        let Some(client) = self
            .clients
            .find(p.client_id.as_deref().unwrap_or(""))
            .await?
        else {
            return Ok(Err(AuthorizeFailure::Page(
                "The application is not registered with this server.",
            )));
        };
        let Some(redirect_uri) = p
            .redirect_uri
            .as_deref()
            .and_then(|r| client.match_redirect_uri(r))
        else {
            return Ok(Err(AuthorizeFailure::Page(
                "The application sent a redirect address that is not registered.",
            )));
        };
        let state = p.state.clone();
        let fail = |code, description| {
            Ok(Err(AuthorizeFailure::Redirect(ErrorRedirect {
                redirect_uri: redirect_uri.clone(),
                code,
                description,
                state: state.clone().filter(|s| s.len() <= 1024),
            })))
        };
        match p.response_type.as_deref() {
            None => return fail(OAuthCode::InvalidRequest, "response_type is required"),
            Some("code") => {}
            Some(_) => {
                return fail(
                    OAuthCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                );
            }
        }
        if !client.has_grant("authorization_code") {
            return fail(
                OAuthCode::UnauthorizedClient,
                "client may not use the authorization code grant",
            );
        }
        if state.as_ref().is_some_and(|s| s.len() > 1024)
            || p.nonce.as_ref().is_some_and(|n| n.len() > 512)
        {
            return fail(OAuthCode::InvalidRequest, "state or nonce too long");
        }
        // The nonce is stored with the code: no control characters (PostgreSQL text has no NUL).
        if p.nonce
            .as_ref()
            .is_some_and(|n| n.chars().any(char::is_control))
        {
            return fail(OAuthCode::InvalidRequest, "malformed nonce");
        }
        let Ok(mut scopes) = parse_scope(p.scope.as_deref().unwrap_or("")) else {
            return fail(OAuthCode::InvalidScope, "malformed scope");
        };
        // Refresh tokens follow the client's `refresh_token` grant, not this scope; libraries
        // that add it anyway are not refused for it.
        scopes.remove("offline_access");
        if scopes.is_empty() {
            return fail(OAuthCode::InvalidScope, "scope is required");
        }
        if !scopes.is_subset(&client.scopes) || scopes.contains("admin") {
            return fail(OAuthCode::InvalidScope, "scope not allowed for this client");
        }
        let code_challenge = match (
            p.code_challenge.as_deref(),
            p.code_challenge_method.as_deref(),
        ) {
            (None, None) if client.is_public => {
                return fail(
                    OAuthCode::InvalidRequest,
                    "PKCE (S256) is required for public clients",
                );
            }
            (None, None) => None,
            (Some(c), Some("S256")) if is_pkce_value(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return fail(OAuthCode::InvalidRequest, "malformed code_challenge");
            }
            _ => {
                return fail(
                    OAuthCode::InvalidRequest,
                    "code_challenge_method must be S256",
                );
            }
        };
        let prompts: BTreeSet<&str> = p
            .prompt
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        if prompts
            .iter()
            .any(|v| !["none", "login", "consent", "select_account"].contains(v))
            || (prompts.contains("none") && prompts.len() > 1)
        {
            return fail(OAuthCode::InvalidRequest, "invalid prompt");
        }
        let max_age = match p.max_age.as_deref() {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => return fail(OAuthCode::InvalidRequest, "invalid max_age"),
            },
        };
        Ok(Ok(AuthorizeRequest {
            client,
            redirect_uri,
            scopes,
            state,
            nonce: p.nonce.clone(),
            code_challenge,
            prompt_none: prompts.contains("none"),
            prompt_login: prompts.contains("login"),
            prompt_consent: prompts.contains("consent"),
            max_age,
            login_hint: p.login_hint.clone().filter(|h| h.len() <= 254),
        }))
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

    /// Issues a code for a signed-in user and returns the redirect `Location`.
    pub async fn issue_code(
        &self,
        req: &AuthorizeRequest,
        user_id: &str,
        auth_time: i64,
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

/// What `/authorize` does next with a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeStep {
    /// Send the user to the sign-in form and back here. With `fresh_after`, a re-authentication:
    /// only a sign-in after that time (unix seconds) counts.
    SignIn {
        /// Sign-ins before this are too old for the request.
        fresh_after: Option<i64>,
    },
    /// Ask the user to consent.
    Consent,
    /// Back to the client: the `Location` carrying a code, or an error (`prompt=none`).
    Redirect(String),
}

impl OAuthService {
    /// The `prompt` and `max_age` policy (OIDC Core §3.1.2.1) for a valid request, given who
    /// is signed in (`user`: id and sign-in time) and, when authd itself sent the user to sign
    /// in again, the time that sign-in must follow (`auth_after`): sign in (again), ask for
    /// consent, or go back to the client with a code or, under `prompt=none`, an error.
    pub async fn authorize_step(
        &self,
        req: &AuthorizeRequest,
        user: Option<(&str, i64)>,
        auth_after: Option<i64>,
    ) -> Result<AuthorizeStep, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let fresh = |at: i64| is_fresh(req.prompt_login, req.max_age, at, auth_after, now);
        let Some((user_id, auth_at)) = user.filter(|(_, at)| fresh(*at)) else {
            let (why, fresh_after) = match user {
                None => ("sign-in required", None),
                Some(_) => ("fresh sign-in required", Some(now)),
            };
            return Ok(if req.prompt_none {
                AuthorizeStep::Redirect(self.error_redirect(req, OAuthCode::LoginRequired, why))
            } else {
                AuthorizeStep::SignIn { fresh_after }
            });
        };
        if self.needs_consent(user_id, req).await? {
            return Ok(if req.prompt_none {
                let why = "consent required";
                AuthorizeStep::Redirect(self.error_redirect(req, OAuthCode::ConsentRequired, why))
            } else {
                AuthorizeStep::Consent
            });
        }
        let location = self.issue_code(req, user_id, auth_at).await?;
        Ok(AuthorizeStep::Redirect(location))
    }
}

/// Whether a sign-in at `auth_at` is recent enough at `now`: `prompt=login` wants one after
/// the request (after `auth_after`, which authd sets when it sends the user to sign in again;
/// without it, no earlier sign-in counts), and `max_age` one at most that many seconds old.
fn is_fresh(
    prompt_login: bool,
    max_age: Option<i64>,
    auth_at: i64,
    auth_after: Option<i64>,
    now: i64,
) -> bool {
    let stale = (prompt_login && auth_after.is_none_or(|t| auth_at < t))
        || max_age.is_some_and(|m| now - auth_at > m);
    !stale
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    #[test]
    fn any_sign_in_is_fresh_without_prompt_or_max_age() {
        assert!(is_fresh(false, None, 0, None, NOW));
        assert!(is_fresh(false, None, NOW, Some(NOW + 5), NOW));
    }

    #[test]
    fn prompt_login_wants_a_sign_in_after_authd_asked_for_it() {
        // First visit: no earlier sign-in counts.
        assert!(!is_fresh(true, None, NOW - 1, None, NOW));
        assert!(!is_fresh(true, None, NOW, None, NOW));
        // Back from the sign-in form authd sent the user to at `NOW - 10`.
        assert!(is_fresh(true, None, NOW - 10, Some(NOW - 10), NOW));
        assert!(is_fresh(true, None, NOW - 5, Some(NOW - 10), NOW));
        assert!(!is_fresh(true, None, NOW - 11, Some(NOW - 10), NOW));
    }

    #[test]
    fn max_age_bounds_the_age_of_the_sign_in() {
        assert!(is_fresh(false, Some(60), NOW - 60, None, NOW));
        assert!(!is_fresh(false, Some(60), NOW - 61, None, NOW));
        // max_age=0: only a sign-in this very second.
        assert!(is_fresh(false, Some(0), NOW, None, NOW));
        assert!(!is_fresh(false, Some(0), NOW - 1, None, NOW));
        // Both: each must hold.
        assert!(!is_fresh(true, Some(60), NOW - 61, Some(NOW - 100), NOW));
        assert!(!is_fresh(true, Some(600), NOW - 101, Some(NOW - 100), NOW));
        assert!(is_fresh(true, Some(600), NOW - 99, Some(NOW - 100), NOW));
    }
}
