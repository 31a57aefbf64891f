//! The clients' wire rules: scopes (RFC 6749 §3.3), the redirect URIs a registration accepts,
//! and loopback redirect URIs equal but for the port (RFC 8252 §7.3).

use std::collections::BTreeSet;

use crate::domain::oauth::error::{OAuthCode, OAuthError};

/// A space-separated scope string, parsed (RFC 6749 §3.3).
pub fn parse_scope(raw: &str) -> Result<BTreeSet<String>, OAuthError> {
    let mut out = BTreeSet::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        let ok = s.len() <= 64
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(OAuthError::protocol(
                OAuthCode::InvalidScope,
                "malformed scope",
            ));
        }
        out.insert(s.to_owned());
    }
    if out.len() > 32 {
        return Err(OAuthError::protocol(
            OAuthCode::InvalidScope,
            "too many scopes",
        ));
    }
    Ok(out)
}

/// Joins scopes back into their wire form.
pub fn scope_string(scopes: &BTreeSet<String>) -> String {
    scopes
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two loopback redirect URIs equal but for the port (RFC 8252 §7.3).
pub(crate) fn loopback_equal(registered: &str, requested: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &url::Url| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]"))
    };
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
        && a.username() == b.username()
        && b.password().is_none()
}

/// Validates a redirect URI for registration: absolute, no fragment, https unless loopback.
pub fn validate_redirect_uri(raw: &str) -> Result<(), &'static str> {
    let u = url::Url::parse(raw).map_err(|_| "a redirect URI must be an absolute URL")?;
    if u.fragment().is_some() {
        return Err("a redirect URI must not have a fragment");
    }
    if u.username() != "" || u.password().is_some() {
        return Err("a redirect URI must not carry credentials");
    }
    let loopback = matches!(
        u.host_str(),
        Some("127.0.0.1") | Some("[::1]") | Some("localhost")
    );
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("http redirect URIs are only allowed for loopback hosts"),
        // Private-use schemes for native apps (RFC 8252 §7.1) must look like reverse DNS.
        s if s.contains('.') => Ok(()),
        _ => Err("unsupported redirect URI scheme"),
    }
}
