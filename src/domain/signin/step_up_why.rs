//! Why a right password still owes a second factor (`step_up.rs` asks for it): the risk
//! score, a challenge got past from a source the account does not know, or the owner's or a
//! client's ask — each with the event decision it is recorded under and whether the owner is
//! alerted.

use crate::domain::mfa::Factor;
use crate::domain::signin::ladder::ChallengeReason;
use crate::domain::signin::settle::AfterCheck;
use crate::events::decision::Decision;

/// Why a sign-in is stepped up.
#[derive(Debug, Clone, PartialEq)]
pub struct StepUpReason {
    /// The factors on offer, strongest first (never empty).
    pub offered: Vec<Factor>,
    /// What asked for it.
    pub why: Why,
    /// The account has signed in from this request's network before (the e-mailed code's
    /// budget, `mail/outbox.rs`).
    pub familiar_network: bool,
}

/// What asked for a step-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The risk score reached `AUTHD_STEP_UP_AT`.
    Risky,
    /// The right password came from a source the account does not know, past a challenge the
    /// ladder asked for (a lock, repeated failures, a spent budget, a risk score): a CAPTCHA
    /// stops bots, not a person who has the password.
    PastChallenge,
    /// The owner's setting, or a client's `acr_values`.
    Asked,
}

impl Why {
    /// Whether the owner is told someone with the password is at the door.
    pub(super) fn alerts(self) -> bool {
        matches!(self, Self::Risky | Self::PastChallenge)
    }

    /// The `login_challenged` event's decision.
    pub(super) fn decision(self) -> Decision {
        match self {
            Self::Risky => Decision::HighRiskRightPassword,
            Self::PastChallenge => Decision::ChallengedRightPassword,
            Self::Asked => Decision::StepUpRequired,
        }
    }
}

/// What, besides the risk score, may ask a right password for a second factor.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Asks {
    /// A client's `acr_values` asked for one.
    pub(super) forced: bool,
    /// The challenge the attempt got past (`Admission::Admit`).
    pub(super) past: Option<ChallengeReason>,
}

impl Asks {
    /// The client's ask, and the challenge the ladder's answer says was got past.
    pub(super) fn new(forced: bool, after: AfterCheck) -> Self {
        let past = match after {
            AfterCheck::Answer { past, .. } => past,
            AfterCheck::Challenge => None,
        };
        Self { forced, past }
    }
}
