//! The gate for the other public forms (register, forgot password): every submission from a
//! network counts (`form:<form>` × `net:<network>`, in `AUTHD_FORM_WINDOW_SECS`); past
//! `AUTHD_CHALLENGE_AFTER` in the window each submission needs a passed CAPTCHA. It never
//! blocks: a shared address (an office, a carrier-grade NAT) stays usable by whoever solves the
//! challenge, and the per-minute rate limits stay the flood guard.

use crate::domain::captcha::PowLevel;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{CounterKey, Pair, Source};
use crate::domain::signin::ladder::{ChallengeAnswer, Ladder};
use crate::domain::signin::settings::{work, work_required};
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

/// A public form with its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// `POST /register`.
    Register,
    /// `POST /password/forgot`.
    Forgot,
}

impl Form {
    /// Its name in counter keys and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Forgot => "forgot",
        }
    }

    /// The form, as its gate's events' decision.
    pub fn decision(self) -> Decision {
        match self {
            Self::Register => Decision::FormRegister,
            Self::Forgot => Decision::FormForgot,
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Register, Self::Forgot]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

impl LoginService {
    /// The gate for `form`: counts the submission and answers `ChallengeRequired` (show the
    /// CAPTCHA) when the network has submitted too often without a passed challenge.
    pub async fn gate_form(
        &self,
        ctx: &RequestContext,
        form: Form,
        answer: ChallengeAnswer,
    ) -> Result<(), SignInError> {
        let pair = Pair::new(CounterKey::Form(form), Source::net(ctx.ip));
        let event = |kind| AuthEvent::new(kind, ctx, self.clock.now()).decision(form.decision());
        let Some(work) = self.protection.ladder.admit_form(&pair, answer).await? else {
            if answer.passed_now() {
                self.events
                    .record(event(EventKind::ChallengePassed))
                    .await?;
            }
            return Ok(());
        };
        if answer == ChallengeAnswer::Failed {
            self.events
                .record(event(EventKind::ChallengeFailed))
                .await?;
        }
        self.events
            .record(event(EventKind::LoginChallenged))
            .await?;
        Err(SignInError::ChallengeRequired { work })
    }
}

/// The gate's count and answer (the ladder's rows, in the form window).
impl Ladder {
    /// A public form's step: counts the submission on `pair` in the form window; `None`
    /// admits it, `Some(work)` asks for a challenge of that much work. Never a block: past
    /// `challenge_after` submissions from a network in the window each one needs a passed
    /// challenge, so a shared address (an office, a carrier-grade NAT) is never shut out,
    /// while a bot pays a challenge per submission.
    pub async fn admit_form(
        &self,
        pair: &Pair,
        answer: ChallengeAnswer,
    ) -> Result<Option<PowLevel>, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let state = self
            .store
            .count_attempt(
                &pair.account.encode(),
                &pair.source.encode(),
                None,
                now,
                now - self.settings.form_window_secs,
            )
            .await?;
        // A challenge of less work than this network's row now asks is no answer.
        let answer = answer.at_least(work_required(&self.settings, &state, now));
        if state.failures <= self.settings.challenge_after || answer.clears_rung() {
            return Ok(None);
        }
        if matches!(answer, ChallengeAnswer::Absent | ChallengeAnswer::Short) {
            // Nothing was submitted yet: showing the challenge costs the network nothing.
            self.uncount(pair).await?;
        }
        Ok(Some(work(&self.settings, &state, now)))
    }
}
