//! The gate for the other public forms (register, forgot password): every submission from a
//! network counts on the same ladder as sign-ins (`form:<form>` × `net:<network>`); past
//! `AUTHD_CHALLENGE_AFTER` in the window a CAPTCHA is needed, past `AUTHD_BLOCK_AFTER` the
//! network is blocked for a while.

use crate::domain::context::RequestContext;
use crate::domain::signin::LoginService;
use crate::domain::signin::error::SignInError;
use crate::domain::signin::keys::{CounterKey, Pair, Source};
use crate::domain::signin::ladder::{Admission, ChallengeAnswer};
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
    /// CAPTCHA) or `RateLimited` (blocked) when the network has submitted too often.
    pub async fn gate_form(
        &self,
        ctx: &RequestContext,
        form: Form,
        answer: ChallengeAnswer,
    ) -> Result<(), SignInError> {
        let pair = Pair::new(CounterKey::Form(form), Source::net(ctx.ip));
        let event = |kind| AuthEvent::new(kind, ctx, self.clock.now()).decision(form.decision());
        match self.protection.ladder.admit(&pair, answer).await? {
            Admission::Admit { .. } => {
                if answer == ChallengeAnswer::Passed {
                    self.events
                        .record(event(EventKind::ChallengePassed))
                        .await?;
                }
                Ok(())
            }
            Admission::Challenge(_) | Admission::CheckThenChallenge { .. } => {
                if answer == ChallengeAnswer::Failed {
                    self.events
                        .record(event(EventKind::ChallengeFailed))
                        .await?;
                }
                self.events
                    .record(event(EventKind::LoginChallenged))
                    .await?;
                Err(SignInError::ChallengeRequired)
            }
            Admission::Blocked { retry_after } => {
                self.events.record(event(EventKind::LoginBlocked)).await?;
                Err(SignInError::RateLimited { retry_after })
            }
        }
    }
}
