//! What the failure ladder (`ladder.rs`) answers before the password is checked: the state of
//! the challenge in the request, why a challenge is asked for, and the admission itself —
//! including which challenge an admitted attempt got past (`step_up_why.rs` reads it).

use crate::domain::captcha::PowLevel;
use crate::domain::signin::settings::Required;
use crate::events::decision::Decision;

/// The state of the challenge in this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeAnswer {
    /// No answer was sent.
    Absent,
    /// An answer was sent and was right (single use: it is spent now), to a challenge of
    /// this much work (`PowLevel::TOP` for the providers whose work is not ours to set).
    Passed(PowLevel),
    /// An answer was sent and was wrong, stale or replayed.
    Failed,
    /// No answer, but the pass of a challenge passed earlier in this attempt (`pass.rs`), of
    /// this much work.
    Held(PowLevel),
    /// A right answer (or a held pass) to a challenge of less work than the row asks
    /// (`at_least`): no answer there, and nothing tried yet. Where the ladder asks for a
    /// challenge, it shows one of the right level, counting nothing, also where the score
    /// would block a pair with few failures (`ladder::answered`); where it asks for none, the
    /// attempt goes on as without an answer.
    Short,
}

impl ChallengeAnswer {
    /// The answer as it counts where `required` work is asked for: a passed challenge (or a
    /// held pass) of less work is `Short`, so the rung shows a challenge of the right level
    /// (counting nothing). Else a puzzle fetched where it is cheap (a network or a name with
    /// no failures) would pass the rung of a source that has earned a costly one.
    pub fn at_least(self, required: Required) -> Self {
        match self {
            Self::Passed(l) if l < required.answered => Self::Short,
            Self::Held(l) if l < required.held => Self::Short,
            other => other,
        }
    }

    /// Whether an answer was sent and was right now (not a held pass).
    pub fn passed_now(self) -> bool {
        matches!(self, Self::Passed(_))
    }
}

/// Why the ladder asks for a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeReason {
    /// The account is locked for unknown sources.
    AccountLocked,
    /// The pair failed more than `AUTHD_CHALLENGE_AFTER` times in the window.
    RepeatedFailures,
    /// The risk score asks for it.
    HighRisk,
    /// The attempted account's per-instance budget (`AUTHD_RATE_LOGIN_PER_ACCOUNT`) is spent:
    /// unknown sources need a passed challenge beyond it.
    AccountBusy,
}

impl ChallengeReason {
    /// The reason, as the `login_challenged` event's decision.
    pub fn decision(self) -> Decision {
        match self {
            Self::AccountLocked => Decision::AccountLocked,
            Self::RepeatedFailures => Decision::RepeatedFailures,
            Self::HighRisk => Decision::HighRisk,
            Self::AccountBusy => Decision::RateLimitedAccount,
        }
    }
}

/// What the gate says before the password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead and check the password; if it is wrong, answer after `delay_ms` (the "delay"
    /// rung: grows with the pair's failures, so guessing slows down before any challenge).
    Admit {
        /// Milliseconds to hold a failed answer.
        delay_ms: u64,
        /// The challenge this attempt's answer got it past, if the ladder asked for one: a
        /// right password behind it, from a source the account does not know, still owes the
        /// second factor (`step_up.rs`): a CAPTCHA stops bots, not a person with the password.
        past: Option<ChallengeReason>,
    },
    /// Show a challenge first (the reason goes into the event).
    Challenge(ChallengeReason),
    /// The risk score asks for a challenge: check the password anyway (the attempt stays
    /// counted), then answer with the challenge whatever the result, so the owner can be told
    /// when the right password came from a risky place.
    CheckThenChallenge {
        /// Milliseconds to hold a failed answer.
        delay_ms: u64,
    },
    /// Refuse for `retry_after` seconds.
    Blocked {
        /// Seconds.
        retry_after: u64,
    },
}
