//! The builders' entry points (`build_state`, `build_serving_state`), the database itself (and,
//! for a serving SQLite file, its event spool), and the state every
//! instance shares through it: the attack waves and the CSRF key.

use anyhow::Context;

use std::sync::Arc;

use super::Base;
use crate::app::Deps;
use crate::app::state::AppState;
use crate::config::Config;
use crate::domain::csrf::CsrfKey;
use crate::domain::risk::wave_state::Waves;
use crate::events::sink::EventSink;
use crate::events::spool::Spool;
use crate::storage::Store;

/// Connects the database and builds every service (for a command: no event spool).
pub async fn build_state(config: Config, deps: Deps) -> anyhow::Result<(AppState, Store)> {
    super::build(config, deps, false).await
}

/// [`build_state`] for the server: on a SQLite file, `token_issued` and `risk_evaluated` events
/// go through the event spool (`events/spool.rs`), recovered first.
pub async fn build_serving_state(config: Config, deps: Deps) -> anyhow::Result<(AppState, Store)> {
    super::build(config, deps, true).await
}

/// Connects and migrates the database the configuration names.
pub(super) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let (url, pool) = (&config.database_url, config.database_max_connections);
    crate::storage::connect_with(url, pool, config.sqlite_wal_restart_pages)
        .await
        .context("AUTHD_DATABASE_URL: cannot open or migrate the database")
}

/// The event sink; for a server (`serving`) on a SQLite file, with the database's event spool,
/// what a previous process left in it stored first (`events/spool.rs`). No spool on
/// PostgreSQL, in memory, for a command, or while another process holds it.
pub(super) async fn event_sink(
    config: &Config,
    store: &Store,
    deps: &Deps,
    serving: bool,
) -> anyhow::Result<EventSink> {
    let url = &config.database_url;
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let file = crate::storage::sqlite::database_file(url).filter(|_| serving && !postgres);
    let spool = match file {
        Some(file) => Spool::recover(&file, store.events.as_ref())
            .await
            .context("the event spool")?
            .map(Arc::new),
        None => None,
    };
    Ok(EventSink::with_spool(
        store.events.clone(),
        deps.clock.clone(),
        spool,
    ))
}

/// The attack waves' shared state.
pub(super) fn waves(b: &Base<'_>) -> Waves {
    Waves::new(
        b.store.waves.clone(),
        b.deps.clock.clone(),
        b.deps.random.clone(),
        b.events.clone(),
        b.config.waves,
    )
}

/// The key the CSRF tokens of forms shown before sign-in are made with (sealed, shared).
pub(super) async fn csrf_key(b: &Base<'_>) -> anyhow::Result<CsrfKey> {
    CsrfKey::load(
        b.store.failures.as_ref(),
        &b.sealer,
        b.deps.clock.as_ref(),
        b.deps.random.as_ref(),
    )
    .await
    .context("the CSRF key")
}
