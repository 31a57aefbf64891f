//! Session lifetime policy. The HTTP layer stores the timestamps in the server-side session;
//! this module alone decides whether a session is still valid, using the injected clock, and
//! whether a sign-in may be kept longer ("keep me signed in": never for an admin account).

use time::{Duration, OffsetDateTime};

/// Idle timeout and absolute lifetime of a signed-in session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub lifetime: Duration,
    /// "Keep me signed in": such a session ends after this long unused (and at the latest this
    /// long, or `lifetime` if longer, after sign-in); zero = not offered.
    pub remember_idle: Duration,
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

    /// The longest any session may stay idle, and live: a remembered one's when offered (the
    /// session index keeps its rows that long; a shorter session's row goes with the session).
    pub fn longest(&self) -> (Duration, Duration) {
        if self.remember_offered() {
            (self.remember_idle, self.lifetime.max(self.remember_idle))
        } else {
            (self.idle_timeout, self.lifetime)
        }
    }

    /// Whether the sign-in form offers "keep me signed in".
    pub fn remember_offered(&self) -> bool {
        self.remember_idle > self.idle_timeout
    }

    /// The idle timeout a new sign-in gets when its user `asked` to be kept signed in, if it
    /// is granted: never for an admin account (the operator console's sessions stay short).
    pub fn remember_for(&self, asked: bool, is_admin: bool) -> Option<Duration> {
        (asked && !is_admin && self.remember_offered()).then_some(self.remember_idle)
    }

    /// Judges a session signed in at `authenticated_at` and last seen at `last_seen`;
    /// `remembered`: it was granted "keep me signed in" (`remember_for`).
    pub fn check(
        &self,
        now: OffsetDateTime,
        authenticated_at: OffsetDateTime,
        last_seen: OffsetDateTime,
        remembered: bool,
    ) -> SessionState {
        let (idle, lifetime) = if remembered {
            self.longest()
        } else {
            (self.idle_timeout, self.lifetime)
        };
        if now - authenticated_at >= lifetime {
            SessionState::LifetimeExpired
        } else if now - last_seen >= idle {
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
        remember_idle: Duration::days(30),
    };

    #[test]
    fn fresh_session_is_active() {
        let t = datetime!(2026-01-01 10:00 UTC);
        assert_eq!(
            POLICY.check(t, t, t, false),
            SessionState::Active { touch: false }
        );
        assert_eq!(
            POLICY.check(t + Duration::minutes(2), t, t, false),
            SessionState::Active { touch: true }
        );
    }

    #[test]
    fn idle_and_lifetime_expire() {
        let t = datetime!(2026-01-01 10:00 UTC);
        assert_eq!(
            POLICY.check(t + Duration::minutes(30), t, t, false),
            SessionState::IdleExpired
        );
        let late = t + Duration::hours(12);
        assert_eq!(
            POLICY.check(late, t, late - Duration::minutes(1), false),
            SessionState::LifetimeExpired
        );
    }

    #[test]
    fn a_remembered_session_idles_longer_and_admins_are_never_remembered() {
        let t = datetime!(2026-01-01 10:00 UTC);
        let later = t + Duration::days(2);
        assert_eq!(
            POLICY.check(later, t, later - Duration::days(1), true),
            SessionState::Active { touch: true }
        );
        assert_eq!(
            POLICY.check(later, t, later - Duration::days(1), false),
            SessionState::LifetimeExpired
        );
        let end = t + Duration::days(31);
        assert_eq!(
            POLICY.check(end, t, end - Duration::minutes(1), true),
            SessionState::LifetimeExpired
        );
        assert_eq!(POLICY.remember_for(true, false), Some(Duration::days(30)));
        assert_eq!(POLICY.remember_for(true, true), None, "admin");
        assert_eq!(POLICY.remember_for(false, false), None);
        let off = SessionPolicy {
            remember_idle: Duration::ZERO,
            ..POLICY
        };
        assert!(!off.remember_offered());
        assert_eq!(off.remember_for(true, false), None);
    }
}
