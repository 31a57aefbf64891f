//! The two statements every sign-in makes on the counters, each engine's next to its twin:
//! the lookup that counts the attempt (`find_and_count`) and the clear that stores the success
//! event (`clear_with_event`). The rule that picks the counter row an attempt counts against
//! exists once, here, in `counter_row!`: PostgreSQL must apply it inside the statement that
//! counts (one round trip, see docs/benchmarks.md), and SQLite runs the same SQL as a select.

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, FromRow, Row, Type};

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::events::{INSERT_EVENT, bind_event, risk_json};
use crate::storage::protection::{
    ACCOUNT_KEY_PREFIX, ALL_SOURCES, FailureState, FailureStore, SignInCount, SignInKeys,
};
use crate::storage::risk::{ProfileWrite, upsert_profile_sql};
use crate::storage::sqlite::one_transaction;
use crate::storage::{AccountRecord, Backend, PoolRef};

/// The "which counter row" rule, the only place it is written: the account named by the email
/// (`a`) and the row an attempt counts against (`k`): the account's key (`$6`, the
/// `ACCOUNT_KEY_PREFIX`, followed by its id) or else `$2`, the unknown name's key; the device's
/// source `$4` when the cookie's owner `$3` (`<id>:<session epoch>`) is that account at its
/// current epoch and the owner has not reported that browser (`revoked_device`), else the
/// network's `$5`. A macro
/// only so that `concat!` can build both engines' statements from it at compile time.
macro_rules! counter_row {
    () => {
        "with a as (select id, email, password_hash, is_admin, created_at, updated_at, \
            session_epoch, email_verified_at, require_mfa, disabled_at \
            from account where email = cast($1 as text)), \
         k as (select coalesce((select cast($6 as text) || id from a), cast($2 as text)) \
            as account_key, \
            case when (select id || ':' || cast(session_epoch as text) from a) \
                = cast($3 as text) \
                and not exists (select 1 from revoked_device r \
                    where r.source = cast($4 as text)) then cast($4 as text) \
            else cast($5 as text) end as source)"
    };
}

/// SQLite's sign-in lookup: the rule as a plain select (the count follows in-process).
const PICK_ROW_SQLITE: &str = concat!(
    counter_row!(),
    " select k.account_key, k.source, a.id, a.email, a.password_hash, a.is_admin, \
     a.created_at, a.updated_at, a.session_epoch, a.email_verified_at, a.require_mfa, \
     a.disabled_at \
     from k left join a on true"
);

/// PostgreSQL's sign-in lookup, one statement: the rule, the counting upsert on the row it
/// picked (as `COUNT_ATTEMPT`; `$7` now, `$8` window cutoff, `$9` prefix) and the read of the
/// account-wide lock (`$10`, `ALL_SOURCES`).
const PICK_AND_COUNT_POSTGRES: &str = concat!(
    counter_row!(),
    ", c as (insert into login_failure (account_key, source, failures, window_start, \
        blocked_until, blocks, updated_at, created_at, prefix) \
        select account_key, source, 1, $7::bigint, null, 0, $7::bigint, $7::bigint, $9::text \
        from k \
        on conflict (account_key, source) do update set \
        prefix = $9::text, \
        failures = case when login_failure.window_start < $8::bigint then 1 \
            else login_failure.failures + 1 end, \
        window_start = case when login_failure.window_start < $8::bigint then $7::bigint \
            else login_failure.window_start end, \
        updated_at = $7::bigint \
        returning account_key, source, failures, blocked_until, blocks) \
     select c.account_key, c.source, c.failures, c.blocked_until, c.blocks, \
        (select l.blocked_until from login_failure l \
            where l.account_key = c.account_key and l.source = $10::text) \
        as account_locked_until, \
        a.id, a.email, a.password_hash, a.is_admin, a.created_at, a.updated_at, a.session_epoch, \
        a.email_verified_at, a.require_mfa, a.disabled_at \
     from c left join a on true"
);

/// Reads a sign-in lookup's row (either engine's): the counter row `counter_row!` picked and
/// the account, when its columns are not null.
fn picked<'r, R>(row: &'r R, state: FailureState) -> Result<SignInCount, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    AccountRecord: FromRow<'r, R>,
{
    let account = match row.try_get::<Option<String>, _>("id")? {
        Some(_) => Some(AccountRecord::from_row(row)?),
        None => None,
    };
    Ok(SignInCount {
        account,
        account_key: row.try_get("account_key")?,
        source: row.try_get("source")?,
        state,
    })
}

/// Binds `counter_row!`'s `$1`–`$6`, on either engine.
fn bind_counter_row<'q, DB>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    keys: &SignInKeys<'q>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    let (device_user, device_key) = keys.device.unzip();
    q.bind(keys.email)
        .bind(keys.unknown_account)
        .bind(device_user)
        .bind(device_key)
        .bind(keys.net)
        .bind(ACCOUNT_KEY_PREFIX)
}

/// `FailureStore::find_and_count` on each engine.
pub(super) async fn find_and_count(
    db: &Backend,
    keys: &SignInKeys<'_>,
) -> Result<SignInCount, StoreError> {
    // `counter_reads`: on SQLite a reader, for the lookup (the count then writes through the
    // writer: two statements, both in-process); on PostgreSQL the relaxed pool, which the one
    // statement that looks up and counts needs anyway.
    match db.counter_reads() {
        PoolRef::Sqlite(p) => {
            let row = bind_counter_row(sqlx::query(PICK_ROW_SQLITE), keys)
                .fetch_one(p)
                .await?;
            let account_key: String = row.try_get("account_key")?;
            let source: String = row.try_get("source")?;
            let state = db
                .count_attempt(
                    &account_key,
                    &source,
                    Some(keys.prefix),
                    keys.now,
                    keys.window_cutoff,
                )
                .await?;
            Ok(picked(&row, state)?)
        }
        // One round trip, on the relaxed pool like every counter write.
        PoolRef::Postgres(p) => {
            let row = bind_counter_row(sqlx::query(PICK_AND_COUNT_POSTGRES), keys)
                .bind(keys.now)
                .bind(keys.window_cutoff)
                .bind(keys.prefix)
                .bind(ALL_SOURCES)
                .fetch_one(p)
                .await?;
            Ok(picked(&row, FailureState::from_row(&row)?)?)
        }
    }
}

/// `FailureStore::clear_with_event` on each engine: the event's binds are `$1`–`$13`, the
/// pair `$14` and `$15`, the profile (when given) `$16`–`$18`. It runs on the main pool: the
/// event must be durable.
pub(super) async fn clear_with_event(
    db: &Backend,
    account: &str,
    source: &str,
    event: &AuthEvent,
    profile: Option<ProfileWrite<'_>>,
) -> Result<(), StoreError> {
    let risk = risk_json(event)?;
    let upsert = profile.map(|_| upsert_profile_sql(16));
    match db.writer() {
        // One message to the connection's worker thread and one commit: the statements run
        // inside `begin … commit` in the same query string.
        PoolRef::Sqlite(p) => {
            let profiled = upsert.map(|u| format!("{u};")).unwrap_or_default();
            let sql = format!(
                "begin immediate; \
                 delete from login_failure where account_key = $14 and source = $15; \
                 {profiled} {INSERT_EVENT}; commit"
            );
            let q = bind_event(sqlx::query(&sql), event, risk.as_deref())
                .bind(account)
                .bind(source);
            one_transaction(p, bind_profile(q, profile)).await?;
        }
        // Data-modifying CTEs: the clear and the profile ride on the event's insert.
        PoolRef::Postgres(p) => {
            let profiled = upsert
                .map(|u| format!(", profiled as ({u})"))
                .unwrap_or_default();
            let sql = format!(
                "with cleared as (delete from login_failure \
                 where account_key = $14 and source = $15){profiled} {INSERT_EVENT}"
            );
            let q = bind_event(sqlx::query(&sql), event, risk.as_deref())
                .bind(account)
                .bind(source);
            bind_profile(q, profile).execute(p).await?;
        }
    }
    Ok(())
}

/// Binds a profile write's three values, if there is one (`upsert_profile_sql`).
fn bind_profile<'q, DB>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    profile: Option<ProfileWrite<'q>>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    match profile {
        Some(w) => q.bind(w.user_id).bind(w.profile).bind(w.now),
        None => q,
    }
}
