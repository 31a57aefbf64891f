//! OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414): only what authd really does.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::config::Config;
use crate::domain::tokens::alg::SigningAlg;
use crate::http::oauth::paths;

/// `GET /.well-known/openid-configuration`.
pub async fn discovery_get(State(config): State<Arc<Config>>) -> Json<Value> {
    let iss = config.issuer_str();
    let at = |p: &str| format!("{iss}{p}");
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": at(paths::AUTHORIZE),
        "token_endpoint": at(paths::TOKEN),
        "userinfo_endpoint": at(paths::USERINFO),
        "jwks_uri": at(paths::JWKS),
        "introspection_endpoint": at(paths::INTROSPECT),
        "revocation_endpoint": at(paths::REVOKE),
        "end_session_endpoint": at(paths::END_SESSION),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
        "acr_values_supported": [crate::domain::mfa::ACR_MFA, crate::domain::mfa::ACR_PASSWORD],
        "claims_supported": ["sub", "iss", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash",
            "acr", "amr", "sid", "email", "email_verified", "name", "updated_at"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
}
