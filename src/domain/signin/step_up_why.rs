//! Whether and why a right password still owes a second factor (`step_up_owed`; `step_up.rs`
//! asks for it): the risk score, a challenge got past from a source the account does not know,
//! or the owner's or a client's ask — each with the event decision it is recorded under and
//! whether the owner is alerted.

use time::OffsetDateTime;

use crate::domain::accounts::model::Account;
use crate::domain::error::Unexpected;
use crate::domain::mfa::Factor;
use crate::domain::risk::service::Assessment;
use crate::domain::signin::LoginService;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::ladder::ChallengeAnswer;
use crate::domain::signin::settle::{AfterCheck, Outcome};
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
    /// ladder asked for (a lock, repeated failures, a spent budget, a risk score) or that the
    /// request answered after its reason was gone: a CAPTCHA stops bots, not a person who has
    /// the password.
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
    /// The attempt got past a challenge: one the ladder asked for (`Admission::Admit`'s
    /// `past`), or one the request answered (a passed CAPTCHA, or the pass of one, `pass.rs`)
    /// whether or not the ladder still asks for it. The reason it was shown for can be gone by
    /// the answer (a failure out of the window, a wave over, a retrained model scoring lower),
    /// and a person who has the password solves a CAPTCHA as easily as the owner.
    pub(super) past_challenge: bool,
    /// The score asks for the CAPTCHA after the password check (`AfterCheck::Challenge`), and
    /// no answer came with the attempt.
    pub(super) challenge_pending: bool,
}

impl Asks {
    /// The client's ask, and whether the ladder's answer or the request's shows a challenge
    /// got past.
    pub(super) fn new(forced: bool, after: AfterCheck, answer: ChallengeAnswer) -> Self {
        let asked = matches!(after, AfterCheck::Answer { past: Some(_), .. });
        Self {
            forced,
            past_challenge: asked || answer.clears_rung(),
            challenge_pending: matches!(after, AfterCheck::Challenge),
        }
    }
}

impl LoginService {
    /// Step 8, first: the step-up (as the answer to give) when the right password still owes
    /// a second factor.
    pub(super) async fn step_up_owed(
        &self,
        o: &Outcome<'_>,
        verified: Option<&Account>,
        assessment: &Assessment,
        asks: Asks,
        now: OffsetDateTime,
    ) -> Result<Option<SignInError>, Unexpected> {
        let Some(a) = verified else {
            return Ok(None);
        };
        // An operator who put the risk's challenge below the step-up (`AUTHD_RISK_CHALLENGE_AT`
        // < `AUTHD_STEP_UP_AT`, docs/mfa.md) wants no oracle: an attempt the score sends to the
        // CAPTCHA meets it, right password or wrong, and the step-up only once it is passed.
        let step_up_at = self.protection.ladder.settings().step_up_at;
        if asks.challenge_pending && self.risk.challenge_at() < step_up_at {
            return Ok(None);
        }
        let unknown = !o.pair.source.is_known_device();
        match self.step_up_reason(a, assessment, asks, unknown).await? {
            Some(why) => Ok(Some(self.begin_step_up(o, a, why, now).await?)),
            None => Ok(None),
        }
    }

    /// Whether the right password still owes a second factor, and which: a risky score, a
    /// challenge got past from an `unknown` source, the owner's setting or the client's ask.
    async fn step_up_reason(
        &self,
        account: &Account,
        assessment: &Assessment,
        asks: Asks,
        unknown: bool,
    ) -> Result<Option<StepUpReason>, Unexpected> {
        let why = if assessment.score >= self.protection.ladder.settings().step_up_at {
            Why::Risky
        } else if asks.past_challenge && unknown {
            Why::PastChallenge
        } else if account.require_mfa || asks.forced {
            Why::Asked
        } else {
            return Ok(None);
        };
        let offered = self.factors(account).await?.offered();
        let familiar_network = assessment
            .profile
            .as_ref()
            .is_some_and(|p| p.knows_network(&assessment.observed.prefix));
        Ok((!offered.is_empty()).then_some(StepUpReason {
            offered,
            why,
            familiar_network,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::captcha::PowLevel;
    use crate::domain::signin::ladder::ChallengeReason;

    #[test]
    fn an_answered_challenge_counts_as_past_even_when_the_ladder_no_longer_asks() {
        let admitted = AfterCheck::Answer {
            delay_ms: 0,
            past: None,
        };
        let cases = [
            (ChallengeAnswer::Absent, false),
            (ChallengeAnswer::Failed, false),
            (ChallengeAnswer::Passed(PowLevel::FIRST), true),
            (ChallengeAnswer::Held(PowLevel::TOP), true),
        ];
        for (answer, past) in cases {
            let asks = Asks::new(false, admitted, answer);
            assert_eq!(asks.past_challenge, past, "{answer:?}");
        }
        let asked = AfterCheck::Answer {
            delay_ms: 0,
            past: Some(ChallengeReason::RepeatedFailures),
        };
        let asks = Asks::new(false, asked, ChallengeAnswer::Absent);
        assert!(asks.past_challenge);
    }
}
