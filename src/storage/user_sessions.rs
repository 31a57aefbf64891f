//! The index of signed-in browser sessions (`user_session`) and the account's active OAuth
//! grants as the account security page lists them, with the one statement that deletes a
//! tower-sessions row by id (the table differs by engine). One text for both engines otherwise.

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::events::{INSERT_EVENT, bind_event, risk_json};
use crate::storage::sqlite::one_transaction;
use crate::storage::{Backend, PoolRef, on_pool};

/// One signed-in browser session, as indexed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserSessionRecord {
    /// The row's own random id (what the page shows).
    pub id: String,
    /// The account.
    pub user_id: String,
    /// The tower-sessions id, sealed (associated data `user_session:<id>`).
    pub session_sealed: String,
    /// The account's session epoch when the session was signed in (or renewed).
    pub epoch: i64,
    /// The network signed in from (IPv4 address or IPv6 /64).
    pub network: String,
    /// ISO country code, when GeoIP is configured.
    pub country: Option<String>,
    /// Browser and system, summarised.
    pub device: String,
    /// The `login_succeeded` event of the sign-in.
    pub sign_in_event: Option<String>,
    /// The risk reasons of a challenged sign-in (JSON array), if any.
    pub risk_reasons: Option<String>,
    /// The id of the device cookie the browser signed in with (held or issued then); `None`
    /// for rows indexed before it was kept, or a session no sign-in started.
    pub device_id: Option<String>,
    /// Unix seconds; written at most once a minute.
    pub last_seen_at: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// An active OAuth grant (refresh-token family) of an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRecord {
    /// The family id.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The granted scope.
    pub scope: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The newest refresh token's issue time (or the grant's creation).
    pub last_used_at: i64,
}

/// Indexed sessions and listed grants.
#[async_trait]
pub trait UserSessionStore: Send + Sync {
    /// Indexes a session and stores its `session_created` event, both or neither, in one
    /// round trip to the writer.
    async fn insert_with_event(
        &self,
        r: &UserSessionRecord,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;
    /// The account's indexed sessions, most recently seen first.
    async fn list_by_user(&self, user_id: &str) -> Result<Vec<UserSessionRecord>, StoreError>;
    /// One indexed session.
    async fn find_by_id(&self, id: &str) -> Result<Option<UserSessionRecord>, StoreError>;
    /// Writes the last-seen time.
    async fn update_seen(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// After the session id was cycled (and maybe the epoch moved on): the new sealed id.
    async fn update_binding(&self, id: &str, sealed: &str, epoch: i64) -> Result<(), StoreError>;
    /// Counts a password check of the session `id` on the security page; the count since its
    /// last right password (`None`: no such row).
    async fn count_reauth_attempt(&self, id: &str) -> Result<Option<i64>, StoreError>;
    /// A right password: the session's count starts again.
    async fn clear_reauth_attempts(&self, id: &str) -> Result<(), StoreError>;
    /// Takes back one counted check that gave no verdict (a busy pool, a refusal for rate).
    async fn uncount_reauth_attempt(&self, id: &str) -> Result<(), StoreError>;
    /// Deletes the row if its count is at least `at_least` (not cleared meanwhile by a right
    /// password); whether it did.
    async fn delete_after_reauth_attempts(
        &self,
        id: &str,
        at_least: i64,
    ) -> Result<bool, StoreError>;
    /// Removes an index row; whether it was there.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Removes the index rows of `user_id` last seen before `before`, or from an epoch other
    /// than `epoch` (dead sessions).
    async fn delete_stale(&self, user_id: &str, epoch: i64, before: i64) -> Result<(), StoreError>;
    /// Deletes a tower-sessions row by its id: that cookie stops working at once.
    async fn delete_browser_session(&self, session_id: &str) -> Result<(), StoreError>;
    /// Whether a tower-sessions row with this id exists (a sign-out, an expiry or a
    /// revocation deleted it otherwise).
    async fn has_browser_session(&self, session_id: &str) -> Result<bool, StoreError>;
    /// Revokes the grants of `user_id` made at or after `since` (those a reported session
    /// could have made) and, in the same transaction, spends the codes made since and not yet
    /// exchanged (each would otherwise still redeem into a new grant); how many grants.
    async fn revoke_grants_since(
        &self,
        user_id: &str,
        since: i64,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// The account's active grants (not revoked, not expired at `now`), newest use first.
    async fn list_grants(&self, user_id: &str, now: i64) -> Result<Vec<GrantRecord>, StoreError>;
    /// The owner reported the browser whose device cookie counts on `source` (`device:<id>`):
    /// from now on the sign-in lookup treats that cookie as no device of `user_id`'s while the
    /// account is at `epoch` (a repeat changes nothing).
    async fn revoke_device(
        &self,
        source: &str,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> Result<(), StoreError>;
}

const COLUMNS: &str = "id, user_id, session_sealed, epoch, network, country, device, \
    sign_in_event, risk_reasons, device_id, last_seen_at, created_at";

/// The index row's insert, its binds after an event's (`$14`–`$25`, see `bind_row`).
const INSERT_ROW: &str = "insert into user_session (id, user_id, session_sealed, epoch, network, \
    country, device, sign_in_event, risk_reasons, device_id, last_seen_at, created_at) \
    values ($14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)";

/// Binds a record to `INSERT_ROW`'s parameters, on either engine.
fn bind_row<'q, DB>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    r: &'q UserSessionRecord,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    q.bind(r.id.as_str())
        .bind(r.user_id.as_str())
        .bind(r.session_sealed.as_str())
        .bind(r.epoch)
        .bind(r.network.as_str())
        .bind(r.country.as_deref())
        .bind(r.device.as_str())
        .bind(r.sign_in_event.as_deref())
        .bind(r.risk_reasons.as_deref())
        .bind(r.device_id.as_deref())
        .bind(r.last_seen_at)
        .bind(r.created_at)
}

#[async_trait]
impl UserSessionStore for Backend {
    async fn insert_with_event(
        &self,
        r: &UserSessionRecord,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let risk = risk_json(event)?;
        match self.writer() {
            // One message to the writer's thread and one commit (as `clear_with_event`).
            PoolRef::Sqlite(p) => {
                let sql = format!("begin immediate; {INSERT_ROW}; {INSERT_EVENT}; commit");
                let q = bind_event(sqlx::query(&sql), event, risk.as_deref());
                one_transaction(p, bind_row(q, r)).await?;
            }
            // A data-modifying CTE: the index row rides on the event's insert.
            PoolRef::Postgres(p) => {
                let sql = format!("with indexed as ({INSERT_ROW}) {INSERT_EVENT}");
                let q = bind_event(sqlx::query(&sql), event, risk.as_deref());
                bind_row(q, r).execute(p).await?;
            }
        }
        Ok(())
    }

    async fn list_by_user(&self, user_id: &str) -> Result<Vec<UserSessionRecord>, StoreError> {
        let sql = format!(
            "select {COLUMNS} from user_session where user_id = $1 \
             order by last_seen_at desc, created_at desc limit 200"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(p)
            .await?))
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<UserSessionRecord>, StoreError> {
        let sql = format!("select {COLUMNS} from user_session where id = $1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?))
    }

    async fn update_seen(&self, id: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("update user_session set last_seen_at = $2 where id = $1")
                .bind(id)
                .bind(now)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn update_binding(&self, id: &str, sealed: &str, epoch: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("update user_session set session_sealed = $2, epoch = $3 where id = $1")
                .bind(id)
                .bind(sealed)
                .bind(epoch)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn count_reauth_attempt(&self, id: &str) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query_scalar(
            "update user_session set reauth_attempts = reauth_attempts + 1 where id = $1 \
             returning cast(reauth_attempts as bigint)",
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }

    async fn clear_reauth_attempts(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("update user_session set reauth_attempts = 0 where id = $1")
                .bind(id)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn uncount_reauth_attempt(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update user_session set reauth_attempts = reauth_attempts - 1 \
                 where id = $1 and reauth_attempts > 0",
            )
            .bind(id)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn delete_after_reauth_attempts(
        &self,
        id: &str,
        at_least: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "delete from user_session where id = $1 and reauth_attempts >= $2"
        )
        .bind(id)
        .bind(at_least)
        .execute(p)
        .await?
        .rows_affected())
            > 0)
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "delete from user_session where id = $1"
        )
        .bind(id)
        .execute(p)
        .await?
        .rows_affected())
            == 1)
    }

    async fn delete_stale(&self, user_id: &str, epoch: i64, before: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "delete from user_session where user_id = $1 \
                 and (epoch <> $2 or last_seen_at < $3)",
            )
            .bind(user_id)
            .bind(epoch)
            .bind(before)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn delete_browser_session(&self, session_id: &str) -> Result<(), StoreError> {
        // Rows are keyed by the id's digest (`sessions::row_key`), never the id itself.
        let session_id = crate::storage::sessions::row_key(session_id);
        let session_id = session_id.as_str();
        // The tables are the published session stores' (storage/sessions.rs).
        match self.writer() {
            PoolRef::Sqlite(p) => {
                sqlx::query("delete from tower_sessions where id = $1")
                    .bind(session_id)
                    .execute(p)
                    .await?;
            }
            PoolRef::Postgres(p) => {
                sqlx::query("delete from \"tower_sessions\".\"session\" where id = $1")
                    .bind(session_id)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    async fn revoke_grants_since(
        &self,
        user_id: &str,
        since: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        crate::storage::oauth::grants::transactions::revoke_user_since(self, user_id, since, now)
            .await
    }

    async fn has_browser_session(&self, session_id: &str) -> Result<bool, StoreError> {
        let session_id = crate::storage::sessions::row_key(session_id);
        let session_id = session_id.as_str();
        let found: Option<i32> = match self.pool() {
            PoolRef::Sqlite(p) => {
                sqlx::query_scalar("select 1 from tower_sessions where id = $1")
                    .bind(session_id)
                    .fetch_optional(p)
                    .await?
            }
            PoolRef::Postgres(p) => {
                sqlx::query_scalar("select 1 from \"tower_sessions\".\"session\" where id = $1")
                    .bind(session_id)
                    .fetch_optional(p)
                    .await?
            }
        };
        Ok(found.is_some())
    }

    async fn list_grants(&self, user_id: &str, now: i64) -> Result<Vec<GrantRecord>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select f.id, f.client_id, f.scope, f.created_at, \
             coalesce((select max(r.created_at) from refresh_token r where r.family_id = f.id), \
                      f.created_at) as last_used_at \
             from token_family f \
             where f.user_id = $1 and f.revoked_at is null and f.expires_at > $2 \
             order by last_used_at desc limit 200",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(p)
        .await?))
    }

    async fn revoke_device(
        &self,
        source: &str,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into revoked_device (source, user_id, epoch, revoked_at) \
                 values ($1, $2, $3, $4) on conflict (source) do nothing",
            )
            .bind(source)
            .bind(user_id)
            .bind(epoch)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
