//! Why a bearer token was refused. The reason is recorded in the `token_rejected` event's
//! `decision` (never the token itself); `as_str` is that recorded text, so it must not change.

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRejection {
    /// No bearer token was sent.
    Missing,
    /// The request's client context could not be resolved.
    Context,
    /// Longer than any token authd issues.
    TooLarge,
    /// Not a JWT, or its claims do not decode.
    Malformed,
    /// The header points at a key (`jku`, `x5u`, `jwk`, `x5c`): never followed.
    EmbeddedKeyReference,
    /// The header's `typ` is not the expected one (an ID token used as an access token).
    WrongType,
    /// The header names no `kid`.
    MissingKid,
    /// The `kid` is empty, too long or has characters no key id of ours has.
    BadKid,
    /// No published key has that `kid`.
    UnknownKid,
    /// The header's algorithm is not the key's own.
    AlgorithmMismatch,
    /// The signature does not verify.
    BadSignature,
    /// Another issuer.
    WrongIssuer,
    /// Past `exp` (with the leeway).
    Expired,
    /// Before `nbf` (with the leeway).
    NotYetValid,
    /// `aud` is not the client the token was issued to.
    WrongAudience,
    /// The token was revoked.
    Revoked,
    /// The token's grant was revoked.
    GrantRevoked,
    /// The subject no longer exists.
    UnknownSubject,
    /// The subject's account is disabled (`Account::may_sign_in`).
    SubjectDisabled,
    /// The calling client no longer exists.
    UnknownClient,
}

impl TokenRejection {
    /// Every reason.
    pub const ALL: [Self; 20] = [
        Self::Missing,
        Self::Context,
        Self::TooLarge,
        Self::Malformed,
        Self::EmbeddedKeyReference,
        Self::WrongType,
        Self::MissingKid,
        Self::BadKid,
        Self::UnknownKid,
        Self::AlgorithmMismatch,
        Self::BadSignature,
        Self::WrongIssuer,
        Self::Expired,
        Self::NotYetValid,
        Self::WrongAudience,
        Self::Revoked,
        Self::GrantRevoked,
        Self::UnknownSubject,
        Self::SubjectDisabled,
        Self::UnknownClient,
    ];

    /// The reason as recorded in `token_rejected` events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Context => "context",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::EmbeddedKeyReference => "embedded_key_reference",
            Self::WrongType => "wrong_type",
            Self::MissingKid => "missing_kid",
            Self::BadKid => "bad_kid",
            Self::UnknownKid => "unknown_kid",
            Self::AlgorithmMismatch => "algorithm_mismatch",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongAudience => "wrong_audience",
            Self::Revoked => "revoked",
            Self::GrantRevoked => "grant_revoked",
            Self::UnknownSubject => "unknown_subject",
            Self::SubjectDisabled => "subject_disabled",
            Self::UnknownClient => "unknown_client",
        }
    }
}

impl std::fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token check's verdict: the claims, or why the token was refused. Infrastructure failures
/// travel outside it, as `Result<Verified<T>, Unexpected>`.
pub type Verified<T> = Result<T, TokenRejection>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_reasons_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in TokenRejection::ALL {
            let s = r.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert_eq!(r.to_string(), s);
        }
    }
}
