//! The tower-sessions store over whichever database authd runs on, so the session layer has
//! one concrete type. Sessions live server-side; the cookie holds only the random id.
//!
//! The published stores' `save` is an upsert, so a request that loaded a session before a
//! sign-out and saved it after would insert the deleted row again: the old cookie would work
//! after logout. Here only `create` inserts; `save` updates an existing row and is a no-op for
//! a deleted one. Expiry stays the published stores' (same tables, same encoding: MessagePack
//! of the record).
//!
//! The id is the cookie, so it is not kept: a row is keyed by the id's SHA-256 (`row_key`) and
//! its record is stored with a zero id (`load` puts back the one asked for). A copy of the
//! table — a backup, a read-only SQL account — holds no cookie that signs anyone in. Rows from
//! before (keyed by the id itself) are dropped at start (`drop_plain_keyed`): those browsers
//! sign in again once.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, SqlitePool};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// The row key of a session id (the cookie's value): its SHA-256, hex (64 characters).
pub(crate) fn row_key(id: &str) -> String {
    use std::fmt::Write;
    Sha256::digest(id.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The stored form of a record: MessagePack of it with a zero id.
fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    let stored = Record {
        id: Id(0),
        data: record.data.clone(),
        expiry_date: record.expiry_date,
    };
    rmp_serde::to_vec(&stored).map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// Either backend's session store.
#[derive(Debug, Clone)]
pub enum AnySessionStore {
    /// SQLite (table `tower_sessions`): writes on the writer connection, loads on the readers
    /// (`storage::Backend::Sqlite`).
    Sqlite {
        /// The published store over the writer (its expiry sweep).
        writes: tower_sessions_sqlx_store::SqliteStore,
        /// The readers, for `load`.
        reader: SqlitePool,
        /// The writer, for `create`, `save` and `delete`.
        writer: SqlitePool,
    },
    /// PostgreSQL (table `tower_sessions.session`).
    Postgres(tower_sessions_sqlx_store::PostgresStore, PgPool),
}

/// The insert of a new session, by engine: never over an existing id (`create` draws another).
const CREATE_SQLITE: &str =
    "insert or abort into tower_sessions (id, data, expiry_date) values ($1, $2, $3)";
const CREATE_POSTGRES: &str = "insert into \"tower_sessions\".\"session\" (id, data, expiry_date) \
    values ($1, $2, $3) on conflict (id) do nothing";

/// The update of an existing session, by engine (the tables are the published stores').
const UPDATE_SQLITE: &str = "update tower_sessions set data = $1, expiry_date = $2 where id = $3";
const UPDATE_POSTGRES: &str =
    "update \"tower_sessions\".\"session\" set data = $1, expiry_date = $2 where id = $3";

/// A live session's record, by engine.
const LOAD_SQLITE: &str = "select data from tower_sessions where id = $1 and expiry_date > $2";
const LOAD_POSTGRES: &str =
    "select data from \"tower_sessions\".\"session\" where id = $1 and expiry_date > $2";

/// A session's deletion, by engine.
const DELETE_SQLITE: &str = "delete from tower_sessions where id = $1";
const DELETE_POSTGRES: &str = "delete from \"tower_sessions\".\"session\" where id = $1";

/// Rows keyed by the id itself (before `row_key`), by engine.
const DROP_PLAIN_SQLITE: &str = "delete from tower_sessions where length(id) <> 64";
const DROP_PLAIN_POSTGRES: &str =
    "delete from \"tower_sessions\".\"session\" where length(id) <> 64";

impl AnySessionStore {
    /// Drops the rows stored before sessions were keyed by `row_key` (their key is the cookie
    /// itself); and, if there were any, the session index, whose rows all named them. Run once
    /// at start, after the tables exist. How many sessions went.
    pub(crate) async fn drop_plain_keyed(&self) -> Result<u64, sqlx::Error> {
        let gone = match self {
            Self::Sqlite { writer, .. } => {
                let gone = sqlx::query(DROP_PLAIN_SQLITE).execute(writer).await?;
                if gone.rows_affected() > 0 {
                    sqlx::query("delete from user_session")
                        .execute(writer)
                        .await?;
                }
                gone.rows_affected()
            }
            Self::Postgres(_, pool) => {
                let gone = sqlx::query(DROP_PLAIN_POSTGRES).execute(pool).await?;
                if gone.rows_affected() > 0 {
                    sqlx::query("delete from user_session")
                        .execute(pool)
                        .await?;
                }
                gone.rows_affected()
            }
        };
        Ok(gone)
    }
}

fn backend(e: &sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for AnySessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // One statement that inserts only a new id, drawing another on a collision (the
        // published stores wrap the same in `begin … commit`: three round trips on SQLite's one
        // writer, four on PostgreSQL, for every sign-in).
        loop {
            let data = encode(record)?;
            let id = row_key(&record.id.to_string());
            let inserted = match self {
                Self::Sqlite { writer, .. } => {
                    match sqlx::query(CREATE_SQLITE)
                        .bind(id)
                        .bind(data)
                        .bind(record.expiry_date)
                        .execute(writer)
                        .await
                    {
                        Ok(_) => true,
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => false,
                        Err(e) => return Err(backend(&e)),
                    }
                }
                Self::Postgres(_, pool) => {
                    sqlx::query(CREATE_POSTGRES)
                        .bind(id)
                        .bind(data)
                        .bind(record.expiry_date)
                        .execute(pool)
                        .await
                        .map_err(|e| backend(&e))?
                        .rows_affected()
                        == 1
                }
            };
            if inserted {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let id = row_key(&record.id.to_string());
        // Zero rows updated means the session was deleted (sign-out, revocation, expiry)
        // while this request held it: it stays deleted.
        match self {
            Self::Sqlite { writer: pool, .. } => {
                sqlx::query(UPDATE_SQLITE)
                    .bind(data)
                    .bind(record.expiry_date)
                    .bind(id)
                    .execute(pool)
                    .await
                    .map_err(|e| backend(&e))?;
            }
            Self::Postgres(_, pool) => {
                sqlx::query(UPDATE_POSTGRES)
                    .bind(data)
                    .bind(record.expiry_date)
                    .bind(id)
                    .execute(pool)
                    .await
                    .map_err(|e| backend(&e))?;
            }
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = row_key(&id.to_string());
        // As the published stores: the expiry against the real clock.
        #[allow(clippy::disallowed_methods)]
        let now = OffsetDateTime::now_utc();
        let data: Option<Vec<u8>> = match self {
            Self::Sqlite { reader, .. } => {
                sqlx::query_scalar(LOAD_SQLITE)
                    .bind(key)
                    .bind(now)
                    .fetch_optional(reader)
                    .await
            }
            Self::Postgres(_, pool) => {
                sqlx::query_scalar(LOAD_POSTGRES)
                    .bind(key)
                    .bind(now)
                    .fetch_optional(pool)
                    .await
            }
        }
        .map_err(|e| backend(&e))?;
        let Some(data) = data else {
            return Ok(None);
        };
        let mut record: Record = rmp_serde::from_slice(&data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        record.id = *id;
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = row_key(&id.to_string());
        let done = match self {
            Self::Sqlite { writer, .. } => sqlx::query(DELETE_SQLITE)
                .bind(key)
                .execute(writer)
                .await
                .map(drop),
            Self::Postgres(_, pool) => sqlx::query(DELETE_POSTGRES)
                .bind(key)
                .execute(pool)
                .await
                .map(drop),
        };
        done.map_err(|e| backend(&e))
    }
}

#[async_trait]
impl ExpiredDeletion for AnySessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite { writes, .. } => writes.delete_expired().await,
            Self::Postgres(s, _) => s.delete_expired().await,
        }
    }
}
