//! The builtin CAPTCHA's proof of work: the puzzle (`PowPuzzle`, made by `puzzle`) and how much
//! work it asks for (`PowLevel`). `captcha.rs` issues and checks it; `/static/pow.js` solves it.

use crate::domain::clients::hex_lower;
use crate::domain::clock::Random;

/// A proof-of-work puzzle (the ALTCHA scheme, without its signature: the solution is kept in
/// the server-side session instead).
#[derive(Debug, Clone)]
pub struct PowPuzzle {
    /// Random salt (hex).
    pub salt: String,
    /// SHA-256 (hex) of `salt` followed by the decimal solution.
    pub hash: String,
    /// The largest possible solution (the work factor).
    pub max: u64,
    /// The work level the puzzle was made for.
    pub level: PowLevel,
}

/// How much work a challenge asks for. The level rises with the source's history (see
/// `PowLevel::for_history`); the expected cost is half of `max` SHA-256 evaluations. Measured
/// on the benchmark machine (docs/benchmarks.md, "CAPTCHA proof of work"): a native solver does
/// about 7 million a second per core, the page's worker script about 2 million in Chromium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PowLevel(u8);

impl PowLevel {
    /// The first challenge a source meets: a few milliseconds natively, well under a second in a
    /// browser.
    pub const FIRST: Self = Self(0);
    /// The highest level: seconds natively per attempt, about ten seconds in a desktop browser.
    pub const TOP: Self = Self(3);

    /// The level for a source that has failed `failures_beyond` times past the challenge
    /// threshold (in the ladder's window), with `blocks` earlier blocks of the pair and the
    /// account `locked` for unknown sources: each two failures past the threshold, each block
    /// and the lock raise it by one, up to `TOP`.
    pub fn for_history(failures_beyond: i64, blocks: i64, locked: bool) -> Self {
        let raise = failures_beyond.max(0) / 2 + blocks.max(0) + i64::from(locked);
        Self(raise.min(i64::from(Self::TOP.0)) as u8)
    }

    /// The level as a number (0 ..= 3).
    pub fn get(self) -> u8 {
        self.0
    }

    /// The level a number names (as `get` gave it); past the top, the top.
    pub fn from_number(n: u8) -> Self {
        Self(n.min(Self::TOP.0))
    }

    /// The largest solution at this level.
    pub fn max(self) -> u64 {
        match self.0 {
            0 => 100_000,
            1 => 1_000_000,
            2 => 8_000_000,
            _ => 40_000_000,
        }
    }

    /// Whether the image (typed) answer is still accepted at this level.
    pub fn image_allowed(self) -> bool {
        self.0 < 2
    }
}

/// A new puzzle at `level`, drawn from `random`: its solution and what the page shows.
pub(crate) fn puzzle(random: &dyn Random, level: PowLevel) -> (u64, PowPuzzle) {
    use sha2::Digest;
    let mut bytes = [0u8; 24];
    random.fill(&mut bytes);
    let (salt_bytes, n_bytes) = bytes.split_at(16);
    let salt = hex_lower(salt_bytes);
    let mut nb = [0u8; 8];
    nb.copy_from_slice(n_bytes);
    let n = u64::from_le_bytes(nb) % (level.max() + 1);
    let digest = sha2::Sha256::digest(format!("{salt}{n}").as_bytes());
    let hash = hex_lower(&digest);
    (
        n,
        PowPuzzle {
            salt,
            hash,
            max: level.max(),
            level,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_rises_with_the_sources_history() {
        assert_eq!(PowLevel::for_history(0, 0, false), PowLevel::FIRST);
        assert_eq!(PowLevel::for_history(1, 0, false), PowLevel::FIRST);
        assert_eq!(PowLevel::for_history(2, 0, false).get(), 1);
        assert_eq!(PowLevel::for_history(0, 1, true).get(), 2);
        assert_eq!(PowLevel::for_history(50, 9, true), PowLevel::TOP);
        assert_eq!(PowLevel::for_history(-5, -1, false), PowLevel::FIRST);
        let maxes: Vec<u64> = (0..=3).map(|l| PowLevel(l).max()).collect();
        assert!(maxes.windows(2).all(|w| w[1] >= 5 * w[0]), "{maxes:?}");
    }
}
