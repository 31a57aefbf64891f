//! The failure ladder every sign-in (and public form) climbs: failure counters per
//! (account, source) pair, the rungs allow → delay → challenge → block, an account-wide lock
//! against distributed guessing, and the known-device exemption that keeps the owner in during
//! an attack.
//!
//! A *source* is the signed device cookie when the browser carries a valid one for this
//! account, otherwise the client network (IPv4 address, IPv6 /64). Attempts are counted
//! *before* the password is checked, in one atomic statement, so parallel requests cannot run
//! more password checks than the block threshold allows; a success clears the pair, a refusal
//! that never reached the password check is taken back.

use std::net::IpAddr;
use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::domain::risk::Verdict;
use crate::domain::risk::features::prefix_of;
use crate::domain::risk::service::SignInFacts;
pub use crate::domain::signin::admission::{Admission, ChallengeAnswer, ChallengeReason};
use crate::domain::signin::devices::DeviceClaim;
use crate::domain::signin::keys::{CounterKey, Pair, Source};
pub use crate::domain::signin::settings::ProtectionSettings;
use crate::domain::signin::settings::work_required;
use crate::storage::AccountRecord;
use crate::storage::protection::{FailureState, FailureStore, SignInKeys};
use crate::storage::risk::ProfileKey;

/// What a sign-in's lookup needs, before it knows the account.
#[derive(Debug, Clone, Copy)]
pub struct SignInLookup<'a> {
    /// The normalised email to look up (`None`: not an email, no account can match).
    pub email: Option<&'a str>,
    /// The typed username, normalised: the counter's account side when no account matches.
    pub name: &'a str,
    /// The browser's validly signed device cookie, if any (it counts only for its own user).
    pub device: Option<&'a DeviceClaim>,
    /// The client address: the source is its network unless the device cookie counts.
    pub ip: IpAddr,
}

/// A counted attempt: what the ladder looked up and counted on the way.
#[derive(Debug, Clone)]
pub struct Counted {
    /// The account the username names, if any.
    pub account: Option<AccountRecord>,
    /// The counter row the attempt was counted on.
    pub pair: Pair,
    /// The row's state after counting this attempt.
    pub state: FailureState,
    /// When (unix seconds).
    pub now: i64,
}

impl Counted {
    /// What the risk engine scores of this attempt, with the password as typed; `stand_in`
    /// is the stand-in point of the typed name (`stand_in.rs`), used when it names no account.
    pub fn facts<'a>(&'a self, password: &'a [u8], stand_in: &'a str) -> SignInFacts<'a> {
        SignInFacts {
            profile: self
                .account
                .as_ref()
                .map_or(ProfileKey::StandIn(stand_in), |a| ProfileKey::User(&a.id)),
            pair: &self.pair,
            pair_failures: self.state.failures,
            password,
        }
    }
}

/// The ladder. Cheap to clone.
#[derive(Clone)]
pub struct Ladder {
    pub(super) store: Arc<dyn FailureStore>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: ProtectionSettings,
}

impl std::fmt::Debug for Ladder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ladder")
    }
}

impl Ladder {
    /// Builds the ladder over the counter store.
    pub fn new(
        store: Arc<dyn FailureStore>,
        clock: Arc<dyn Clock>,
        settings: ProtectionSettings,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
        }
    }

    /// Takes back one counted attempt of `pair`.
    pub(super) async fn uncount(&self, pair: &Pair) -> Result<(), Unexpected> {
        Ok(self
            .store
            .uncount(&pair.account.encode(), &pair.source.encode())
            .await?)
    }

    /// The thresholds.
    pub fn settings(&self) -> &ProtectionSettings {
        &self.settings
    }

    /// The sign-in's step before the password check: looks up the account named by the email
    /// and counts the attempt in the same round trip (the counter row depends on the account:
    /// `user:<id>`, or the typed name when none matches; the source is the device when the
    /// cookie is that account's, else the network). The decision follows in `decide_sign_in`,
    /// once the risk score is known.
    pub async fn count_sign_in(&self, l: &SignInLookup<'_>) -> Result<Counted, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let unknown = CounterKey::Name(l.name.to_owned()).encode();
        // The cookie counts only for its account at the epoch it names (`owner_at_epoch`).
        let device = l.device.map(|c| {
            let key = Source::Device(c.device.clone()).encode();
            (c, c.owner_at_epoch(), key)
        });
        let net = Source::net(l.ip);
        let net_key = net.encode();
        // The /24 or /48, kept on the row for the risk engine's per-prefix counts.
        let prefix = prefix_of(l.ip);
        let keys = SignInKeys {
            email: l.email,
            unknown_account: &unknown,
            device: device
                .as_ref()
                .map(|(_, owner, key)| (owner.as_str(), key.as_str())),
            net: &net_key,
            prefix: &prefix,
            now,
            window_cutoff: now - self.settings.window_secs,
        };
        let counted = self.store.find_and_count(&keys).await?;
        // The store picked the row; read its choice back.
        let source = match device {
            Some((c, _, key)) if key == counted.source => Source::Device(c.device.clone()),
            _ => net,
        };
        let account = CounterKey::decode(&counted.account_key).ok_or_else(|| {
            Unexpected(anyhow::anyhow!("the counter store counted an unknown key"))
        })?;
        Ok(Counted {
            account: counted.account,
            pair: Pair::new(account, source),
            state: counted.state,
            now,
        })
    }

    /// A passwordless (passkey) sign-in's count on a pair known up front (the account its
    /// answer claims, from the device or network), counted before the assertion is checked
    /// like a password attempt; then `decide_sign_in` as usual.
    pub async fn count_pair(&self, pair: Pair, ip: IpAddr) -> Result<Counted, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let (account, source) = (pair.account.encode(), pair.source.encode());
        let prefix = prefix_of(ip);
        let cutoff = now - self.settings.window_secs;
        let state = self
            .store
            .count_attempt(&account, &source, Some(prefix.as_str()), now, cutoff)
            .await?;
        Ok(Counted {
            account: None,
            pair,
            state,
            now,
        })
    }

    /// The ladder for a counted sign-in, with the risk engine's verdict as one more signal: a
    /// `Block` verdict refuses for `AUTHD_BLOCK_SECS` (not stored: the next attempt is scored
    /// again), a `Challenge` verdict needs a passed challenge like repeated failures do.
    /// `account_busy`: the account's per-instance budget is spent (a passed challenge is
    /// needed beyond it, so it is neither a 429 for the owner nor an unlimited oracle).
    pub async fn decide_sign_in(
        &self,
        c: &Counted,
        answer: ChallengeAnswer,
        risk: Verdict,
        account_busy: bool,
    ) -> Result<Admission, Unexpected> {
        if risk == Verdict::Block {
            self.uncount(&c.pair).await?;
            return Ok(Admission::Blocked {
                retry_after: u64::try_from(self.settings.block_secs).unwrap_or(300),
            });
        }
        let risk_reason = (risk == Verdict::Challenge).then_some(ChallengeReason::HighRisk);
        self.decide(c, answer, risk_reason, account_busy).await
    }

    /// The ladder, given the pair's state after counting this attempt.
    async fn decide(
        &self,
        c: &Counted,
        answer: ChallengeAnswer,
        risk_reason: Option<ChallengeReason>,
        account_busy: bool,
    ) -> Result<Admission, Unexpected> {
        let (s, st, now) = (&self.settings, c.state, c.now);
        if let Some(until) = st.blocked_until.filter(|u| *u > now) {
            self.uncount(&c.pair).await?;
            return Ok(Admission::Blocked {
                retry_after: u64::try_from(until - now).unwrap_or(1).max(1),
            });
        }
        if st.failures > s.block_after {
            let exp = u32::try_from(st.blocks.clamp(0, 8)).unwrap_or(8);
            let length = (s.block_secs * 2_i64.pow(exp)).min(86_400);
            self.store
                .block(
                    &c.pair.account.encode(),
                    &c.pair.source.encode(),
                    now + length,
                )
                .await?;
            return Ok(Admission::Blocked {
                retry_after: u64::try_from(length).unwrap_or(1),
            });
        }
        let locked =
            !c.pair.source.is_known_device() && st.account_locked_until.is_some_and(|u| u > now);
        let reason = if locked {
            Some(ChallengeReason::AccountLocked)
        } else if st.failures > s.challenge_after {
            Some(ChallengeReason::RepeatedFailures)
        } else if account_busy {
            Some(ChallengeReason::AccountBusy)
        } else {
            risk_reason
        };
        // The first failure is free; each further one in the window adds a step.
        let steps = u64::try_from((st.failures - 1).max(0)).unwrap_or(0);
        let delay_ms = (steps * s.delay_ms).min(2_000);
        match (reason, answer) {
            (None, _) => Ok(Admission::Admit {
                delay_ms,
                past: None,
            }),
            (Some(r), ChallengeAnswer::Passed(_) | ChallengeAnswer::Held(_)) => {
                Ok(Admission::Admit {
                    delay_ms,
                    past: Some(r),
                })
            }
            (Some(r), ChallengeAnswer::Absent) if Some(r) == risk_reason => {
                Ok(Admission::CheckThenChallenge { delay_ms })
            }
            (Some(r), ChallengeAnswer::Absent | ChallengeAnswer::Short) => {
                // Nothing was tried yet: showing the challenge costs the source nothing.
                self.uncount(&c.pair).await?;
                Ok(Admission::Challenge(r))
            }
            // A wrong answer counts as a failure: bots guessing challenges still get blocked.
            (Some(r), ChallengeAnswer::Failed) => Ok(Admission::Challenge(r)),
        }
    }

    /// Step after a successful password check: clears the pair and stores the success event,
    /// and the account's updated risk `profile` when given, in the same round trip (the event
    /// write happens anyway, so the clear and the profile cost almost nothing).
    pub async fn succeed(
        &self,
        pair: &Pair,
        event: &crate::events::AuthEvent,
        profile: Option<crate::storage::risk::ProfileWrite<'_>>,
    ) -> Result<(), Unexpected> {
        Ok(self
            .store
            .clear_with_event(
                &pair.account.encode(),
                &pair.source.encode(),
                event,
                profile,
            )
            .await?)
    }

    /// Takes back a counted attempt that turned out to carry the right password but was still
    /// refused (the risk challenge): it was not a failure.
    pub async fn take_back(&self, pair: &Pair) -> Result<(), Unexpected> {
        self.uncount(pair).await
    }

    /// Step after a failed password check: the attempt already counted for the pair; from an
    /// unknown source it also counts account-wide, and `true` means it locked the account.
    pub async fn record_failure(&self, pair: &Pair) -> Result<bool, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        if pair.source.is_known_device() {
            return Ok(false);
        }
        let s = &self.settings;
        let (account, all) = (pair.account.encode(), Source::All.encode());
        let st = self
            .store
            .count_attempt(&account, &all, None, now, now - s.window_secs)
            .await?;
        if st.failures >= s.lock_after && st.blocked_until.is_none_or(|u| u <= now) {
            self.store.block(&account, &all, now + s.lock_secs).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A wrong second-factor answer after the right password: counts on the pair like a
    /// wrong password, and account-wide from unknown sources (`true`: it locked the account).
    pub async fn count_failure(&self, pair: &Pair) -> Result<bool, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        self.store
            .count_attempt(
                &pair.account.encode(),
                &pair.source.encode(),
                None,
                now,
                now - self.settings.window_secs,
            )
            .await?;
        self.record_failure(pair).await
    }

    /// Lifts every block and lock of an account; `true` if there was anything to lift.
    pub async fn unlock(&self, account: &CounterKey) -> Result<bool, Unexpected> {
        Ok(self.store.clear_account(&account.encode()).await? > 0)
    }

    /// Lifts the account's rows of `sources` only (`Source::All` is the account-wide lock);
    /// `true` if there was anything to lift.
    pub async fn unlock_sources(
        &self,
        account: &CounterKey,
        sources: &[Source],
    ) -> Result<bool, Unexpected> {
        let sources: Vec<String> = sources.iter().map(Source::encode).collect();
        Ok(self
            .store
            .clear_sources(&account.encode(), &sources)
            .await?
            > 0)
    }

    /// The request's challenge answer as it counts on `c`'s row — a challenge of less work
    /// than the row asked before this attempt is none (`ChallengeAnswer::at_least`,
    /// `settings::work_required`) — and the score's verdict given that answer (`answered`).
    pub(super) fn weigh(
        &self,
        answer: ChallengeAnswer,
        risk: Verdict,
        c: &Counted,
    ) -> (ChallengeAnswer, Verdict) {
        let answer = answer.at_least(work_required(&self.settings, &c.state, c.now));
        (answer, answered(risk, answer, c))
    }
}

/// Failures a source may have on a name before this attempt and still have a passed challenge
/// lift the score's block: an owner's mistypes, not a guesser's run.
pub(super) const ANSWERED_FAILURES: i64 = 2;

/// The score's verdict for an attempt that carries `answer` on the pair `c` counted it on: a
/// passed challenge (or one held from earlier in this attempt) on a pair with at most
/// `ANSWERED_FAILURES` before it is a person's answer, so the score then
/// challenges — the password is checked, and a right one from a risky place meets the step-up
/// when the account has a second factor — instead of blocking. Else an owner on a new phone
/// and network who mistyped once while the account is under attack would be refused for the
/// rest of the window, whatever they answered. Past that the block stands, answered or not: a
/// guesser who solves CAPTCHAs still gets no more than a few checks per source and window.
pub(super) fn answered(risk: Verdict, answer: ChallengeAnswer, c: &Counted) -> Verdict {
    // A too-cheap answer is a person's too: the block gives way to the challenge, which then
    // asks for the right level (`decide_sign_in`), not to a refusal for the rest of the window.
    let person = answer.clears_rung() || answer == ChallengeAnswer::Short;
    // The pair's failures include this attempt (it was counted first).
    if risk == Verdict::Block && person && c.state.failures - 1 <= ANSWERED_FAILURES {
        Verdict::Challenge
    } else {
        risk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(failures: i64) -> Counted {
        Counted {
            account: None,
            pair: Pair::new(CounterKey::Name("n".into()), Source::All),
            state: FailureState {
                failures,
                blocked_until: None,
                blocks: 0,
                account_locked_until: None,
            },
            now: 0,
        }
    }

    #[test]
    fn a_persons_answer_turns_the_scores_block_into_a_challenge_while_failures_are_few() {
        let level = crate::domain::captcha::PowLevel::FIRST;
        let few = counted(ANSWERED_FAILURES + 1);
        // A too-cheap answer too: the challenge then asks for the right level, never a 429.
        for answer in [
            ChallengeAnswer::Passed(level),
            ChallengeAnswer::Held(level),
            ChallengeAnswer::Short,
        ] {
            assert_eq!(answered(Verdict::Block, answer, &few), Verdict::Challenge);
        }
        for answer in [ChallengeAnswer::Absent, ChallengeAnswer::Failed] {
            assert_eq!(answered(Verdict::Block, answer, &few), Verdict::Block);
        }
        let many = counted(ANSWERED_FAILURES + 2);
        assert_eq!(
            answered(Verdict::Block, ChallengeAnswer::Short, &many),
            Verdict::Block
        );
    }
}
