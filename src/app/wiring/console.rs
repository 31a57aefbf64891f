//! Builds the admin console's service (`/admin`, docs/admin.md) from the wiring's base.

use crate::app::wiring::Base;
use crate::domain::accounts::service::AccountService;
use crate::domain::admin_console::{AdminConsole, ConsoleDeps};
use crate::domain::risk::wave_state::Waves;
use crate::domain::signin::LoginService;

/// The admin console.
pub(super) fn admin_console(
    b: &Base<'_>,
    accounts: &AccountService,
    login: &LoginService,
    waves: &Waves,
) -> AdminConsole {
    AdminConsole::new(ConsoleDeps {
        accounts: accounts.clone(),
        login: login.clone(),
        stats: b.store.admin_stats.clone(),
        events: b.events.clone(),
        waves: waves.clone(),
        clock: b.deps.clock.clone(),
        idle: b.config.admin_idle,
    })
}
