//! The auth event log: the `EventStore` trait, the stored row (`ts` in unix milliseconds,
//! `risk` as JSON text) and its SQL, one text for both engines. Events have an internal `seq`
//! that orders them (newest first) and is the keyset of the pages (`EventCursor`).

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::{Database, Encode, FromRow, Type};
use time::OffsetDateTime;

use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventCursor, EventFilter, EventKind, EventPage, Risk};
use crate::storage::error::StoreError;
use crate::storage::mail::{INSERT_MAIL, MailRecord, bind_mail};
use crate::storage::{Backend, PoolRef, on_pool};

/// Auth events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends an event.
    async fn insert(&self, event: &AuthEvent) -> Result<(), StoreError>;
    /// Appends several events in one transaction (all or none).
    async fn insert_many(&self, events: &[&AuthEvent]) -> Result<(), StoreError>;
    /// [`EventStore::insert_many`] with the commit's durability relaxed where the engine
    /// offers it: on PostgreSQL on the pool with `synchronous_commit = off` (committed and seen
    /// by every instance at once, kept through a crash of authd and a stop of PostgreSQL; a
    /// crash of the database server or of the machine can lose the last fraction of a second
    /// of them). Elsewhere the same as `insert_many`. For `token_issued` and `risk_evaluated` only
    /// (`spool::spooled`, `group_commit.rs`).
    async fn insert_many_relaxed(&self, events: &[&AuthEvent]) -> Result<(), StoreError> {
        self.insert_many(events).await
    }
    /// Whether [`EventStore::insert_many_relaxed`] commits differently from `insert_many`.
    fn relaxes_commits(&self) -> bool {
        false
    }
    /// Appends an event and queues the mail it caused, in one transaction.
    async fn insert_with_mail(
        &self,
        event: &AuthEvent,
        mail: &MailRecord,
    ) -> Result<(), StoreError>;
    /// One page of events matching `filter` (from `filter.before`, at most `filter.limit`),
    /// newest first, with the cursor of the next page when an older event matches.
    async fn page(&self, filter: &EventFilter) -> Result<EventPage, StoreError>;
    /// Lists events matching `filter`, newest first (the page without its cursor).
    async fn list(&self, filter: &EventFilter) -> Result<Vec<AuthEvent>, StoreError> {
        Ok(self.page(filter).await?.events)
    }
}

/// Appends an event (binds: see `bind_event`).
pub(crate) const INSERT_EVENT: &str = "insert into event \
    (id, ts, kind, ip, user_agent, user_id, username, client_id, risk, decision, request_id, created_at, decision_code) \
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The columns of `EventRow`, in order.
pub(crate) const EVENT_COLUMNS: &str = "id, ts, kind, ip, user_agent, user_id, username, client_id, risk, decision, request_id, \
     decision_code";

/// An event row as stored (`ts` in unix milliseconds, `risk` as JSON text).
#[derive(Debug, FromRow)]
pub(crate) struct EventRow {
    pub id: String,
    pub ts: i64,
    pub kind: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub risk: Option<String>,
    pub decision: Option<String>,
    pub request_id: Option<String>,
    pub decision_code: Option<String>,
}

impl TryFrom<EventRow> for AuthEvent {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        let kind = EventKind::parse(&r.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event kind {:?}", r.kind)))?;
        let ts = OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.ts) * 1_000_000)
            .map_err(|e| StoreError::Corrupt(format!("event ts: {e}")))?;
        let risk = match r.risk {
            Some(json) => Some(
                serde_json::from_str::<Risk>(&json)
                    .map_err(|e| StoreError::Corrupt(format!("event risk: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            id: r.id,
            ts,
            kind,
            ip: r.ip,
            user_agent: r.user_agent,
            user_id: r.user_id,
            username: r.username,
            client_id: r.client_id,
            risk,
            decision_code: Decision::decode(
                kind,
                r.decision_code.as_deref(),
                r.decision.as_deref(),
            ),
            decision: r.decision,
            request_id: r.request_id,
        })
    }
}

/// The event's risk as stored JSON.
pub(crate) fn risk_json(e: &AuthEvent) -> Result<Option<String>, StoreError> {
    e.risk
        .as_ref()
        .map(|r| serde_json::to_string(r).map_err(|err| StoreError::Corrupt(err.to_string())))
        .transpose()
}

/// Binds an event (with its risk JSON from `risk_json`) to `INSERT_EVENT`'s `$1`–`$13`, on
/// either engine.
pub(crate) fn bind_event<'q, DB>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    e: &'q AuthEvent,
    risk: Option<&'q str>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    let decision_code: Option<&'q str> = e.decision_code.map(Decision::code);
    q.bind(e.id.as_str())
        .bind(ts_millis(e.ts))
        .bind(e.kind.as_str())
        .bind(e.ip.as_deref())
        .bind(e.user_agent.as_deref())
        .bind(e.user_id.as_deref())
        .bind(e.username.as_deref())
        .bind(e.client_id.as_deref())
        .bind(risk)
        .bind(e.decision.as_deref())
        .bind(e.request_id.as_deref())
        .bind(e.ts.unix_timestamp())
        .bind(decision_code)
}

/// `INSERT_EVENT` for `n` events in one statement: `$1`–`$13` for the first, `$14`–`$26` for
/// the second, … (binds: `bind_event` once per event, in order).
pub(crate) fn insert_events_sql(n: usize) -> String {
    const COLUMNS: usize = 13;
    let head = INSERT_EVENT
        .split_once(" values ")
        .map_or(INSERT_EVENT, |(head, _)| head);
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let params: Vec<String> = (1..=COLUMNS)
                .map(|c| format!("${}", i * COLUMNS + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!("{head} values {}", rows.join(", "))
}

/// Event time as stored: unix milliseconds.
pub(crate) fn ts_millis(ts: OffsetDateTime) -> i64 {
    i64::try_from(ts.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// An event row with its position (the page's keyset).
#[derive(Debug, FromRow)]
struct PagedRow {
    seq: i64,
    #[sqlx(flatten)]
    row: EventRow,
}

/// Builds the filtered event listing; the filter binds follow in the order kind, user_id, ip,
/// since, until, decision, client_id, before, then the limit.
fn list_events_sql(f: &EventFilter) -> String {
    let mut sql = format!("select seq, {EVENT_COLUMNS} from event where 1 = 1");
    let mut n = 0;
    let mut clause = |present: bool, col: &str, op: &str| {
        if present {
            n += 1;
            sql.push_str(&format!(" and {col} {op} ${n}"));
        }
    };
    clause(f.kind.is_some(), "kind", "=");
    clause(f.user_id.is_some(), "user_id", "=");
    clause(f.ip.is_some(), "ip", "=");
    clause(f.since.is_some(), "ts", ">=");
    clause(f.until.is_some(), "ts", "<");
    clause(f.decision.is_some(), "decision_code", "=");
    clause(f.client_id.is_some(), "client_id", "=");
    clause(f.before.is_some(), "seq", "<");
    sql.push_str(&format!(" order by seq desc limit ${}", n + 1));
    sql
}

/// Appends `events` on `pool` in one statement (all rows or none, without a transaction around
/// it): one round trip to the database instead of a `begin`, one per event and a `commit`
/// (docs/benchmarks.md).
async fn insert_rows(pool: PoolRef<'_>, events: &[&AuthEvent]) -> Result<(), StoreError> {
    let risks = events
        .iter()
        .map(|e| risk_json(e))
        .collect::<Result<Vec<_>, _>>()?;
    let sql = insert_events_sql(events.len());
    on_pool!(pool, |p| {
        let mut q = sqlx::query(&sql);
        for (e, risk) in events.iter().zip(&risks) {
            q = bind_event(q, e, risk.as_deref());
        }
        q.execute(p).await?;
    });
    Ok(())
}

#[async_trait]
impl EventStore for Backend {
    async fn insert(&self, e: &AuthEvent) -> Result<(), StoreError> {
        let risk = risk_json(e)?;
        on_pool!(self.writer(), |p| {
            bind_event(sqlx::query(INSERT_EVENT), e, risk.as_deref())
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn insert_many(&self, events: &[&AuthEvent]) -> Result<(), StoreError> {
        insert_rows(self.writer(), events).await
    }

    async fn insert_many_relaxed(&self, events: &[&AuthEvent]) -> Result<(), StoreError> {
        insert_rows(self.counter_pool(), events).await
    }

    fn relaxes_commits(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }

    async fn insert_with_mail(&self, e: &AuthEvent, m: &MailRecord) -> Result<(), StoreError> {
        let risk = risk_json(e)?;
        on_pool!(self.writer(), |p| {
            let mut tx = p.begin().await?;
            bind_event(sqlx::query(INSERT_EVENT), e, risk.as_deref())
                .execute(&mut *tx)
                .await?;
            bind_mail(sqlx::query(INSERT_MAIL), m)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn page(&self, f: &EventFilter) -> Result<EventPage, StoreError> {
        let sql = list_events_sql(f);
        let limit = f.limit.clamp(1, 1000);
        let mut rows = on_pool!(self.pool(), |p| {
            // Not a prepared statement kept on the connection: PostgreSQL may, after five
            // runs, settle on one plan for any values, which can walk far more of the log for
            // a filter value it did not expect. Unnamed, each call is planned for its values.
            let mut q = sqlx::query_as::<_, PagedRow>(&sql).persistent(false);
            if let Some(k) = f.kind {
                q = q.bind(k.as_str());
            }
            for v in [&f.user_id, &f.ip].into_iter().flatten() {
                q = q.bind(v);
            }
            for t in [f.since, f.until].into_iter().flatten() {
                q = q.bind(ts_millis(t));
            }
            if let Some(d) = f.decision {
                q = q.bind(d.code());
            }
            if let Some(c) = &f.client_id {
                q = q.bind(c);
            }
            if let Some(c) = f.before {
                q = q.bind(c.0);
            }
            // One more than asked: whether an older page exists.
            q.bind(i64::from(limit) + 1).fetch_all(p).await?
        });
        let limit = usize::try_from(limit).unwrap_or(1000);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|r| EventCursor(r.seq))
        } else {
            None
        };
        let events = rows
            .into_iter()
            .map(|r| AuthEvent::try_from(r.row))
            .collect::<Result<_, _>>()?;
        Ok(EventPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::scratch;

    #[test]
    fn one_event_is_the_single_insert_and_more_number_their_binds_on() {
        assert_eq!(insert_events_sql(1), INSERT_EVENT);
        let two = insert_events_sql(2);
        let tail = "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13), \
                    ($14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)";
        assert!(two.ends_with(tail), "{two}");
    }

    #[tokio::test]
    async fn the_listing_is_planned_for_each_calls_values_on_postgres() {
        let Some((base, url, name)) = crate::storage::contract::postgres_scratch().await else {
            return;
        };
        crate::storage::connect(&url, 2).await.unwrap();
        // One connection, so the check below sees the session the listing ran in.
        let one = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let backend = Backend::Postgres {
            pool: one.clone(),
            relaxed: one.clone(),
        };
        let f = EventFilter {
            kind: Some(EventKind::LoginFailed),
            limit: 5,
            ..EventFilter::default()
        };
        for _ in 0..7 {
            backend.page(&f).await.unwrap();
        }
        let (kept,): (i64,) = sqlx::query_as(
            "select count(*) from pg_prepared_statements \
             where statement like 'select seq, %' and statement not like '%pg_prepared%'",
        )
        .fetch_one(&one)
        .await
        .unwrap();
        assert_eq!(kept, 0, "no plan kept for the listing past its call");
        one.close().await;
        crate::storage::postgres::drop_database(&base, &name)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn on_postgres_only_the_relaxed_insert_commits_without_waiting_for_the_flush() {
        let Some((base, url, name)) = crate::storage::contract::postgres_scratch().await else {
            return;
        };
        let store = crate::storage::connect(&url, 4).await.unwrap();
        assert!(store.events.relaxes_commits());
        // A trigger notes the inserting session's `synchronous_commit` in each row's username.
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        for sql in [
            "create function note_commit() returns trigger language plpgsql as \
             $$ begin new.username := current_setting('synchronous_commit'); return new; end $$",
            "create trigger note_commit before insert on event \
             for each row execute function note_commit()",
        ] {
            sqlx::query(sql).execute(&admin).await.unwrap();
        }
        let ctx = crate::domain::context::RequestContext::new(
            "192.0.2.7".parse().unwrap(),
            "ua",
            "r".into(),
        );
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (a, b) = (
            AuthEvent::new(EventKind::TokenIssued, &ctx, t),
            AuthEvent::new(EventKind::TokenIssued, &ctx, t),
        );
        store.events.insert_many_relaxed(&[&a]).await.unwrap();
        store.events.insert_many(&[&b]).await.unwrap();
        let noted = |id: String| {
            let admin = admin.clone();
            async move {
                sqlx::query_scalar::<_, String>("select username from event where id = $1")
                    .bind(id)
                    .fetch_one(&admin)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(noted(a.id.clone()).await, "off");
        assert_eq!(noted(b.id.clone()).await, "on");
        admin.close().await;
        drop(store);
        crate::storage::postgres::drop_database(&base, &name)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_account_s_latest_event_of_a_kind_is_read_through_its_own_index() {
        let (_dir, pool) = scratch::pool().await;
        // The new-device alert's question (migration 0035): not a walk through every account's
        // sign-ins in `(kind, seq)`.
        let f = EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some("u".to_owned()),
            limit: 1,
            ..EventFilter::default()
        };
        let sql = format!("explain query plan {}", list_events_sql(&f));
        let steps = scratch::plan(&pool, &sql, &["login_succeeded", "u", "2"]).await;
        assert!(steps.contains("event_user_kind_seq"), "{steps}");
        // The listing's per-column filters still use their (partial) indexes.
        let by_user = EventFilter {
            user_id: Some("u".to_owned()),
            limit: 1,
            ..EventFilter::default()
        };
        let by_client = EventFilter {
            client_id: Some("c".to_owned()),
            limit: 1,
            ..EventFilter::default()
        };
        for (f, bind, index) in [
            (by_user, "u", "event_user_seq"),
            (by_client, "c", "event_client_seq"),
        ] {
            let sql = format!("explain query plan {}", list_events_sql(&f));
            let steps = scratch::plan(&pool, &sql, &[bind, "2"]).await;
            assert!(steps.contains(index), "{index}: {steps}");
        }
    }
}
