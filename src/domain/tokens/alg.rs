//! The signing algorithms authd knows, as its own type: the key ring, the token formats and the
//! configuration speak `SigningAlg`; `jsonwebtoken::Algorithm` appears only at the JWT edge
//! (`to_jwt`/`from_jwt`), so an algorithm authd does not sign with cannot be named here.

/// An algorithm authd signs tokens with (one active key each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)] // the JOSE names (RFC 7518, RFC 8037)
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (ID tokens: OIDC requires it).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, in the order keys are generated.
    pub const ALL: [Self; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    /// The JOSE name (`alg` in headers and JWKs, the `AUTHD_ACCESS_TOKEN_ALG` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name; `None` for any algorithm authd does not sign with.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The jsonwebtoken algorithm.
    pub fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Ours, if a jsonwebtoken algorithm is one of them (the inverse of `to_jwt`; jsonwebtoken's
    /// enum is `non_exhaustive`, so the mapping runs through `to_jwt` rather than a match).
    pub fn from_jwt(alg: jsonwebtoken::Algorithm) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.to_jwt() == alg)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_jsonwebtoken_mapping_round_trip() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Some(alg));
            assert_eq!(SigningAlg::from_jwt(alg.to_jwt()), Some(alg));
            assert_eq!(format!("{:?}", alg.to_jwt()), alg.as_str());
        }
        for other in ["HS256", "none", "RS384", "PS256", "ES384", "es256", ""] {
            assert_eq!(SigningAlg::parse(other), None, "{other}");
        }
        for other in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::RS384,
            jsonwebtoken::Algorithm::PS256,
            jsonwebtoken::Algorithm::ES384,
        ] {
            assert_eq!(SigningAlg::from_jwt(other), None, "{other:?}");
        }
    }
}
