//! The sign-in area's error: what a sign-in (and the register/forgot form gate, which runs the
//! same ladder) can answer besides success. The other sign-in calls (session events, unlock,
//! "wasn't you?") can only fail unexpectedly and return the shared `Unexpected`.

use crate::domain::accounts::password::HashError;
use crate::domain::captcha::PowLevel;
use crate::domain::error::unexpected_from;
use crate::domain::mfa::pending::PendingStepUp;

/// Everything a sign-in or a gated form can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email or password (deliberately indistinguishable).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The attempt needs a passed challenge first (the form shows one), of this much work
    /// (the builtin CAPTCHA's proof of work rises with the source's history).
    #[error("challenge required")]
    ChallengeRequired {
        /// The proof-of-work level to ask for.
        work: PowLevel,
    },
    /// The password was right and a second factor is owed: keep this pending step-up in the
    /// session (which stays signed out) and show its challenge.
    #[error("step-up required")]
    StepUpRequired(Box<PendingStepUp>),
    /// Too many attempts from this network or on this account, or the pair is blocked.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry can pass.
        retry_after: u64,
    },
    /// The password-hashing pool is saturated; try again shortly.
    #[error("password hashing is saturated")]
    Busy {
        /// Seconds after which a retry is sensible.
        retry_after: u64,
    },
    /// An infrastructure failure (database, pool, thread).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(SignInError);

impl From<HashError> for SignInError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy { retry_after } => Self::Busy { retry_after },
            HashError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
