//! The gate for the other public forms (register, forgot password): every submission from a
//! network counts (`form:<form>` × `net:<network>`, in `AUTHD_FORM_WINDOW_SECS`); past
//! `AUTHD_CHALLENGE_AFTER` in the window each submission needs a passed CAPTCHA. It never
//! blocks: a shared address (an office, a carrier-grade NAT) stays usable by whoever solves the
//! challenge, and the per-minute rate limits stay the flood guard.

use crate::domain::context::RequestContext;
use crate::domain::signin::LoginService;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{CounterKey, Pair, Source};
use crate::domain::signin::ladder::ChallengeAnswer;
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
            if answer == ChallengeAnswer::Passed {
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
