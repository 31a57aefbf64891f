//! OAuth clients: registration rules, exact redirect-URI matching (RFC 6749 §3.1.2, RFC 9700
//! §4.1.3; loopback ports per RFC 8252 §7.3), scopes, and client authentication.
//!
//! Client secrets are 256-bit random values, so they are stored as SHA-256 digests and compared
//! in constant time: a slow hash adds nothing against a secret that cannot be guessed, and
//! client authentication must not queue behind password hashing.

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::client_profile::ClientProfile;
use crate::domain::clock::{Clock, Random};
use crate::domain::cors::CorsOrigins;
use crate::domain::error::Unexpected;
use crate::domain::oauth::error::{ClientError, OAuthCode, OAuthError};
use crate::storage::error::StoreError;
use crate::storage::oauth::{ClientRecord, ClientStore};

use crate::domain::client_rules::loopback_equal;
pub use crate::domain::client_rules::{parse_scope, scope_string, validate_redirect_uri};

/// Grant types a client may hold.
pub const GRANTS: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// client_id.
    pub id: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may be granted.
    pub scopes: BTreeSet<String>,
    /// Grant types it may use.
    pub grants: BTreeSet<String>,
    /// No secret; PKCE required.
    pub is_public: bool,
    /// Skips consent.
    pub is_first_party: bool,
    /// Registered with `--no-pkce`: a confidential client that may leave PKCE out.
    pub pkce_optional: bool,
    /// Its name, logo and links, as the pages show them.
    pub profile: ClientProfile,
    /// When it was registered (unix seconds).
    pub created_at: i64,
    /// When an operator disabled it (unix seconds); `None` while enabled. A disabled client
    /// is refused at the token and authorization endpoints and its tokens fail every check.
    pub disabled_at: Option<i64>,
    pub(crate) secret_hash: Option<String>,
}

impl Client {
    /// Whether authorization requests must carry a PKCE challenge: always for public clients,
    /// and for confidential ones unless registered with `--no-pkce` (RFC 9700 §2.1.1).
    pub fn pkce_required(&self) -> bool {
        self.is_public || !self.pkce_optional
    }

    /// Whether an operator disabled it.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Whether the client may use `grant`.
    pub fn has_grant(&self, grant: &str) -> bool {
        self.grants.contains(grant)
    }

    /// The registered redirect URI equal to `requested` (loopback port ignored for public
    /// clients, RFC 8252 §7.3); `None` if none matches.
    pub fn match_redirect_uri(&self, requested: &str) -> Option<String> {
        self.redirect_uris
            .iter()
            .any(|r| r == requested || (self.is_public && loopback_equal(r, requested)))
            .then(|| requested.to_owned())
    }
}

/// What `authd client add` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// client_id.
    pub id: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Public client.
    pub is_public: bool,
    /// First-party client.
    pub is_first_party: bool,
    /// `--no-pkce`: a confidential client that may leave PKCE out (default: required).
    pub pkce_optional: bool,
    /// Scopes (default: `openid profile email`).
    pub scopes: Vec<String>,
    /// Grants (default: `authorization_code`).
    pub grants: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `--logo-uri`.
    pub logo_uri: Option<String>,
    /// `--client-uri`.
    pub client_uri: Option<String>,
    /// `--policy-uri`.
    pub policy_uri: Option<String>,
    /// `--tos-uri`.
    pub tos_uri: Option<String>,
}

/// How a client authenticated at the token, introspection or revocation endpoint.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// client_id.
    pub id: String,
    /// Secret, if one was presented.
    pub secret: Option<String>,
}

/// Client registration and authentication.
#[derive(Clone)]
pub struct ClientService {
    pub(crate) store: Arc<dyn ClientStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    /// The browser origins of public clients (CORS), cached; every change here invalidates it.
    pub(crate) origins: Arc<CorsOrigins>,
}

impl std::fmt::Debug for ClientService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientService")
    }
}

pub(crate) fn digest(secret: &str) -> String {
    hex_lower(&Sha256::digest(secret.as_bytes()))
}

/// Whether `given` is the secret whose digest is `stored`, compared in constant time.
pub(crate) fn secret_matches(stored: &str, given: &str) -> bool {
    bool::from(stored.as_bytes().ct_eq(digest(given).as_bytes()))
}

/// Lower-case hex of `bytes`.
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ClientService {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn ClientStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        let origins = Arc::new(CorsOrigins::new(store.clone(), clock.clone()));
        Self {
            store,
            clock,
            random,
            origins,
        }
    }

    /// The browser origins of public clients (CORS on the token, userinfo, revocation, JWKS
    /// and discovery endpoints).
    pub fn origins(&self) -> &Arc<CorsOrigins> {
        &self.origins
    }

    /// Registers a client; returns it and, for confidential clients, the secret (shown once).
    pub async fn create(&self, spec: NewClient) -> Result<(Client, Option<String>), ClientError> {
        let id_ok = !spec.id.is_empty()
            && spec.id.len() <= 128
            && spec
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !id_ok {
            return Err(ClientError::Invalid(
                "client ids use letters, digits and -._~ only",
            ));
        }
        let secret = (!spec.is_public).then(|| self.random.token(32));
        let record = record_of(
            spec,
            secret.as_deref().map(digest),
            self.clock.now().unix_timestamp(),
        )?;
        match self.store.insert(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ClientError::Invalid("a client with that id already exists"));
            }
            Err(e) => return Err(e.into()),
        }
        self.origins.invalidate();
        Ok((client_from(record)?, secret))
    }

    /// Finds a client by id.
    pub async fn find(&self, id: &str) -> Result<Option<Client>, Unexpected> {
        // Typed input reaches SQL: no control characters (PostgreSQL text cannot hold NUL).
        if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
            return Ok(None);
        }
        self.store
            .find_by_id(id)
            .await?
            .map(client_from)
            .transpose()
    }

    /// Authenticates a client (RFC 6749 §2.3): a confidential client must present its secret;
    /// a public client must present none. Any failure is `invalid_client`.
    pub async fn authenticate(&self, creds: &ClientCredentials) -> Result<Client, OAuthError> {
        if creds.id.is_empty() {
            return Err(OAuthError::protocol(
                OAuthCode::InvalidClient,
                "client_id is missing (in the form or Basic credentials)",
            ));
        }
        // One answer for an unknown client, a wrong secret and a missing one: no enumeration.
        let invalid =
            || OAuthError::protocol(OAuthCode::InvalidClient, "client authentication failed");
        // A disabled client gets the same answer: nothing tells a caller why.
        let client = self
            .find(&creds.id)
            .await?
            .filter(|c| !c.is_disabled())
            .ok_or_else(invalid)?;
        match (&client.secret_hash, &creds.secret) {
            (Some(stored), Some(given)) if secret_matches(stored, given) => Ok(client),
            (None, None) => Ok(client),
            _ => Err(invalid()),
        }
    }
}

/// Checks a client's settings (registration and `authd client update` alike) and makes its
/// record.
pub(crate) fn record_of(
    spec: NewClient,
    secret_hash: Option<String>,
    created_at: i64,
) -> Result<ClientRecord, ClientError> {
    for uri in spec
        .redirect_uris
        .iter()
        .chain(&spec.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri).map_err(ClientError::Invalid)?;
    }
    let grants: BTreeSet<String> = if spec.grants.is_empty() {
        ["authorization_code".to_owned()].into()
    } else {
        spec.grants.iter().cloned().collect()
    };
    if let Some(bad) = grants.iter().find(|g| !GRANTS.contains(&g.as_str())) {
        return Err(ClientError::Invalid(if bad.is_empty() {
            "empty grant"
        } else {
            "unknown grant type (authorization_code, refresh_token, client_credentials)"
        }));
    }
    if spec.is_public && spec.pkce_optional {
        return Err(ClientError::Invalid(
            "a public client always needs PKCE (--no-pkce is for confidential clients)",
        ));
    }
    if spec.is_public && grants.contains("client_credentials") {
        return Err(ClientError::Invalid(
            "a public client cannot use client_credentials",
        ));
    }
    if grants.contains("authorization_code") && spec.redirect_uris.is_empty() {
        return Err(ClientError::Invalid(
            "authorization_code needs at least one --redirect-uri",
        ));
    }
    let scopes: BTreeSet<String> = if spec.scopes.is_empty() {
        ["openid", "profile", "email"].map(str::to_owned).into()
    } else {
        parse_scope(&spec.scopes.join(" ")).map_err(|_| ClientError::Invalid("malformed scope"))?
    };
    if spec.is_public && scopes.contains("admin") {
        return Err(ClientError::Invalid(
            "the admin scope needs a confidential client",
        ));
    }
    let profile = ClientProfile {
        name: spec.name,
        logo_uri: spec.logo_uri,
        client_uri: spec.client_uri,
        policy_uri: spec.policy_uri,
        tos_uri: spec.tos_uri,
    }
    .checked()
    .map_err(ClientError::Invalid)?;
    let to_json = |v: Vec<String>| serde_json::to_string(&v).unwrap_or_else(|_| "[]".into());
    Ok(ClientRecord {
        id: spec.id,
        secret_hash,
        redirect_uris: to_json(spec.redirect_uris),
        post_logout_redirect_uris: to_json(spec.post_logout_redirect_uris),
        scopes: to_json(scopes.into_iter().collect()),
        grants: to_json(grants.into_iter().collect()),
        is_public: spec.is_public,
        is_first_party: spec.is_first_party,
        pkce_optional: spec.pkce_optional,
        created_at,
        name: profile.name,
        logo_uri: profile.logo_uri,
        client_uri: profile.client_uri,
        policy_uri: profile.policy_uri,
        tos_uri: profile.tos_uri,
        disabled_at: None,
    })
}

/// A stored client, read.
pub(crate) fn client_from(r: ClientRecord) -> Result<Client, Unexpected> {
    let list = |s: &str| -> Result<Vec<String>, Unexpected> {
        serde_json::from_str(s).map_err(|e| Unexpected(anyhow::anyhow!("client {}: {e}", r.id)))
    };
    Ok(Client {
        redirect_uris: list(&r.redirect_uris)?,
        post_logout_redirect_uris: list(&r.post_logout_redirect_uris)?,
        scopes: list(&r.scopes)?.into_iter().collect(),
        grants: list(&r.grants)?.into_iter().collect(),
        is_public: r.is_public,
        is_first_party: r.is_first_party,
        pkce_optional: r.pkce_optional,
        profile: ClientProfile {
            name: r.name,
            logo_uri: r.logo_uri,
            client_uri: r.client_uri,
            policy_uri: r.policy_uri,
            tos_uri: r.tos_uri,
        },
        created_at: r.created_at,
        disabled_at: r.disabled_at,
        secret_hash: r.secret_hash,
        id: r.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str], public: bool) -> Client {
        Client {
            id: "c".into(),
            redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
            post_logout_redirect_uris: vec![],
            scopes: BTreeSet::new(),
            grants: BTreeSet::new(),
            is_public: public,
            is_first_party: false,
            pkce_optional: false,
            profile: ClientProfile::default(),
            created_at: 0,
            disabled_at: None,
            secret_hash: None,
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(
            &["https://app.example/cb", "https://app.example/cb?x=1"],
            false,
        );
        assert!(c.match_redirect_uri("https://app.example/cb").is_some());
        assert!(c.match_redirect_uri("https://app.example/cb?x=1").is_some());
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb2",
            "https://app.example/cb?x=2",
            "https://app.example/cb?x=1&y=2",
            "https://app.example/cb#frag",
            "https://evil.example/cb",
            "https://app.example.evil.example/cb",
            "http://app.example/cb",
            "https://APP.example/cb",
            "https://app.example:443/cb",
            "https://user@app.example/cb",
            "",
        ] {
            assert!(c.match_redirect_uri(bad).is_none(), "{bad} matched");
        }
    }

    #[test]
    fn loopback_port_is_free_for_public_clients_only() {
        let public = client(&["http://127.0.0.1/cb"], true);
        assert!(
            public
                .match_redirect_uri("http://127.0.0.1:51234/cb")
                .is_some()
        );
        assert!(
            public
                .match_redirect_uri("http://127.0.0.1:51234/other")
                .is_none()
        );
        assert!(
            public
                .match_redirect_uri("http://localhost:51234/cb")
                .is_none()
        );
        let confidential = client(&["http://127.0.0.1/cb"], false);
        assert!(
            confidential
                .match_redirect_uri("http://127.0.0.1:51234/cb")
                .is_none()
        );
    }

    #[test]
    fn registration_rules() {
        assert!(validate_redirect_uri("https://app.example/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8000/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb").is_ok());
        assert!(validate_redirect_uri("http://app.example/cb").is_err());
        assert!(validate_redirect_uri("https://app.example/cb#x").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
    }

    #[test]
    fn scopes_parse() {
        let s = parse_scope("openid  email openid").unwrap();
        assert_eq!(scope_string(&s), "email openid");
        assert!(parse_scope("bad\"scope").is_err());
        assert!(parse_scope("a\\b").is_err());
        assert!(parse_scope("").unwrap().is_empty());
    }
}
