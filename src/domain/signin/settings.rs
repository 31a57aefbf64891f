//! The ladder's thresholds (`ProtectionSettings`, from the configuration) and what follows
//! from them for a counter row alone: the proof-of-work level a challenge asks for.

use crate::domain::captcha::PowLevel;
use crate::storage::protection::FailureState;

/// Thresholds (within a sliding window per pair).
#[derive(Debug, Clone, Copy)]
pub struct ProtectionSettings {
    /// The window failures are counted in (seconds).
    pub window_secs: i64,
    /// The window the public forms count submissions in (seconds).
    pub form_window_secs: i64,
    /// Attempts after this many failures need a passed challenge.
    pub challenge_after: i64,
    /// More failures than this block the pair.
    pub block_after: i64,
    /// The first block's length (seconds); each further block doubles it (at most a day).
    pub block_secs: i64,
    /// This many failures from unknown sources, summed over all of them, lock the account for
    /// unknown sources (they then need a challenge; known devices are untouched).
    pub lock_after: i64,
    /// How long the lock lasts (seconds).
    pub lock_secs: i64,
    /// The delay step for failed answers (milliseconds; at most 2 s in all).
    pub delay_ms: u64,
    /// Risk scores at or above this, with the right password, need the account's strongest
    /// second factor (docs/mfa.md); accounts with none get the CAPTCHA as before.
    pub step_up_at: f64,
    /// How long an e-mailed code is valid (seconds).
    pub email_code_ttl_secs: i64,
    /// Failed answers after which a pending step-up is dropped (the sign-in starts again).
    pub step_up_max_failures: u32,
}

impl Default for ProtectionSettings {
    fn default() -> Self {
        Self {
            window_secs: 900,
            form_window_secs: 300,
            challenge_after: 3,
            block_after: 10,
            block_secs: 300,
            lock_after: 30,
            lock_secs: 3600,
            delay_ms: 250,
            step_up_at: 0.5,
            email_code_ttl_secs: 600,
            step_up_max_failures: 5,
        }
    }
}

/// The proof-of-work level a challenge on this row asks for: it rises with the row's failures
/// past the challenge threshold, its earlier blocks and the account lock
/// (`PowLevel::for_history`), so a source that keeps failing pays more for each attempt.
/// Unknown names have rows, blocks and locks like accounts, so the level tells nothing about
/// whether an account exists.
pub fn work(settings: &ProtectionSettings, state: &FailureState, now: i64) -> PowLevel {
    PowLevel::for_history(
        state.failures - settings.challenge_after,
        state.blocks,
        state.account_locked_until.is_some_and(|u| u > now),
    )
}

/// The least work an answer must have done to count on a row (`ChallengeAnswer::at_least`).
/// A challenge of less work was fetched elsewhere (another network, another name's row) and
/// is no answer there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Required {
    /// For an answer sent with this attempt: the row's level before the attempt, which is
    /// what the form showed (the challenge shown after the previous attempt, or up front).
    pub answered: PowLevel,
    /// For a pass held since the previous attempt (which passed its challenge, then failed on
    /// something else and counted): the row's level before that attempt.
    pub held: PowLevel,
}

/// What `state`, whose `failures` include the attempt that carries the answer, requires.
pub fn work_required(settings: &ProtectionSettings, state: &FailureState, now: i64) -> Required {
    let back = |n: i64| {
        let before = FailureState {
            failures: state.failures - n,
            ..*state
        };
        work(settings, &before, now)
    };
    Required {
        answered: back(1),
        held: back(2),
    }
}
