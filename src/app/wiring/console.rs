//! Builds the admin console's service (`/admin`, docs/admin.md) from the wiring's base.

use crate::app::wiring::Base;
use crate::domain::account_security::SecurityService;
use crate::domain::accounts::admin::AccountAdmin;
use crate::domain::accounts::reset::ResetService;
use crate::domain::accounts::service::AccountService;
use crate::domain::admin::AdminService;
use crate::domain::admin_console::{AdminConsole, ConsoleDeps};
use crate::domain::risk::wave_state::Waves;
use crate::domain::signin::LoginService;

/// The services the console's acts call.
#[derive(Clone, Copy)]
pub(super) struct Acts<'a> {
    pub(super) security: &'a SecurityService,
    pub(super) resets: &'a ResetService,
    pub(super) account_admin: &'a AccountAdmin,
    pub(super) admin: &'a AdminService,
    pub(super) risk: &'a crate::domain::risk::service::RiskService,
}

/// The admin console.
pub(super) fn admin_console(
    b: &Base<'_>,
    accounts: &AccountService,
    login: &LoginService,
    waves: &Waves,
    acts: Acts<'_>,
) -> AdminConsole {
    AdminConsole::new(ConsoleDeps {
        accounts: accounts.clone(),
        login: login.clone(),
        security: acts.security.clone(),
        resets: acts.resets.clone(),
        account_admin: acts.account_admin.clone(),
        admin: acts.admin.clone(),
        stats: b.store.admin_stats.clone(),
        events: b.events.clone(),
        waves: waves.clone(),
        clock: b.deps.clock.clone(),
        idle: b.config.admin_idle,
        more: crate::domain::admin_console::overview_more::OverviewDeps {
            store: b.store.admin_overview.clone(),
            risk: acts.risk.clone(),
            challenge_at: b.config.risk.challenge_at,
        },
    })
}

/// The operator's acts on clients, keys and the model (console and admin API).
pub(super) fn admin_ops(
    b: &Base<'_>,
    oauth: &crate::domain::oauth::OAuthService,
    admin: &crate::domain::admin::AdminService,
    risk: &crate::domain::risk::service::RiskService,
) -> crate::domain::admin_ops::AdminOps {
    crate::domain::admin_ops::AdminOps::new(crate::domain::admin_ops::OpsDeps {
        oauth: oauth.clone(),
        admin: admin.clone(),
        risk: risk.clone(),
        risk_store: b.store.risk.clone(),
        events: b.events.clone(),
        clock: b.deps.clock.clone(),
    })
}
