//! The state every instance shares through the database: the attack waves and the CSRF key.

use anyhow::Context;

use super::Base;
use crate::domain::csrf::CsrfKey;
use crate::domain::risk::wave_state::Waves;

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
