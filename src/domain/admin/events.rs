//! The event log as the operator searches it, for the admin API and the console's events
//! explorer alike: the filters as typed (`EventQuery`) checked into an `EventFilter`, one page
//! with the next page's cursor (`AdminService::search_events`), and the bounded export of a
//! filtered view in chunks (`AdminService::export_events`, `EventExport`). No axum, no sqlx.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::domain::admin::{AdminError, AdminService};
use crate::domain::context::RequestContext;
use crate::domain::operator::Operator;
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventCursor, EventFilter, EventKind, EventPage};

/// Longest `user`, `ip` or `client` filter accepted (an email is at most 254, a user id 36).
const MAX_FILTER_LEN: usize = 320;
/// Most events one export holds (the newest that match; narrow `since`/`until`, or resume
/// with `cursor`, for more).
pub const EXPORT_MAX_ROWS: u32 = 100_000;
/// Events read per round trip while exporting.
const EXPORT_CHUNK: u32 = 1000;

/// Event-log filters as the operator typed them (all optional; empty means absent).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// An event kind, e.g. `login_failed`.
    pub kind: Option<String>,
    /// A user id or an email address.
    pub user: Option<String>,
    /// A client IP.
    pub ip: Option<String>,
    /// Only events at or after this time.
    pub since: Option<String>,
    /// Only events before this time.
    pub until: Option<String>,
    /// A decision: its stable code (`deny`, `factor_email`) or its text (`rate_limited:ip`).
    pub decision: Option<String>,
    /// An OAuth client id.
    pub client: Option<String>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
    /// At most this many (clamped to 1–1000, default 100).
    pub limit: Option<u32>,
}

impl EventQuery {
    /// The filters given, as `name=value` pairs (`all` when none): what an export is recorded
    /// as taking.
    fn describe(&self) -> String {
        let pairs = [
            ("kind", &self.kind),
            ("user", &self.user),
            ("ip", &self.ip),
            ("since", &self.since),
            ("until", &self.until),
            ("decision", &self.decision),
            ("client", &self.client),
            ("cursor", &self.cursor),
        ];
        let given: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={v}")))
            .collect();
        if given.is_empty() {
            "all".to_owned()
        } else {
            given.join(" ")
        }
    }
}

/// Whom a `user` filter names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UserRef {
    Email(String),
    Id(String),
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// A time as RFC 3339, or without an offset as a browser's date-time field sends it
/// (`2026-11-30T10:00`, seconds optional) or a bare date, both taken as UTC.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let date = format_description!("[year]-[month]-[day]");
    PrimitiveDateTime::parse(s, minutes)
        .or_else(|_| PrimitiveDateTime::parse(s, seconds))
        .or_else(|_| Date::parse(s, date).map(Date::midnight))
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// A decision by its code or, failing that, its readable text.
fn parse_decision(s: &str) -> Option<Decision> {
    Decision::from_code(s).or_else(|| Decision::ALL.into_iter().find(|d| d.text() == s))
}

impl EventQuery {
    /// The filter, with the user still to resolve. Filters reach SQL as bound values; control
    /// characters (PostgreSQL text has no NUL) and oversized values are malformed.
    fn parse(self) -> Result<(EventFilter, Option<UserRef>), AdminError> {
        let invalid = AdminError::InvalidInput;
        let kind = present(self.kind.as_deref())
            .map(|k| EventKind::parse(k).ok_or(invalid("unknown event kind")))
            .transpose()?;
        let time = |v: Option<&str>, msg| present(v).map(|s| parse_time(s).ok_or(invalid(msg)));
        let since = time(self.since.as_deref(), "since must be RFC 3339").transpose()?;
        let until = time(self.until.as_deref(), "until must be RFC 3339").transpose()?;
        if let (Some(s), Some(u)) = (since, until)
            && s >= u
        {
            return Err(invalid("since must be before until"));
        }
        let decision = present(self.decision.as_deref())
            .map(|d| parse_decision(d).ok_or(invalid("unknown decision")))
            .transpose()?;
        let before = present(self.cursor.as_deref())
            .map(|c| EventCursor::parse(c).ok_or(invalid("cursor is not one this server gave")))
            .transpose()?;
        let bad = |v: Option<&str>| {
            v.is_some_and(|v| v.len() > MAX_FILTER_LEN || v.chars().any(char::is_control))
        };
        if bad(self.user.as_deref()) || bad(self.ip.as_deref()) || bad(self.client.as_deref()) {
            return Err(invalid("user, ip and client must be printable and short"));
        }
        let user = present(self.user.as_deref()).map(|u| {
            if u.contains('@') {
                UserRef::Email(u.to_owned())
            } else {
                UserRef::Id(u.to_owned())
            }
        });
        let owned = |v: Option<&str>| present(v).map(str::to_owned);
        let filter = EventFilter {
            kind,
            user_id: None,
            // An address in any spelling (upper case, zeros written out, IPv4-mapped) as the
            // events store it; anything else as typed (it matches nothing).
            ip: present(self.ip.as_deref()).map(|ip| match ip.parse::<std::net::IpAddr>() {
                Ok(a) => a.to_canonical().to_string(),
                Err(_) => ip.to_owned(),
            }),
            since,
            until,
            decision,
            client_id: owned(self.client.as_deref()),
            before,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        };
        Ok((filter, user))
    }
}

/// An export under way: the filtered view read in chunks, newest first, up to
/// `EXPORT_MAX_ROWS` events.
pub struct EventExport {
    events: EventSink,
    filter: EventFilter,
    left: u32,
    done: bool,
}

impl EventExport {
    /// The next chunk of events; `None` when the view (or the cap) is exhausted.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<AuthEvent>>, AdminError> {
        if self.done || self.left == 0 {
            return Ok(None);
        }
        self.filter.limit = self.left.min(EXPORT_CHUNK);
        let EventPage { events, next } = self.events.page(&self.filter).await?;
        self.left = self
            .left
            .saturating_sub(u32::try_from(events.len()).unwrap_or(u32::MAX));
        match next {
            Some(c) => self.filter.before = Some(c),
            None => self.done = true,
        }
        Ok((!events.is_empty()).then_some(events))
    }

    /// Once `next_chunk` has answered `None`: where to resume (`cursor=`) when the cap cut
    /// the view short (older events still match); `None` when the view was all sent.
    pub fn cut_at(&self) -> Option<String> {
        if self.done || self.left > 0 {
            return None;
        }
        self.filter.before.map(|c| c.to_string())
    }
}

impl AdminService {
    /// The filter `query` names, its user resolved: a `user` given as an email is looked up;
    /// an unknown email matches nothing, not everything.
    async fn event_filter(&self, query: EventQuery) -> Result<EventFilter, AdminError> {
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
        Ok(filter)
    }

    /// One page of auth events matching `query`, newest first, with the next page's cursor.
    pub async fn search_events(&self, query: EventQuery) -> Result<EventPage, AdminError> {
        let filter = self.event_filter(query).await?;
        Ok(self.events.page(&filter).await?)
    }

    /// The export of the events matching `query` (its `limit` ignored), checked before the
    /// first row is read, so a malformed filter is refused before anything is sent. The export
    /// is an `admin_action` (`events_export; target <filters>`): who took which part of the log
    /// with its addresses and emails is on record.
    pub async fn export_events(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        query: EventQuery,
    ) -> Result<EventExport, AdminError> {
        let described = query.describe();
        let filter = self.event_filter(query).await?;
        let at = self.clock.now();
        let event = by.event(ctx, at, Decision::OpsEventsExported, &described);
        self.events.record(event).await?;
        Ok(EventExport {
            events: self.events.clone(),
            filter,
            left: EXPORT_MAX_ROWS,
            done: false,
        })
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
            for v in [
                &mut q.kind,
                &mut q.user,
                &mut q.ip,
                &mut q.since,
                &mut q.until,
                &mut q.decision,
                &mut q.client,
                &mut q.cursor,
            ] {
                *v = Some(" ".into());
            }
        })
        .parse()
        .unwrap();
        assert!(f.kind.is_none() && f.ip.is_none() && f.since.is_none() && user.is_none());
        assert!(f.until.is_none() && f.decision.is_none() && f.client_id.is_none());
        assert!(f.before.is_none());
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
            q.until = Some("2026-01-03T00:00".into());
            q.ip = Some("192.0.2.7".into());
            q.user = Some("a@example.com".into());
            q.decision = Some("deny".into());
            q.client = Some("web".into());
            q.cursor = Some("42".into());
        })
        .parse()
        .unwrap();
        assert_eq!(f.kind, Some(EventKind::LoginFailed));
        assert_eq!(
            f.since.map(OffsetDateTime::unix_timestamp),
            Some(1_767_323_045)
        );
        assert_eq!(
            f.until.map(OffsetDateTime::unix_timestamp),
            Some(1_767_398_400)
        );
        assert_eq!(f.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(f.decision, Some(Decision::Deny));
        assert_eq!(f.client_id.as_deref(), Some("web"));
        assert_eq!(f.before, Some(EventCursor(42)));
        assert_eq!(user, Some(UserRef::Email("a@example.com".into())));
        let (_, user) = query(|q| q.user = Some("0190-id".into())).parse().unwrap();
        assert_eq!(user, Some(UserRef::Id("0190-id".into())));
        // A decision by its readable text; a bare date is midnight UTC.
        let (f, _) = query(|q| {
            q.decision = Some("rate_limited:ip".into());
            q.since = Some("2026-01-02".into());
        })
        .parse()
        .unwrap();
        assert_eq!(f.decision, Some(Decision::RateLimitedIp));
        assert_eq!(
            f.since.map(OffsetDateTime::unix_timestamp),
            Some(1_767_312_000)
        );
    }

    #[test]
    fn every_decision_code_names_its_own_decision() {
        for d in Decision::ALL {
            assert_eq!(parse_decision(d.code()), Some(d));
        }
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
            refused(query(|q| q.until = Some("2026-13-01".into()))),
            "until must be RFC 3339"
        );
        assert_eq!(
            refused(query(|q| {
                q.since = Some("2026-01-02".into());
                q.until = Some("2026-01-01".into());
            })),
            "since must be before until"
        );
        assert_eq!(
            refused(query(|q| q.decision = Some("maybe".into()))),
            "unknown decision"
        );
        for bad in ["abc", "-1", "1.5", "99999999999999999999"] {
            assert_eq!(
                refused(query(|q| q.cursor = Some(bad.into()))),
                "cursor is not one this server gave",
                "{bad}"
            );
        }
        let short = "user, ip and client must be printable and short";
        assert_eq!(refused(query(|q| q.user = Some("a\u{0}b".into()))), short);
        assert_eq!(refused(query(|q| q.ip = Some("1".repeat(321)))), short);
        assert_eq!(refused(query(|q| q.client = Some("a\nb".into()))), short);
    }
}
