//! Storage: one file per thing stored, each with its records, its trait and its SQL, over one
//! `Backend` that holds either engine's pools. The only place that writes SQL; imports neither
//! `http` nor `domain`. `connect(url)` picks the engine from the URL's scheme.
//!
//! Both engines accept `$N` placeholders and the same portable columns (TEXT ids, BIGINT unix
//! times, TEXT JSON), so each statement is written once and `on_pool!` runs it on whichever
//! pool is connected. A statement that must differ by engine sits next to its twin in its
//! aggregate's file; `sqlite.rs` and `postgres.rs` hold only pools, migrations and the SQL
//! that has no twin.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};

use crate::storage::error::StoreError;

/// Accounts.
pub mod accounts;
/// The overview's further reads.
pub mod admin_overview;
/// The admin console's reads.
pub mod admin_stats;
/// The contract suite both engines must pass.
#[cfg(test)]
mod contract;
/// Storage errors.
pub mod error;
/// The admin overview's hourly event counts.
pub mod event_rollup;
/// The auth event log.
pub mod events;
/// The durable mail queue and the per-recipient mail budget.
pub mod mail;
/// Second factors (authenticator apps, recovery codes).
pub mod mfa;
/// OAuth clients, signing keys and grants.
pub mod oauth;
/// Passkeys (WebAuthn credentials).
pub mod passkeys;
/// PostgreSQL: pools, migrations, scratch databases for tests.
pub mod postgres;
/// Failure counters and server secrets.
pub mod protection;
/// Password-reset tokens.
pub mod resets;
/// Retention: pruning what nothing reads any more.
pub mod retention;
/// Risk engine storage: profiles, velocity reads, models, labels.
pub mod risk;
/// The SQL choosing the risk model in use, listing models and labels.
mod risk_models;
/// The tower-sessions store over either backend.
pub mod sessions;
/// SQLite: pool, migrations.
pub mod sqlite;
/// SQLite's WAL checkpoints off the writer.
pub mod sqlite_wal;
/// The index of signed-in sessions, and the account's grants as the security page lists them.
pub mod user_sessions;
/// Stuffing and spraying waves: minute tallies, the detector's read, the shared wave rows.
pub mod waves;

pub use accounts::{AccountRecord, AccountStore};
pub use events::EventStore;

/// Database liveness.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Whether a trivial query succeeds.
    async fn is_reachable(&self) -> bool;
}

/// The one implementation of every store trait: whichever engine is connected, with its pools.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// The embedded default.
    Sqlite {
        /// Reads (and the writes not routed to `writer`).
        pool: SqlitePool,
        /// One connection for the writes: SQLite runs one writer at a time, and writers that
        /// find its lock taken sleep in its busy handler (1, 2, 5, … 100 ms steps); here they
        /// wait in-process, in order, and are woken the moment the connection is free.
        writer: SqlitePool,
    },
    /// The scale-out engine.
    Postgres {
        /// Every statement but the sign-in counters'.
        pool: PgPool,
        /// Connections with `synchronous_commit = off`, used only for the sign-in failure
        /// counters and the `token_issued` and `risk_evaluated` events
        /// (`EventStore::insert_many_relaxed`): they commit without waiting for the WAL flush,
        /// so a crash of the database server or the machine can forget the last few counted
        /// attempts, issued-token and risk-check events (never a block already flushed, never
        /// any other data; a crash of authd loses nothing).
        relaxed: PgPool,
    },
}

/// A borrowed pool of either engine, for `on_pool!`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PoolRef<'a> {
    /// SQLite.
    Sqlite(&'a SqlitePool),
    /// PostgreSQL.
    Postgres(&'a PgPool),
}

impl Backend {
    /// The pool for reads.
    pub(crate) fn pool(&self) -> PoolRef<'_> {
        match self {
            Self::Sqlite { pool, .. } => PoolRef::Sqlite(pool),
            Self::Postgres { pool, .. } => PoolRef::Postgres(pool),
        }
    }

    /// The pool for writes (and transactions that write): on SQLite its one writer connection,
    /// on PostgreSQL the main pool (it runs writers concurrently).
    pub(crate) fn writer(&self) -> PoolRef<'_> {
        match self {
            Self::Sqlite { writer, .. } => PoolRef::Sqlite(writer),
            Self::Postgres { pool, .. } => PoolRef::Postgres(pool),
        }
    }

    /// The pool for the writes every sign-in makes on the counters, and for `token_issued` and
    /// `risk_evaluated` events: on SQLite the writer, on PostgreSQL the relaxed pool (see
    /// `Backend::Postgres`).
    pub(crate) fn counter_pool(&self) -> PoolRef<'_> {
        match self {
            Self::Sqlite { writer, .. } => PoolRef::Sqlite(writer),
            Self::Postgres { relaxed, .. } => PoolRef::Postgres(relaxed),
        }
    }

    /// The pool for the reads next to the counters (the risk history, the sign-in lookup): on
    /// SQLite a reader, on PostgreSQL the relaxed pool, like the counters (where the lookup and
    /// the count are one statement).
    pub(crate) fn counter_reads(&self) -> PoolRef<'_> {
        match self {
            Self::Sqlite { pool, .. } => PoolRef::Sqlite(pool),
            Self::Postgres { relaxed, .. } => PoolRef::Postgres(relaxed),
        }
    }
}

/// `on_pool!(pool_ref, |p| body)` evaluates `body` with `p` bound to the SQLite or the
/// PostgreSQL pool that `pool_ref` (a `PoolRef`) holds. The body is written once and
/// type-checked once per engine: a sqlx query is typed by its engine (`Query<Sqlite, …>` vs
/// `Query<Postgres, …>`), so a generic function would need an `Encode + Type` bound per bound
/// type and a `FromRow` bound per row, restated at every statement. Why the closure look: it
/// keeps the call an expression list that rustfmt formats and the IDE enters. It is not a
/// closure: `?` and `return` in the body leave the enclosing function. Both arms must have one
/// type, so a body that only executes ends its statement with `;` inside a block.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::storage::PoolRef::Sqlite($p) => $body,
            $crate::storage::PoolRef::Postgres($p) => $body,
        }
    };
}

pub(crate) use on_pool;

#[async_trait]
impl HealthStore for Backend {
    async fn is_reachable(&self) -> bool {
        on_pool!(self.pool(), |p| sqlx::query("select 1")
            .execute(p)
            .await
            .is_ok())
    }
}

/// Every store, over one database.
#[derive(Clone)]
pub struct Store {
    /// Accounts.
    pub accounts: Arc<dyn AccountStore>,
    /// Events.
    pub events: Arc<dyn EventStore>,
    /// Liveness.
    pub health: Arc<dyn HealthStore>,
    /// OAuth clients.
    pub clients: Arc<dyn oauth::ClientStore>,
    /// Signing keys.
    pub keys: Arc<dyn oauth::KeyStore>,
    /// Codes, refresh tokens, revocations, consents.
    pub grants: Arc<dyn oauth::GrantStore>,
    /// The mail queue.
    pub mail: Arc<dyn mail::MailStore>,
    /// Password-reset tokens.
    pub resets: Arc<dyn resets::ResetStore>,
    /// Passkeys.
    pub passkeys: Arc<dyn passkeys::PasskeyStore>,
    /// Failure counters and server secrets.
    pub failures: Arc<dyn protection::FailureStore>,
    /// Spent mailed links.
    pub spent_links: Arc<dyn protection::links::SpentLinkStore>,
    /// Risk profiles, models and labels.
    pub risk: Arc<dyn risk::RiskStore>,
    /// Pruning.
    pub retention: Arc<dyn retention::RetentionStore>,
    /// Waves: minute tallies and the shared wave rows.
    pub waves: Arc<dyn waves::WaveStore>,
    /// Second factors.
    pub mfa: Arc<dyn mfa::MfaStore>,
    /// The session store for tower-sessions.
    pub sessions: sessions::AnySessionStore,
    /// The index of signed-in sessions (the account security page).
    pub user_sessions: Arc<dyn user_sessions::UserSessionStore>,
    /// The admin console's reads.
    pub admin_stats: Arc<dyn admin_stats::AdminStatsStore>,
    /// The overview's further reads.
    pub admin_overview: Arc<dyn admin_overview::AdminOverviewStore>,
    /// SQLite's background WAL copy, for the server's jobs to run (`None` on PostgreSQL, in
    /// memory, or with SQLite's own automatic checkpoint).
    pub wal: Option<sqlite_wal::WalCheckpoints>,
}

impl Store {
    /// Every store over `backend`, plus the session store of the same database.
    pub(crate) fn new(backend: Backend, sessions: sessions::AnySessionStore) -> Self {
        let b = Arc::new(backend);
        Self {
            accounts: b.clone(),
            events: b.clone(),
            health: b.clone(),
            clients: b.clone(),
            keys: b.clone(),
            grants: b.clone(),
            mail: b.clone(),
            resets: b.clone(),
            passkeys: b.clone(),
            retention: b.clone(),
            failures: b.clone(),
            spent_links: b.clone(),
            mfa: b.clone(),
            risk: b.clone(),
            user_sessions: b.clone(),
            admin_stats: b.clone(),
            admin_overview: b.clone(),
            waves: b,
            sessions,
            wal: None,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Connects to the database named by `url` (`sqlite://…` or `postgres://…`), runs the
/// migrations (ours and the session store's) and returns the stores; SQLite's WAL restarts
/// at the default length (`sqlite_wal::DEFAULT_RESTART_AT`).
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    connect_with(url, max_connections, sqlite_wal::DEFAULT_RESTART_AT).await
}

/// [`connect`], with SQLite's WAL restarting at `wal_restart_at` pages (0: SQLite's own
/// automatic checkpoint in the writer; ignored on PostgreSQL).
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    wal_restart_at: u32,
) -> Result<Store, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::connect(url, max_connections).await
    } else {
        sqlite::connect(url, max_connections, wal_restart_at).await
    }
}
