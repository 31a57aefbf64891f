//! Which database a command opens, and the refusal to make a new one by accident. Every command
//! reads the configuration as `serve` does (defaults → `--config FILE` → `AUTHD_*` environment
//! → `*_FILE` secrets), so it finds the server's database when it runs with the server's
//! configuration. Only `serve` and `migrate` create a database that is not there yet; any other
//! command stops with an error naming where it looked and how to point it elsewhere, unless
//! given `--create` (the default URL's `mode=rwc` would otherwise make an empty `authd.db` in
//! whatever directory the command ran from).

use anyhow::bail;

use super::Command;
use crate::config::Config;

/// The default `AUTHD_DATABASE_URL` (said so in the error: a relative path, so the working
/// directory matters).
const DEFAULT_URL: &str = "sqlite://authd.db?mode=rwc";

/// How to point a command at the right database (the end of every refusal).
const HINT: &str = "run the command where `authd serve` runs, or give it the server's \
    configuration (AUTHD_DATABASE_URL, or database_url in the file given with --config FILE); \
    --create makes a new, empty database";

impl Command {
    /// Whether the command may create a database that does not exist yet (`serve`, `migrate`),
    /// or opens none at all (`simulate` drives a running server over HTTP).
    fn may_create_database(&self) -> bool {
        matches!(self, Self::Serve | Self::Migrate | Self::Simulate(_))
    }
}

/// Stops `command` before it opens a database that is not there (a SQLite file that does not
/// exist, a PostgreSQL database without authd's tables), unless it may create one or `create`
/// says to.
pub(super) async fn ensure_present(
    command: &Command,
    config: &Config,
    create: bool,
) -> anyhow::Result<()> {
    if create || command.may_create_database() {
        return Ok(());
    }
    let url = config.database_url.as_str();
    if url.starts_with("sqlite:") {
        let Some(file) = crate::storage::sqlite::database_file(url) else {
            return Ok(()); // in memory: nothing to find
        };
        if file.exists() {
            return Ok(());
        }
        let absolute = std::path::absolute(&file).unwrap_or(file);
        let source = if url == DEFAULT_URL {
            "the default AUTHD_DATABASE_URL, relative to the working directory".to_owned()
        } else {
            format!("AUTHD_DATABASE_URL={url}")
        };
        bail!("no database at {} ({source}); {HINT}", absolute.display());
    }
    if !crate::storage::postgres::has_schema(url).await? {
        // The URL may carry a password: name the host and database only.
        let named = url::Url::parse(url).map_or_else(
            |_| "the PostgreSQL database".to_owned(),
            |u| {
                format!(
                    "the PostgreSQL database {} on {}",
                    u.path().trim_start_matches('/'),
                    u.host_str().unwrap_or("localhost")
                )
            },
        );
        bail!("{named} (AUTHD_DATABASE_URL) has no authd tables; {HINT}");
    }
    Ok(())
}
