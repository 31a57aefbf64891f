//! The tower-sessions store over whichever database authd runs on, so the session layer has
//! one concrete type. Sessions live server-side; the cookie holds only the random id.
//!
//! The published stores' `save` is an upsert, so a request that loaded a session before a
//! sign-out and saved it after would insert the deleted row again: the old cookie would work
//! after logout. Here only `create` inserts; `save` updates an existing row and is a no-op for
//! a deleted one. Loading, deleting and expiry stay the published stores' (same tables, same
//! encoding: MessagePack of the record).

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// Either backend's session store.
#[derive(Debug, Clone)]
pub enum AnySessionStore {
    /// SQLite (table `tower_sessions`): writes on the writer connection, loads on the readers
    /// (`storage::Backend::Sqlite`).
    Sqlite {
        /// The published store over the writer.
        writes: tower_sessions_sqlx_store::SqliteStore,
        /// The published store over the readers.
        reads: tower_sessions_sqlx_store::SqliteStore,
        /// The writer, for `create` and `save`.
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
            let data = rmp_serde::to_vec(&*record)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let id = record.id.to_string();
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
        let data =
            rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let id = record.id.to_string();
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
        match self {
            Self::Sqlite { reads, .. } => reads.load(id).await,
            Self::Postgres(s, _) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite { writes, .. } => writes.delete(id).await,
            Self::Postgres(s, _) => s.delete(id).await,
        }
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
