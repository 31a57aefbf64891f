//! OAuth extractors: client credentials (`client_secret_basic` header or `client_secret_post`
//! form fields, never both) and bearer tokens (`Authorization: Bearer`, RFC 6750 §2.1).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::clients::ClientCredentials;
use crate::http::oauth::error::{OAuthResponseError, bad_request};

/// Resolves the client's credentials from the `Authorization: Basic` header and/or the form.
pub fn client_credentials(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientCredentials, OAuthResponseError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // RFC 7235 §2.1: the scheme's name is case-insensitive.
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, b64)| b64);
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(bad_request("use one client authentication method")),
        (Some(b64), None) => {
            let bad = || bad_request("malformed Basic credentials");
            let decoded = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
            let unescape = |s: &str| -> Result<String, OAuthResponseError> {
                let plus_fixed = s.replace('+', " ");
                url::form_urlencoded::parse(format!("x={plus_fixed}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .ok_or_else(bad)
            };
            let id = unescape(id)?;
            if form_id.is_some_and(|f| f != id) {
                return Err(bad_request("client_id does not match the credentials"));
            }
            Ok(ClientCredentials {
                id,
                secret: Some(unescape(secret)?),
            })
        }
        (None, secret) => Ok(ClientCredentials {
            id: form_id.unwrap_or("").to_owned(),
            secret: secret.map(str::to_owned),
        }),
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let raw = STANDARD.encode("my%20app:s%3Acret");
        let c = client_credentials(&headers(&format!("Basic {raw}")), None, None).unwrap();
        assert_eq!(c.id, "my app");
        assert_eq!(c.secret.as_deref(), Some("s:cret"));
    }

    #[test]
    fn the_basic_scheme_is_named_in_any_case() {
        let raw = STANDARD.encode("app:secret");
        for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
            let c = client_credentials(&headers(&format!("{scheme} {raw}")), None, None).unwrap();
            assert_eq!(c.id, "app", "{scheme}");
            assert_eq!(c.secret.as_deref(), Some("secret"), "{scheme}");
        }
        // Another scheme is no client authentication (the form's id, no secret).
        let c = client_credentials(&headers(&format!("Basicx {raw}")), Some("pub"), None).unwrap();
        assert_eq!((c.id.as_str(), c.secret), ("pub", None));
    }

    #[test]
    fn two_methods_are_refused() {
        let raw = STANDARD.encode("a:b");
        assert!(
            client_credentials(&headers(&format!("Basic {raw}")), Some("a"), Some("b")).is_err()
        );
        assert!(client_credentials(&headers("Basic !!!"), None, None).is_err());
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
    }
}
