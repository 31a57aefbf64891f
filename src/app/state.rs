//! The one application state, cloned into every handler and state-taking middleware. It is one
//! `Arc` (`AppState` derefs to `AppParts`), so a clone is one reference count: cloning the
//! parts themselves (some two hundred `Arc`s across the services) on every request and
//! middleware was the top of the `/healthz` profile (docs/benchmarks.md). `FromRef` is given
//! for every part, so a handler that needs one service asks for it alone (`State<OAuthService>`,
//! `State<AdminService>`, `State<Arc<Config>>`, …); handlers that use several take the whole
//! `AppState`.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::domain::account_security::SecurityService;
use crate::domain::accounts::admin::AccountAdmin;
use crate::domain::accounts::reset::ResetService;
use crate::domain::accounts::service::AccountService;
use crate::domain::admin::AdminService;
use crate::domain::captcha::Captchas;
use crate::domain::clock::{Clock, Random};
use crate::domain::csrf::CsrfKey;
use crate::domain::oauth::OAuthService;
use crate::domain::passkeys::PasskeyService;
use crate::domain::risk::service::RiskService;
use crate::domain::risk::wave_state::Waves;
use crate::domain::sessions::SessionPolicy;
use crate::domain::signin::LoginService;
use crate::domain::tasks::Background;
use crate::domain::throttle::Throttle;
use crate::events::sink::EventSink;
use crate::mail::worker::MailWorker;
use crate::storage::HealthStore;
use crate::storage::risk::RiskStore;

/// Everything a request may need, behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// The state holding `parts`.
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// `FromRef<AppState>` for each listed part: a handler's `State<Part>` clones that part only.
macro_rules! parts_from_ref {
    ($($field:ident: $ty:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $ty {
            fn from_ref(state: &AppState) -> Self {
                state.0.$field.clone()
            }
        })*
    };
}

parts_from_ref!(
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    accounts: AccountService,
    account_admin: AccountAdmin,
    events: EventSink,
    oauth: OAuthService,
    login: LoginService,
    passkeys: PasskeyService,
    throttle: Throttle,
    resets: ResetService,
    security: SecurityService,
    admin: AdminService,
    admin_console: crate::domain::admin_console::AdminConsole,
    admin_ops: crate::domain::admin_ops::AdminOps,
    captchas: Captchas,
    csrf: CsrfKey,
    brand: Arc<crate::render::Branding>,
    csp: Arc<str>,
    mail: MailWorker,
    background: Background,
    session_policy: SessionPolicy,
    risk: RiskService,
    risk_store: Arc<dyn RiskStore>,
    waves: Waves,
    health: Arc<dyn HealthStore>,
    metrics: PrometheusHandle,
);

/// The parts of the state.
pub struct AppParts {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// The injected randomness.
    pub random: Arc<dyn Random>,
    /// Accounts.
    pub accounts: AccountService,
    /// The operator's acts on accounts (list, show, disable, enable, delete).
    pub account_admin: AccountAdmin,
    /// The auth event sink (also read by the account page and the admin API).
    pub events: EventSink,
    /// The OAuth provider.
    pub oauth: OAuthService,
    /// Sign-in orchestration.
    pub login: LoginService,
    /// Passkeys (WebAuthn).
    pub passkeys: PasskeyService,
    /// Per-instance rate limits.
    pub throttle: Throttle,
    /// Password reset.
    pub resets: ResetService,
    /// The account security page.
    pub security: SecurityService,
    /// The admin API's operations.
    pub admin: AdminService,
    /// The admin console's gate and pages (`/admin`).
    pub admin_console: crate::domain::admin_console::AdminConsole,
    /// The operator's acts on clients, keys and the model (`/admin/clients|keys|model` and
    /// the admin API's equivalents).
    pub admin_ops: crate::domain::admin_ops::AdminOps,
    /// The CAPTCHA provider.
    pub captchas: Captchas,
    /// The key of the stateless CSRF tokens on forms shown before sign-in.
    pub csrf: CsrfKey,
    /// The product's name, logo, accent colour and template overrides.
    pub brand: Arc<crate::render::Branding>,
    /// The Content-Security-Policy (widened only for a third-party CAPTCHA's origins).
    pub csp: Arc<str>,
    /// Mail delivery: the polling job runs it; `drain_mail` runs it now.
    pub mail: MailWorker,
    /// Work left running after an answer (reset mails, alerts).
    pub background: Background,
    /// Session idle timeout and lifetime.
    pub session_policy: SessionPolicy,
    /// The risk engine.
    pub risk: RiskService,
    /// Risk storage (scheduled training).
    pub risk_store: Arc<dyn RiskStore>,
    /// Stuffing and spraying waves: the shared state, cached here (the wave job refreshes it).
    pub waves: Waves,
    /// Database liveness for `/readyz`.
    pub health: Arc<dyn HealthStore>,
    /// Prometheus renderer for `/metrics`.
    pub metrics: PrometheusHandle,
}

impl AppState {
    /// Lets the work requests left running settle, then delivers every mail due now; returns
    /// how many were sent. A test that asserts "no mail" calls this first, so it fails when a
    /// mail was queued instead of passing because the worker had not come round yet.
    pub async fn drain_mail(&self) -> usize {
        self.background.settled().await;
        self.mail.drain().await
    }
}
