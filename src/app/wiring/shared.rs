//! The database itself, and the state every instance shares through it: the attack waves and
//! the CSRF key.

use anyhow::Context;

use super::Base;
use crate::config::Config;
use crate::domain::csrf::CsrfKey;
use crate::domain::risk::wave_state::Waves;
use crate::storage::Store;

/// Connects and migrates the database the configuration names.
pub(super) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let (url, pool) = (&config.database_url, config.database_max_connections);
    crate::storage::connect_with(url, pool, config.sqlite_wal_restart_pages)
        .await
        .context("AUTHD_DATABASE_URL: cannot open or migrate the database")
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
