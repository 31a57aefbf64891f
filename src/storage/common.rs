//! The SQL shared by both backends. Both accept `$N` placeholders and the same portable column
//! types (TEXT ids, BIGINT unix times, TEXT JSON), so each statement is written once and the
//! macro below instantiates the trait impls for `SqliteStore` and `PgStore`. Anything that
//! differs between the engines (locking, upserts) lives in the backend's own module instead.
//! This replaces STYLE G6's mirrored files: two hand-kept copies of every query drift apart.

use sqlx::FromRow;
use time::OffsetDateTime;

use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind, Risk};
use crate::storage::error::StoreError;

pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, email, password_hash, is_admin, created_at, updated_at, session_epoch";

pub(crate) const INSERT_ACCOUNT: &str = "insert into account \
    (id, email, password_hash, is_admin, created_at, updated_at) \
    values ($1, $2, $3, $4, $5, $6)";

pub(crate) const INSERT_EVENT: &str = "insert into event \
    (id, ts, kind, ip, user_agent, user_id, username, client_id, risk, decision, request_id, created_at, decision_code) \
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

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

/// Binds an event row (with its risk JSON) to `INSERT_EVENT`.
macro_rules! bind_event {
    ($q:expr, $e:expr, $risk:expr) => {
        $q.bind(&$e.id)
            .bind($crate::storage::common::ts_millis($e.ts))
            .bind($e.kind.as_str())
            .bind(&$e.ip)
            .bind(&$e.user_agent)
            .bind(&$e.user_id)
            .bind(&$e.username)
            .bind(&$e.client_id)
            .bind($risk)
            .bind(&$e.decision)
            .bind(&$e.request_id)
            .bind($e.ts.unix_timestamp())
            .bind($e.decision_code.map(|d| d.code()))
    };
}

pub(crate) use bind_event;

/// Event time as stored: unix milliseconds.
pub(crate) fn ts_millis(ts: OffsetDateTime) -> i64 {
    i64::try_from(ts.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Builds the filtered event listing; returns the SQL and how many filter binds it expects,
/// bound in the order kind, user_id, ip, since, limit.
pub(crate) fn list_events_sql(f: &crate::events::EventFilter) -> String {
    let mut sql = String::from(
        "select id, ts, kind, ip, user_agent, user_id, username, client_id, risk, decision, \
         request_id, decision_code from event where 1 = 1",
    );
    let mut n = 0;
    let mut clause = |col: &str, op: &str| {
        n += 1;
        sql.push_str(&format!(" and {col} {op} ${n}"));
    };
    if f.kind.is_some() {
        clause("kind", "=");
    }
    if f.user_id.is_some() {
        clause("user_id", "=");
    }
    if f.ip.is_some() {
        clause("ip", "=");
    }
    if f.since.is_some() {
        clause("ts", ">=");
    }
    sql.push_str(&format!(" order by seq desc limit ${}", n + 1));
    sql
}

/// Instantiates `AccountStore`, `EventStore` and `HealthStore` for a backend struct with a
/// `pool` field.
macro_rules! impl_stores {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::AccountStore for $store {
            async fn insert(
                &self,
                a: &$crate::storage::AccountRecord,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query($crate::storage::common::INSERT_ACCOUNT)
                    .bind(&a.id)
                    .bind(&a.email)
                    .bind(&a.password_hash)
                    .bind(a.is_admin)
                    .bind(a.created_at)
                    .bind(a.updated_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn find_by_email(
                &self,
                email: &str,
            ) -> Result<Option<$crate::storage::AccountRecord>, $crate::storage::error::StoreError>
            {
                let sql = format!(
                    "select {} from account where email = $1",
                    $crate::storage::common::ACCOUNT_COLUMNS
                );
                Ok(sqlx::query_as(&sql)
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn find_by_id(
                &self,
                id: &str,
            ) -> Result<Option<$crate::storage::AccountRecord>, $crate::storage::error::StoreError>
            {
                let sql = format!(
                    "select {} from account where id = $1",
                    $crate::storage::common::ACCOUNT_COLUMNS
                );
                Ok(sqlx::query_as(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn update_password(
                &self,
                id: &str,
                password_hash: &str,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "update account set password_hash = $2, updated_at = $3, \
                     session_epoch = session_epoch + 1 where id = $1",
                )
                .bind(id)
                .bind(password_hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn end_sessions(
                &self,
                id: &str,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "update account set session_epoch = session_epoch + 1, updated_at = $2 where id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_epoch(
                &self,
                id: &str,
            ) -> Result<Option<i64>, $crate::storage::error::StoreError> {
                let row: Option<(i64,)> =
                    sqlx::query_as("select session_epoch from account where id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|r| r.0))
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::EventStore for $store {
            async fn insert(
                &self,
                e: &$crate::events::AuthEvent,
            ) -> Result<(), $crate::storage::error::StoreError> {
                let risk = $crate::storage::common::risk_json(e)?;
                $crate::storage::common::bind_event!(sqlx::query($crate::storage::common::INSERT_EVENT), e, risk)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn insert_with_mail(
                &self,
                e: &$crate::events::AuthEvent,
                m: &$crate::storage::mail::MailRecord,
            ) -> Result<(), $crate::storage::error::StoreError> {
                let risk = $crate::storage::common::risk_json(e)?;
                let mut tx = self.pool.begin().await?;
                $crate::storage::common::bind_event!(sqlx::query($crate::storage::common::INSERT_EVENT), e, risk)
                    .execute(&mut *tx)
                    .await?;
                $crate::storage::mail_sql::bind_mail!(sqlx::query($crate::storage::mail_sql::INSERT_MAIL), m)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list(
                &self,
                f: &$crate::events::EventFilter,
            ) -> Result<Vec<$crate::events::AuthEvent>, $crate::storage::error::StoreError> {
                let sql = $crate::storage::common::list_events_sql(f);
                let mut q = sqlx::query_as::<_, $crate::storage::common::EventRow>(&sql);
                if let Some(k) = f.kind {
                    q = q.bind(k.as_str());
                }
                if let Some(u) = &f.user_id {
                    q = q.bind(u);
                }
                if let Some(ip) = &f.ip {
                    q = q.bind(ip);
                }
                if let Some(since) = f.since {
                    q = q.bind($crate::storage::common::ts_millis(since));
                }
                q = q.bind(i64::from(f.limit.clamp(1, 1000)));
                q.fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map($crate::events::AuthEvent::try_from)
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::HealthStore for $store {
            async fn is_reachable(&self) -> bool {
                sqlx::query("select 1").execute(&self.pool).await.is_ok()
            }
        }
    };
}

pub(crate) use impl_stores;
