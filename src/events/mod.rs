//! Auth events: every security-relevant step is one `AuthEvent`, stored and traced.
//! This file holds the vocabulary only (no I/O); `sink` stores and emits.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::context::RequestContext;
use crate::events::decision::Decision;

/// Decisions: the stable code beside each event's readable `decision`.
pub mod decision;
/// The stable code of each decision.
mod decision_code;
/// The readable text of each decision.
mod decision_text;
/// Group commit: concurrent events share one transaction.
pub mod group_commit;
/// Storing and tracing events.
pub mod sink;
/// The SQLite event spool: `token_issued` and `risk_evaluated` written to a file, stored by the
/// writer after.
pub mod spool;

/// The kinds of auth event (INTERFACE.md). No catch-all: a new kind is a deliberate change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // the names are the documentation; see INTERFACE.md
pub enum EventKind {
    LoginSucceeded,
    LoginFailed,
    LoginChallenged,
    ChallengePassed,
    ChallengeFailed,
    LoginBlocked,
    RateLimited,
    AccountLocked,
    AccountUnlocked,
    SessionCreated,
    SessionRevoked,
    Logout,
    TokenIssued,
    TokenRefreshed,
    TokenRejected,
    RefreshReuseDetected,
    TokenRevoked,
    PasswordChanged,
    PasswordResetRequested,
    UserRegistered,
    MfaEnrolled,
    MfaRemoved,
    MfaSettingChanged,
    EmailVerified,
    AlertSent,
    /// An alert the rate window held back (one new-sign-in or attack mail an hour): recorded
    /// with the alert's decision, so the owner's history shows it was not silently dropped.
    AlertSkipped,
    RiskEvaluated,
    AttackDetected,
    AdminAction,
    ProfileUpdated,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 30] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginChallenged,
        Self::ChallengePassed,
        Self::ChallengeFailed,
        Self::LoginBlocked,
        Self::RateLimited,
        Self::AccountLocked,
        Self::AccountUnlocked,
        Self::SessionCreated,
        Self::SessionRevoked,
        Self::Logout,
        Self::TokenIssued,
        Self::TokenRefreshed,
        Self::TokenRejected,
        Self::RefreshReuseDetected,
        Self::TokenRevoked,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::UserRegistered,
        Self::MfaEnrolled,
        Self::MfaRemoved,
        Self::MfaSettingChanged,
        Self::EmailVerified,
        Self::AlertSent,
        Self::AlertSkipped,
        Self::RiskEvaluated,
        Self::AttackDetected,
        Self::AdminAction,
        Self::ProfileUpdated,
    ];

    /// The snake_case name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginChallenged => "login_challenged",
            Self::ChallengePassed => "challenge_passed",
            Self::ChallengeFailed => "challenge_failed",
            Self::LoginBlocked => "login_blocked",
            Self::RateLimited => "rate_limited",
            Self::AccountLocked => "account_locked",
            Self::AccountUnlocked => "account_unlocked",
            Self::SessionCreated => "session_created",
            Self::SessionRevoked => "session_revoked",
            Self::Logout => "logout",
            Self::TokenIssued => "token_issued",
            Self::TokenRefreshed => "token_refreshed",
            Self::TokenRejected => "token_rejected",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::TokenRevoked => "token_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::UserRegistered => "user_registered",
            Self::MfaEnrolled => "mfa_enrolled",
            Self::MfaRemoved => "mfa_removed",
            Self::MfaSettingChanged => "mfa_setting_changed",
            Self::EmailVerified => "email_verified",
            Self::AlertSent => "alert_sent",
            Self::AlertSkipped => "alert_skipped",
            Self::RiskEvaluated => "risk_evaluated",
            Self::AttackDetected => "attack_detected",
            Self::AdminAction => "admin_action",
            Self::ProfileUpdated => "profile_updated",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// A risk assessment attached to an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Risk {
    /// Score in [0, 1].
    pub score: f64,
    /// Human-readable reasons, most important first.
    pub reasons: Vec<String>,
    /// The numeric features the score was computed from (the risk engine's training input;
    /// names in docs/risk.md). Absent where nothing was scored from features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<f64>>,
}

/// One auth event, with exactly the INTERFACE fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthEvent {
    /// Unique id (UUID v7, time-ordered).
    pub id: String,
    /// When it happened (RFC 3339 on the wire).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ts: OffsetDateTime,
    /// What happened.
    pub kind: EventKind,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The account concerned, when known.
    pub user_id: Option<String>,
    /// The username as typed, when a login was attempted.
    pub username: Option<String>,
    /// The OAuth client concerned, when known.
    pub client_id: Option<String>,
    /// Risk assessment, where scored.
    pub risk: Option<Risk>,
    /// The decision taken (`allow`, `deny`, `challenge`, `block`, ...).
    pub decision: Option<String>,
    /// The same decision as a stable code (stored beside the readable text above; not on the
    /// wire: the INTERFACE shows the text). Set together with it by `decision*`.
    #[serde(skip)]
    pub decision_code: Option<Decision>,
    /// The request that caused it.
    pub request_id: Option<String>,
}

impl AuthEvent {
    /// Longest username kept in an event (it is attacker-controlled input).
    pub const MAX_USERNAME: usize = 320;

    /// A new event of `kind` in the context `ctx`, at `ts`.
    pub fn new(kind: EventKind, ctx: &RequestContext, ts: OffsetDateTime) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            ts,
            kind,
            ip: Some(ctx.ip.to_string()),
            user_agent: Some(ctx.user_agent.clone()),
            user_id: None,
            username: None,
            client_id: None,
            risk: None,
            decision: None,
            decision_code: None,
            request_id: Some(ctx.request_id.clone()),
        }
    }

    /// Sets the user id.
    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    /// Sets the username as typed (cleaned of control characters and truncated).
    pub fn username(mut self, typed: &str) -> Self {
        self.username = Some(
            typed
                .chars()
                .filter(|c| !c.is_control())
                .take(Self::MAX_USERNAME)
                .collect(),
        );
        self
    }

    /// Sets the risk assessment.
    pub fn risk(mut self, risk: Option<Risk>) -> Self {
        self.risk = risk;
        self
    }

    /// Sets the decision (its text is `decision.text()`).
    pub fn decision(self, decision: Decision) -> Self {
        self.decision_as(decision, decision.text())
    }

    /// Sets the decision with a detail: the text is `<decision.text()>; <detail>`.
    pub fn decision_detail(self, decision: Decision, detail: &str) -> Self {
        self.decision_as(decision, format!("{}; {detail}", decision.text()))
    }

    /// Sets the decision with its own readable text (a rejection reason, an OAuth error).
    pub fn decision_as(mut self, decision: Decision, text: impl Into<String>) -> Self {
        self.decision = Some(text.into());
        self.decision_code = Some(decision);
        self
    }
}

/// Filters for listing events; all optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Only this user id.
    pub user_id: Option<String>,
    /// Only this IP.
    pub ip: Option<String>,
    /// Only at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only before this time.
    pub until: Option<OffsetDateTime>,
    /// Only this decision (matched on the stored code; rows older than the code column have
    /// none and never match).
    pub decision: Option<Decision>,
    /// Only this OAuth client.
    pub client_id: Option<String>,
    /// Only events older than this position: the previous page's `next` (keyset pagination).
    pub before: Option<EventCursor>,
    /// At most this many (clamped to 1..=1000).
    pub limit: u32,
}

/// A position in the event log, newest first: events after it (older) make the next page. It is
/// the event's insertion order, so events sharing a timestamp are neither repeated nor skipped,
/// and events written meanwhile never shift a page. On the wire an opaque decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor(pub i64);

impl EventCursor {
    /// Reads a cursor as `Display` writes it; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(Self)
    }
}

impl std::fmt::Display for EventCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One page of events, newest first, and where the next one starts (`None`: no older event
/// matches).
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    /// The events.
    pub events: Vec<AuthEvent>,
    /// The cursor of the next (older) page, if there is one.
    pub next: Option<EventCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        let all = EventKind::ALL;
        for k in all {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }

    #[test]
    fn username_is_cleaned_and_bounded() {
        let ctx = RequestContext::new("10.0.0.1".parse().unwrap(), "ua", "rid".into());
        let e = AuthEvent::new(EventKind::LoginFailed, &ctx, OffsetDateTime::UNIX_EPOCH)
            .username(&format!("a\nb{}", "x".repeat(1000)));
        let u = e.username.unwrap();
        assert!(u.starts_with("ab"));
        assert_eq!(u.chars().count(), AuthEvent::MAX_USERNAME);
    }
}
