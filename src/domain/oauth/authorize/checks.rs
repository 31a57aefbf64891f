//! The checks of an authorization request once its client and redirect URI are known, in the
//! order their errors are reported; each failure goes back to the client (RFC 6749 §4.1.2.1).

use std::collections::BTreeSet;

use crate::domain::clients::{Client, parse_scope};
use crate::domain::oauth::authorize::AuthorizeParams;
use crate::domain::oauth::error::OAuthCode;

fn is_pkce_value(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A refusal that goes back to the client: the error code and its description.
pub(super) type Refusal = (OAuthCode, &'static str);

/// What `check_request` makes of the parameters once the client and redirect URI are known.
pub(super) struct Checked {
    pub(super) scopes: BTreeSet<String>,
    pub(super) code_challenge: Option<String>,
    pub(super) prompts: BTreeSet<String>,
    pub(super) max_age: Option<i64>,
}

/// Parameters authd does not support are refused, never silently dropped: a client sending a
/// request object expects its (signed) parameters to be honoured (OIDC Core §6.1, §6.2), and
/// one asking for `form_post` or `fragment` expects the answer there.
fn check_unsupported(p: &AuthorizeParams) -> Result<(), Refusal> {
    if p.request.is_some() {
        return Err((
            OAuthCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return Err((
            OAuthCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match p.response_mode.as_deref() {
        None | Some("query") => Ok(()),
        Some(_) => Err((
            OAuthCode::InvalidRequest,
            "only response_mode=query is supported",
        )),
    }
}

fn check_response_type(p: &AuthorizeParams, client: &Client) -> Result<(), Refusal> {
    match p.response_type.as_deref() {
        None => {
            return Err((
                OAuthCode::InvalidRequest,
                "the response_type parameter is missing",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err((
                OAuthCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if !client.has_grant("authorization_code") {
        return Err((
            OAuthCode::UnauthorizedClient,
            "this client is not registered for the authorization_code grant",
        ));
    }
    Ok(())
}

fn check_state_and_nonce(p: &AuthorizeParams) -> Result<(), Refusal> {
    if p.state.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err((
            OAuthCode::InvalidRequest,
            "state is too long (1024 bytes at most)",
        ));
    }
    if p.nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err((
            OAuthCode::InvalidRequest,
            "nonce is too long (512 bytes at most)",
        ));
    }
    // The nonce is stored with the code: no control characters (PostgreSQL text has no NUL).
    if p.nonce
        .as_ref()
        .is_some_and(|n| n.chars().any(char::is_control))
    {
        return Err((OAuthCode::InvalidRequest, "nonce holds control characters"));
    }
    Ok(())
}

fn check_scopes(p: &AuthorizeParams, client: &Client) -> Result<BTreeSet<String>, Refusal> {
    let Ok(mut scopes) = parse_scope(p.scope.as_deref().unwrap_or("")) else {
        return Err((OAuthCode::InvalidScope, "scope is malformed"));
    };
    // Refresh tokens follow the client's `refresh_token` grant, not this scope; libraries
    // that add it anyway are not refused for it.
    scopes.remove("offline_access");
    if scopes.is_empty() {
        return Err((OAuthCode::InvalidScope, "the scope parameter is missing"));
    }
    if !scopes.is_subset(&client.scopes) || scopes.contains("admin") {
        return Err((
            OAuthCode::InvalidScope,
            "a requested scope is not registered for this client",
        ));
    }
    Ok(scopes)
}

/// PKCE (S256 only) is required of every client (RFC 9700 §2.1.1) unless a confidential one
/// was registered with `--no-pkce`; a public client always needs it.
fn check_pkce(p: &AuthorizeParams, client: &Client) -> Result<Option<String>, Refusal> {
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.pkce_required() => Err((
            OAuthCode::InvalidRequest,
            "code_challenge is missing: this client must use PKCE (S256)",
        )),
        (None, None) => Ok(None),
        (Some(c), Some("S256")) if is_pkce_value(c) => Ok(Some(c.to_owned())),
        (Some(_), Some("S256")) => Err((
            OAuthCode::InvalidRequest,
            "code_challenge is malformed (43 base64url characters)",
        )),
        (Some(_), None) => Err((
            OAuthCode::InvalidRequest,
            "code_challenge_method is missing (S256)",
        )),
        (None, Some(_)) => Err((
            OAuthCode::InvalidRequest,
            "code_challenge is missing (code_challenge_method was sent)",
        )),
        (Some(_), Some(_)) => Err((
            OAuthCode::InvalidRequest,
            "code_challenge_method must be S256",
        )),
    }
}

fn check_prompt(p: &AuthorizeParams) -> Result<BTreeSet<String>, Refusal> {
    let prompts: BTreeSet<String> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if prompts
        .iter()
        .any(|v| !["none", "login", "consent", "select_account"].contains(&v.as_str()))
        || (prompts.contains("none") && prompts.len() > 1)
    {
        return Err((
            OAuthCode::InvalidRequest,
            "prompt has an unknown value, or none with another",
        ));
    }
    Ok(prompts)
}

fn check_max_age(p: &AuthorizeParams) -> Result<Option<i64>, Refusal> {
    match p.max_age.as_deref() {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err((
                OAuthCode::InvalidRequest,
                "max_age must be a whole number of seconds",
            )),
        },
    }
}

/// Every check of a request whose client and redirect URI are known, in the order the
/// errors are reported.
pub(super) fn check_request(p: &AuthorizeParams, client: &Client) -> Result<Checked, Refusal> {
    check_unsupported(p)?;
    check_response_type(p, client)?;
    check_state_and_nonce(p)?;
    let scopes = check_scopes(p, client)?;
    let code_challenge = check_pkce(p, client)?;
    let prompts = check_prompt(p)?;
    let max_age = check_max_age(p)?;
    Ok(Checked {
        scopes,
        code_challenge,
        prompts,
        max_age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: impl FnOnce(&mut AuthorizeParams)) -> AuthorizeParams {
        let mut p = AuthorizeParams::default();
        f(&mut p);
        p
    }

    #[test]
    fn request_objects_and_other_response_modes_are_refused_not_dropped() {
        let code = |p: AuthorizeParams| check_unsupported(&p).err().map(|(c, _)| c);
        assert_eq!(code(params(|_| {})), None);
        assert_eq!(
            code(params(|p| p.response_mode = Some("query".into()))),
            None
        );
        assert_eq!(
            code(params(|p| p.request = Some("eyJ...".into()))),
            Some(OAuthCode::RequestNotSupported)
        );
        assert_eq!(
            code(params(
                |p| p.request_uri = Some("https://rp.example/r".into())
            )),
            Some(OAuthCode::RequestUriNotSupported)
        );
        for mode in ["form_post", "fragment", "", "QUERY"] {
            assert_eq!(
                code(params(|p| p.response_mode = Some(mode.into()))),
                Some(OAuthCode::InvalidRequest),
                "{mode}"
            );
        }
    }
}
