//! What the admin API does, one call per endpoint: search the event log with the operator's
//! filters, label an event for training, train a model now. The handlers in `http/admin/`
//! extract, call one function here and map the result. No axum, no sqlx.

use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::accounts::service::AccountService;
use crate::domain::clock::Clock;
use crate::domain::error::unexpected_from;
use crate::domain::risk::service::RiskService;
use crate::domain::risk::training::{TrainReport, TrainingError, train_and_store};
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::risk::RiskStore;

/// Longest `user` or `ip` filter accepted (an email is at most 254, a user id 36).
const MAX_FILTER_LEN: usize = 320;
/// Longest event id accepted when labelling.
const MAX_EVENT_ID_LEN: usize = 64;

/// Everything an admin API call can answer besides success (the bearer check in front of it
/// answers `BearerError`).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A filter or a label is malformed; the message is safe to send.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// An infrastructure failure (database, thread), or the fit itself failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(AdminError);

impl From<TrainingError> for AdminError {
    fn from(e: TrainingError) -> Self {
        match e {
            TrainingError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// Event-log filters as the operator typed them (all optional; empty means absent).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// An event kind, e.g. `login_failed`.
    pub kind: Option<String>,
    /// A user id or an email address.
    pub user: Option<String>,
    /// A client IP.
    pub ip: Option<String>,
    /// Only events at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many (clamped to 1–1000, default 100).
    pub limit: Option<u32>,
}

/// Whom a `user` filter names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UserRef {
    Email(String),
    Id(String),
}

fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

impl EventQuery {
    /// The filter, with the user still to resolve. Filters reach SQL as bound values; control
    /// characters (PostgreSQL text has no NUL) and oversized values are malformed.
    fn parse(self) -> Result<(EventFilter, Option<UserRef>), AdminError> {
        let kind = match present(self.kind.as_deref()) {
            Some(k) => {
                Some(EventKind::parse(k).ok_or(AdminError::InvalidInput("unknown event kind"))?)
            }
            None => None,
        };
        let since = match present(self.since.as_deref()) {
            Some(s) => Some(
                OffsetDateTime::parse(s, &Rfc3339)
                    .map_err(|_| AdminError::InvalidInput("since must be RFC 3339"))?,
            ),
            None => None,
        };
        let bad = |v: Option<&str>| {
            v.is_some_and(|v| v.len() > MAX_FILTER_LEN || v.chars().any(char::is_control))
        };
        if bad(self.user.as_deref()) || bad(self.ip.as_deref()) {
            return Err(AdminError::InvalidInput(
                "user and ip must be printable and short",
            ));
        }
        let user = present(self.user.as_deref()).map(|u| {
            if u.contains('@') {
                UserRef::Email(u.to_owned())
            } else {
                UserRef::Id(u.to_owned())
            }
        });
        let filter = EventFilter {
            kind,
            user_id: None,
            ip: self.ip.filter(|i| !i.is_empty()),
            since,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        };
        Ok((filter, user))
    }
}

/// The admin API's operations.
#[derive(Clone)]
pub struct AdminService {
    accounts: AccountService,
    events: EventSink,
    risk: RiskService,
    risk_store: Arc<dyn RiskStore>,
    clock: Arc<dyn Clock>,
    /// How far back training reads the event log.
    training_window: time::Duration,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminService")
    }
}

impl AdminService {
    /// The service over the accounts, the event log and the risk engine.
    pub fn new(
        accounts: AccountService,
        events: EventSink,
        risk: RiskService,
        risk_store: Arc<dyn RiskStore>,
        clock: Arc<dyn Clock>,
        training_window: time::Duration,
    ) -> Self {
        Self {
            accounts,
            events,
            risk,
            risk_store,
            clock,
            training_window,
        }
    }

    /// Auth events matching `query`, newest first. A `user` given as an email is looked up;
    /// an unknown email matches nothing, not everything.
    pub async fn search_events(&self, query: EventQuery) -> Result<Vec<AuthEvent>, AdminError> {
        let (mut filter, user) = query.parse()?;
        filter.user_id = match user {
            Some(UserRef::Email(email)) => Some(
                self.accounts
                    .find_by_email(&email)
                    .await?
                    .map_or_else(|| format!("unknown:{email}"), |a| a.id),
            ),
            Some(UserRef::Id(id)) => Some(id),
            None => None,
        };
        Ok(self.events.list(&filter).await?)
    }

    /// Labels the event `event_id` as an attack or legitimate (a later label replaces it);
    /// returns the id as stored (trimmed).
    pub async fn label_event(&self, event_id: &str, attack: bool) -> Result<String, AdminError> {
        let id = event_id.trim();
        if id.is_empty() || id.len() > MAX_EVENT_ID_LEN || id.chars().any(char::is_control) {
            return Err(AdminError::InvalidInput("event_id is not an event id"));
        }
        let now = self.clock.now().unix_timestamp();
        self.risk_store.label(id, attack, now).await?;
        Ok(id.to_owned())
    }

    /// Fits a candidate now and, when it does no worse than the model in use, stores it and
    /// loads it on this instance (the others pick it up within 30 s).
    pub async fn train(&self) -> Result<TrainReport, AdminError> {
        let report =
            train_and_store(&self.risk_store, &self.clock, self.training_window, &|_| {}).await?;
        self.risk.reload().await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(f: impl FnOnce(&mut EventQuery)) -> EventQuery {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    }

    fn refused(q: EventQuery) -> &'static str {
        match q.parse() {
            Err(AdminError::InvalidInput(m)) => m,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn empty_filters_mean_absent_and_the_limit_is_clamped() {
        let (f, user) = query(|q| {
            q.kind = Some(String::new());
            q.user = Some(String::new());
            q.ip = Some(String::new());
            q.since = Some(String::new());
        })
        .parse()
        .unwrap();
        assert!(f.kind.is_none() && f.ip.is_none() && f.since.is_none() && user.is_none());
        assert_eq!(f.limit, 100);
        assert_eq!(query(|q| q.limit = Some(0)).parse().unwrap().0.limit, 1);
        assert_eq!(
            query(|q| q.limit = Some(5000)).parse().unwrap().0.limit,
            1000
        );
    }

    #[test]
    fn filters_are_parsed() {
        let (f, user) = query(|q| {
            q.kind = Some("login_failed".into());
            q.since = Some("2026-01-02T03:04:05Z".into());
            q.ip = Some("192.0.2.7".into());
            q.user = Some("a@example.com".into());
        })
        .parse()
        .unwrap();
        assert_eq!(f.kind, Some(EventKind::LoginFailed));
        assert_eq!(
            f.since.map(OffsetDateTime::unix_timestamp),
            Some(1_767_323_045)
        );
        assert_eq!(f.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(user, Some(UserRef::Email("a@example.com".into())));
        let (_, user) = query(|q| q.user = Some("0190-id".into())).parse().unwrap();
        assert_eq!(user, Some(UserRef::Id("0190-id".into())));
    }

    #[test]
    fn malformed_filters_are_refused() {
        assert_eq!(
            refused(query(|q| q.kind = Some("nope".into()))),
            "unknown event kind"
        );
        assert_eq!(
            refused(query(|q| q.since = Some("yesterday".into()))),
            "since must be RFC 3339"
        );
        assert_eq!(
            refused(query(|q| q.user = Some("a\u{0}b".into()))),
            "user and ip must be printable and short"
        );
        assert_eq!(
            refused(query(|q| q.ip = Some("1".repeat(321)))),
            "user and ip must be printable and short"
        );
    }
}
