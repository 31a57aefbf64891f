//! Building and running the server: config → stores → services → state → router → listener,
//! then the background jobs beside the listener until shutdown. `Application::build` binds
//! (port 0 is fine) so tests can start many servers in one process. The only room that knows
//! every other; `anyhow` is at home here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::jobs::Jobs;
use crate::app::state::AppState;
use crate::config::{CaptchaKind, Config};
use crate::domain::clock::{Clock, OsRandom, Random, SystemClock};
use crate::storage::Store;

/// Every background loop, one function each.
pub mod jobs;
/// The browser routes' own runtime, below the machine routes' priority.
pub mod lane;
/// Which master key seals the secrets at rest (configured, or the SQLite key file).
pub mod master_key;
/// The accept loop: connection cap, header-read and request timeouts, graceful stop.
pub mod serve;
/// The application state handed to every handler.
pub mod state;
/// Logging and the Prometheus recorder.
pub mod telemetry;
/// One builder per service group.
pub mod wiring;
/// The CAPTCHA provider a config names.
mod wiring_captcha;

pub use wiring::{build_serving_state, build_state};

/// How long a graceful stop waits for work requests left running (reset mails, alerts).
const SETTLE_ON_STOP: std::time::Duration = std::time::Duration::from_secs(5);

/// The injected dependencies: time and randomness (tests pass a `FakeClock`).
#[derive(Debug, Clone)]
pub struct Deps {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The random source.
    pub random: Arc<dyn Random>,
}

impl Default for Deps {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
        }
    }
}

/// A built, bound server: the main listener and, when configured, the metrics listener.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    metrics: Option<(TcpListener, axum::Router)>,
    store: Store,
    state: AppState,
    /// Held until the stop's last step: the browser routes' handlers run there.
    lane: lane::PageLane,
}

impl Application {
    /// Builds everything and binds the listener.
    pub async fn build(config: Config, deps: Deps) -> anyhow::Result<Self> {
        let bind = config.bind;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("AUTHD_BIND: cannot listen on {bind}"))?;
        Self::build_with_listener(config, deps, listener).await
    }

    /// Builds everything around an already bound listener (tests bind first, so the issuer
    /// can name the real port).
    pub async fn build_with_listener(
        config: Config,
        deps: Deps,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        warn_about(&config);
        let metrics_listener = match config.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("AUTHD_METRICS_BIND: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        let (state, store) = build_serving_state(config, deps).await?;
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let lane = lane::PageLane::start(threads).context("cannot start the page lane")?;
        let router = crate::http::router(state.clone(), store.sessions.clone(), lane.handle());
        let metrics =
            metrics_listener.map(|l| (l, crate::http::ops::metrics_router(state.metrics.clone())));
        Ok(Self {
            listener,
            router,
            metrics,
            store,
            state,
            lane,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The metrics listener's bound address, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The application state (for tests and tools that drive services directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests, gives the work they
    /// left running a moment to settle, stops the jobs and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let jobs = Jobs::start(&self.state, &self.store);
        let metrics_addr = self.metrics_addr().map(|a| a.to_string());
        tracing::info!(addr = %self.local_addr()?, metrics_addr, "authd listening");
        let Self {
            listener,
            router,
            metrics,
            state,
            lane,
            ..
        } = self;
        let limits = state.config.connections;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let main = serve::serve(listener, router, limits, stopped.clone());
        let metrics = async move {
            if let Some((listener, router)) = metrics {
                serve::serve(listener, router, limits, stopped).await;
            }
        };
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        tokio::join!(main, metrics, signal);
        let background = state.background.settled();
        if tokio::time::timeout(SETTLE_ON_STOP, background)
            .await
            .is_err()
        {
            tracing::warn!("stopping with after-the-answer work still running");
        }
        // The event spool's last events into the database, and its segment gone (SQLite).
        if tokio::time::timeout(SETTLE_ON_STOP, state.events.close())
            .await
            .is_err()
        {
            tracing::warn!("stopping with spooled events left for the next start");
        }
        jobs.stop();
        drop(lane);
        tracing::info!("authd stopped");
        Ok(())
    }
}

fn warn_about(config: &Config) {
    for key in &config.unknown_keys {
        tracing::warn!(variable = %key, "unknown configuration variable ignored");
    }
    if config.captcha == CaptchaKind::Test {
        tracing::warn!(
            "AUTHD_CAPTCHA=test: CAPTCHAs accept a fixed answer; never use in production"
        );
    }
    if !config.is_https() && !is_loopback(&config.issuer) {
        tracing::warn!(
            issuer = config.issuer_str(),
            "AUTHD_ISSUER is not https: cookies are not marked Secure and tokens travel in the \
             clear; use an https issuer (behind a TLS proxy) outside local development"
        );
    }
    if let Some(key_file) = master_key::beside_the_database(config) {
        tracing::warn!(
            key_file = %key_file.display(),
            "the master key is kept beside the database (AUTHD_MASTER_KEY unset): a copy of \
             that directory holds both, so its secrets are as good as unsealed; set \
             AUTHD_MASTER_KEY_FILE or AUTHD_MASTER_KEY_PATH elsewhere (docs/key-custody.md)"
        );
    }
    if !meets_owasp(&config.hash_params) {
        tracing::warn!(
            memory_kib = config.hash_params.memory_kib,
            iterations = config.hash_params.iterations,
            "AUTHD_ARGON2_* below every OWASP argon2id configuration (m=19456 KiB with t=2, or \
             m=47104/t=1, m=12288/t=3, m=9216/t=4, m=7168/t=5): passwords are cheaper to crack, \
             and each account's hash is made again at this cost at its next sign-in"
        );
    }
    if config.trusted_proxies.iter().any(|n| n.prefix_len() == 0) {
        tracing::warn!(
            "AUTHD_TRUSTED_PROXIES holds a /0: every client's X-Forwarded-For is believed, so \
             anyone picks the address the rate limits and the risk engine see; name the \
             proxies' own addresses"
        );
    }
    if config.smtp_url.is_none() {
        tracing::warn!(
            mail_dir = %config.mail_dir.display(),
            "AUTHD_SMTP_URL is empty: mail is written as files to AUTHD_MAIL_DIR, not delivered"
        );
    }
}

/// Whether argon2id's memory and iterations reach one of OWASP's equivalent configurations
/// (Password Storage Cheat Sheet: 47104 KiB × 1 … 7168 KiB × 5; the default is 19456 × 2).
fn meets_owasp(h: &crate::domain::accounts::password::HashParams) -> bool {
    [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
    ]
    .iter()
    .any(|&(m, t)| h.memory_kib >= m && h.iterations >= t)
}

/// Whether the issuer names this machine (`localhost`, `*.localhost`, a loopback address):
/// local development, where plain http is expected.
fn is_loopback(issuer: &url::Url) -> bool {
    match issuer.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a SIGTERM sent as soon as the server reports that it
/// listens still stops it gracefully (the default action would kill it).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        let ctrl_c = async move {
            match interrupt {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::password::HashParams;

    #[test]
    fn owasps_equivalent_argon2_settings_pass_and_cheaper_ones_are_warned_about() {
        let p = |memory_kib, iterations| HashParams {
            memory_kib,
            iterations,
            parallelism: 1,
        };
        for (m, t) in [
            (19_456, 2),
            (47_104, 1),
            (12_288, 3),
            (9_216, 4),
            (7_168, 5),
        ] {
            assert!(meets_owasp(&p(m, t)), "{m} x {t}");
        }
        for (m, t) in [(19_455, 2), (19_456, 1), (64, 1), (7_168, 4)] {
            assert!(!meets_owasp(&p(m, t)), "{m} x {t}");
        }
    }
}
