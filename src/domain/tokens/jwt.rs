//! Access tokens (RFC 9068 JWT profile) and ID tokens (OIDC Core §2), signing and validation.
//!
//! Validation is strict by construction: the header must name a `kid` we published, the
//! algorithm must be that key's own (so `none`, or HS256 keyed with our public RSA key, never
//! verify), `jku`/`x5u`/`jwk`/`x5c` headers are refused outright (we never fetch keys a token
//! points at), and `iss`, `exp` and `nbf` are checked against the injected clock.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::error::Unexpected;
use crate::domain::tokens::alg::SigningAlg;
use crate::domain::tokens::keys::{KeyRing, SigningKey};
use crate::domain::tokens::rejection::{TokenRejection, Verified};
use crate::domain::tokens::verified;

/// Longest token accepted for validation (ours are well under 2 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Clock skew tolerated on `exp`/`nbf`, in seconds.
pub const LEEWAY: i64 = 5;

/// Claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user id, or the client id for client-credentials tokens.
    pub sub: String,
    /// Audience: the client the token was issued to.
    pub aud: String,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique id (revocation key).
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scope, space-separated.
    pub scope: String,
    /// When the user authenticated (absent for client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The authentication context class of that sign-in (RFC 9068 §2.2.1; absent for client
    /// credentials): `/risk/evaluate` asks for a step-up when it is weaker than the risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The grant (token family) the token belongs to; revoking it revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AccessClaims {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// Claims of an ID token (OIDC Core §2, §3.1.3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Issuer.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Authorized party (the client).
    pub azp: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user authenticated.
    pub auth_time: i64,
    /// The request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of SHA-256 of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Authentication context class.
    pub acr: String,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// The grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Email (with the `email` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email was verified (with the `email` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The user's name (with the `profile` scope, when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the user's profile last changed, unix seconds (with the `profile` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// `at_hash` (OIDC Core §3.1.3.6) for SHA-256-based algorithms.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

fn sign<T: Serialize>(
    ring: &KeyRing,
    alg: SigningAlg,
    typ: &str,
    claims: &T,
) -> Result<String, Unexpected> {
    let key = ring.signer(alg)?;
    let mut header = Header::new(alg.to_jwt());
    header.typ = Some(typ.to_owned());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
        .map_err(|e| Unexpected(anyhow::anyhow!("signing failed: {e}")))
}

/// Signs an access token with the active key of `alg` (`typ: at+jwt`).
pub fn sign_access(
    ring: &KeyRing,
    alg: SigningAlg,
    claims: &AccessClaims,
) -> Result<String, Unexpected> {
    sign(ring, alg, "at+jwt", claims)
}

/// Signs an ID token with the active RS256 key.
pub fn sign_id(ring: &KeyRing, claims: &IdClaims) -> Result<String, Unexpected> {
    sign(ring, SigningAlg::RS256, "JWT", claims)
}

/// Checks the header and signature of `token` against our keys and `issuer`, and decodes the
/// claims; with them, the key that verified the signature. `exp`/`nbf` are left to the caller,
/// which owns the clock.
async fn verify_signed<T: for<'de> Deserialize<'de>>(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    expected_typ: &[&str],
) -> Result<Verified<(T, Arc<SigningKey>)>, Unexpected> {
    if token.len() > MAX_TOKEN_LEN {
        return Ok(Err(TokenRejection::TooLarge));
    }
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(Err(TokenRejection::Malformed));
    };
    if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() || header.x5c.is_some()
    {
        return Ok(Err(TokenRejection::EmbeddedKeyReference));
    }
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|t| expected_typ.iter().any(|e| t.eq_ignore_ascii_case(e)));
    if !typ_ok {
        return Ok(Err(TokenRejection::WrongType));
    }
    let Some(kid) = header.kid.as_deref() else {
        return Ok(Err(TokenRejection::MissingKid));
    };
    if kid.is_empty()
        || kid.len() > 64
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(Err(TokenRejection::BadKid));
    }
    let Some(key) = ring.verifier(kid).await? else {
        return Ok(Err(TokenRejection::UnknownKid));
    };
    if SigningAlg::from_jwt(header.alg) != Some(key.alg) {
        return Ok(Err(TokenRejection::AlgorithmMismatch));
    }
    let mut validation = Validation::new(key.alg.to_jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer]);
    match jsonwebtoken::decode::<T>(token, &key.decoding, &validation) {
        Ok(data) => Ok(Ok((data.claims, key))),
        Err(e) => Ok(Err(match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenRejection::AlgorithmMismatch,
            // Every other decoding failure (ErrorKind is non_exhaustive): the claims are bad.
            _ => TokenRejection::Malformed,
        })),
    }
}

/// Validates an access token at `now` (unix seconds). A token whose signature this instance
/// verified before, under a key the ring still publishes, skips the signature verification
/// (`tokens::verified`); every other check runs on every call.
pub async fn verify_access(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<Verified<AccessClaims>, Unexpected> {
    let digest = (token.len() <= MAX_TOKEN_LEN).then(|| verified::digest(token));
    let remembered = digest
        .as_ref()
        .and_then(|d| ring.memo().get(d, |key| ring.still_publishes(key)))
        .filter(|c| c.iss == issuer);
    let (claims, verified_by) = match remembered {
        Some(claims) => (claims, None),
        None => {
            let typ = ["at+jwt", "application/at+jwt"];
            match verify_signed::<AccessClaims>(ring, token, issuer, &typ).await? {
                Ok((claims, key)) => (claims, Some(key)),
                Err(r) => return Ok(Err(r)),
            }
        }
    };
    if claims.exp + LEEWAY <= now {
        return Ok(Err(TokenRejection::Expired));
    }
    if claims.nbf > now + LEEWAY {
        return Ok(Err(TokenRejection::NotYetValid));
    }
    if claims.aud != claims.client_id {
        return Ok(Err(TokenRejection::WrongAudience));
    }
    if let (Some(d), Some(key)) = (digest, verified_by) {
        ring.memo().put(d, key, &claims, now);
    }
    Ok(Ok(claims))
}

/// Validates an ID token used as `id_token_hint`: signature and issuer only (an expired hint
/// is still a fine statement of who is signing out).
pub async fn verify_id_hint(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
) -> Result<Option<IdClaims>, Unexpected> {
    Ok(verify_signed::<IdClaims>(ring, token, issuer, &["JWT"])
        .await?
        .ok()
        .map(|(claims, _)| claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core appendix A.3: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
