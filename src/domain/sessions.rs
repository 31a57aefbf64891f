//! Session lifetime policy. The HTTP layer stores the timestamps in the server-side session;
//! this module alone decides whether a session is still valid, using the injected clock.

use time::{Duration, OffsetDateTime};

/// Idle timeout and absolute lifetime of a signed-in session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub lifetime: Duration,
}

/// The verdict on a session at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Still valid; `touch` says whether `last_seen` should be written back.
    Active {
        /// Whether to persist a new last-seen time (limits writes to one a minute).
        touch: bool,
    },
    /// Idle for longer than the idle timeout.
    IdleExpired,
    /// Older than the absolute lifetime.
    LifetimeExpired,
}

impl SessionPolicy {
    /// How often, at most, `last_seen` is written back (bounds session-store writes).
    pub const TOUCH_EVERY: Duration = Duration::seconds(60);

    /// Judges a session signed in at `authenticated_at` and last seen at `last_seen`.
    pub fn check(
        &self,
        now: OffsetDateTime,
        authenticated_at: OffsetDateTime,
        last_seen: OffsetDateTime,
    ) -> SessionState {
        if now - authenticated_at >= self.lifetime {
            SessionState::LifetimeExpired
        } else if now - last_seen >= self.idle_timeout {
            SessionState::IdleExpired
        } else {
            SessionState::Active {
                touch: now - last_seen >= Self::TOUCH_EVERY,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const POLICY: SessionPolicy = SessionPolicy {
        idle_timeout: Duration::minutes(30),
        lifetime: Duration::hours(12),
    };

    #[test]
    fn fresh_session_is_active() {
        let t = datetime!(2026-01-01 10:00 UTC);
        assert_eq!(POLICY.check(t, t, t), SessionState::Active { touch: false });
        assert_eq!(
            POLICY.check(t + Duration::minutes(2), t, t),
            SessionState::Active { touch: true }
        );
    }

    #[test]
    fn idle_and_lifetime_expire() {
        let t = datetime!(2026-01-01 10:00 UTC);
        assert_eq!(
            POLICY.check(t + Duration::minutes(30), t, t),
            SessionState::IdleExpired
        );
        let late = t + Duration::hours(12);
        assert_eq!(
            POLICY.check(late, t, late - Duration::minutes(1)),
            SessionState::LifetimeExpired
        );
    }
}
