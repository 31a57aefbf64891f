//! Injected time and randomness: nothing in authd reads the wall clock or the OS RNG directly,
//! so tests can move time forward and reproduce ids.

use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// `t` in unix milliseconds (saturating far in the future).
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the wall clock
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<OffsetDateTime>,
}

impl FakeClock {
    /// A fake clock starting at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The injected clock seen through governor's `Clock` trait, so every rate window (the
/// throttle's buckets, the refusal-event budget) moves with the same time as the rest of authd:
/// with a `FakeClock` a budget refills only when a test advances the clock, never because the
/// machine was slow.
#[derive(Debug, Clone)]
pub struct RateClock(pub std::sync::Arc<dyn Clock>);

impl governor::clock::Clock for RateClock {
    type Instant = governor::nanos::Nanos;

    fn now(&self) -> Self::Instant {
        let since_epoch = self.0.now() - OffsetDateTime::UNIX_EPOCH;
        // Before 1970 (never in practice) saturates to zero rather than wrapping.
        governor::nanos::Nanos::new(u64::try_from(since_epoch.whole_nanoseconds()).unwrap_or(0))
    }
}

/// A source of random bytes (for CSRF tokens, ids and generated secrets).
pub trait Random: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A URL-safe random token of `bytes` bytes of entropy.
    fn token(&self, bytes: usize) -> String {
        use base64::Engine;
        let mut buf = vec![0u8; bytes];
        self.fill(&mut buf);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        use rand::Rng;
        rand::rng().fill_bytes(buf);
    }
}

/// Randomness that is all zeros, for tests that check a value comes from the injected source.
#[cfg(test)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ZeroRandom;

#[cfg(test)]
impl Random for ZeroRandom {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_advances() {
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let clock = FakeClock::new(start);
        clock.advance(Duration::minutes(5));
        assert_eq!(clock.now(), start + Duration::minutes(5));
    }

    #[test]
    fn rate_clock_follows_the_injected_clock() {
        use governor::clock::{Clock as _, Reference as _};
        let fake = std::sync::Arc::new(FakeClock::new(
            time::macros::datetime!(2026-01-01 00:00 UTC),
        ));
        let rate = RateClock(fake.clone());
        let before = rate.now();
        fake.advance(Duration::seconds(3));
        let after = rate.now();
        assert_eq!(
            after.duration_since(before),
            governor::nanos::Nanos::from(std::time::Duration::from_secs(3))
        );
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = OsRandom.token(32);
        let b = OsRandom.token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
