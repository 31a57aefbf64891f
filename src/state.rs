//! The one application state, cloned into every handler. Handlers ask for the narrowest piece
//! through `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::domain::accounts::reset::ResetService;
use crate::domain::accounts::service::AccountService;
use crate::domain::captcha::Captchas;
use crate::domain::clock::{Clock, Random};
use crate::domain::oauth::OAuthService;
use crate::domain::sessions::SessionPolicy;
use crate::domain::signin::LoginService;
use crate::domain::throttle::Throttle;
use crate::events::sink::EventSink;
use crate::mail::Mailer;
use crate::storage::HealthStore;
use crate::storage::mail::MailStore;

/// Everything a request may need.
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// The injected randomness.
    pub random: Arc<dyn Random>,
    /// Accounts.
    pub accounts: AccountService,
    /// The auth event sink (also read by the account page and the admin API).
    pub events: EventSink,
    /// The OAuth provider.
    pub oauth: OAuthService,
    /// Sign-in orchestration.
    pub login: LoginService,
    /// Per-instance rate limits.
    pub throttle: Throttle,
    /// Password reset.
    pub resets: ResetService,
    /// The CAPTCHA provider.
    pub captchas: Captchas,
    /// The Content-Security-Policy (widened only for a third-party CAPTCHA's origins).
    pub csp: Arc<str>,
    /// The mail transport (used by the delivery worker).
    pub mailer: Arc<dyn Mailer>,
    /// The mail queue (read by the delivery worker).
    pub mail_store: Arc<dyn MailStore>,
    /// Session idle timeout and lifetime.
    pub session_policy: SessionPolicy,
    /// The risk engine.
    pub risk: crate::domain::risk::service::RiskService,
    /// Risk storage (training, labels).
    pub risk_store: Arc<dyn crate::storage::risk::RiskStore>,
    /// Database liveness for `/readyz`.
    pub health: Arc<dyn HealthStore>,
    /// Prometheus renderer for `/metrics`.
    pub metrics: PrometheusHandle,
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(s: &AppState) -> Self {
        s.config.clone()
    }
}

impl FromRef<AppState> for AccountService {
    fn from_ref(s: &AppState) -> Self {
        s.accounts.clone()
    }
}

impl FromRef<AppState> for LoginService {
    fn from_ref(s: &AppState) -> Self {
        s.login.clone()
    }
}
