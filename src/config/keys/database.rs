//! The database's keys (`AUTHD_DATABASE_*`, `AUTHD_SQLITE_*`), part of the one key table in
//! `keys.rs` (listed in its `ALL`, in the README's order). Imports nothing of the crate.

use super::Shown::Value;
use super::{Key, key, secret};

pub(crate) const DATABASE_URL: Key = secret(
    "database_url",
    Value("sqlite://authd.db?mode=rwc"),
    "`sqlite://…` or `postgres://…`",
);
pub(crate) const DATABASE_MAX_CONNECTIONS: Key = key(
    "database_max_connections",
    Value("10"),
    "database pool size (on SQLite: the readers; one more connection does every write, so writers queue in-process instead of in SQLite's busy handler)",
);
pub(crate) const SQLITE_WAL_RESTART_PAGES: Key = key(
    "sqlite_wal_restart_pages",
    Value("8000"),
    "SQLite: the write-ahead log's length in pages at which the writer checkpoints and starts it again; a connection of its own copies the log into the database in the background every 50 ms while it grows (docs/benchmarks.md); 0 = SQLite's own automatic checkpoint at 1 000 pages, in the writer",
);
