//! Building and running the server: config → stores → services → state → router → listener.
//! `Application::build` binds (port 0 is fine) so tests can start many servers in one process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tower_sessions::ExpiredDeletion;

use crate::config::{CaptchaKind, Config};
use crate::domain::accounts::password::PasswordHasher;
use crate::domain::accounts::reset::ResetService;
use crate::domain::accounts::service::AccountService;
use crate::domain::captcha::Captchas;
use crate::domain::clients::ClientService;
use crate::domain::clock::{Clock, OsRandom, Random, SystemClock};
use crate::domain::notify::Outbox;
use crate::domain::oauth::{OAuthService, TokenSettings};
use crate::domain::sessions::SessionPolicy;
use crate::domain::signin::{LoginDeps, LoginService, Protection};
use crate::domain::throttle::Throttle;
use crate::domain::tokens::keys::KeyRing;
use crate::events::sink::EventSink;
use crate::mail::Mailer;
use crate::mail::file::FileMailer;
use crate::mail::outbox::QueueOutbox;
use crate::mail::smtp::SmtpMailer;
use crate::state::AppState;
use crate::storage::Store;

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

/// Connects the database and builds every service.
pub async fn build_state(config: Config, deps: Deps) -> anyhow::Result<(AppState, Store)> {
    let store = crate::storage::connect(&config.database_url, config.database_max_connections)
        .await
        .context("AUTHD_DATABASE_URL: cannot open or migrate the database")?;
    let events = EventSink::new(store.events.clone(), deps.clock.clone());
    let hasher = PasswordHasher::new(config.hash_params, config.hash_workers, config.hash_queue)?;
    let throttle = Throttle::new(config.rate_limits, deps.clock.clone());
    let accounts = AccountService::new(
        store.accounts.clone(),
        hasher,
        deps.clock.clone(),
        events.clone(),
        throttle.clone(),
    );
    let protection = Protection::load(
        store.failures.clone(),
        deps.clock.clone(),
        deps.random.clone(),
        config.protection,
    )
    .await
    .context("protection state")?;
    let geo = match &config.geoip_db {
        Some(path) => Some(Arc::new(
            crate::domain::risk::geo::GeoDb::open(path).map_err(anyhow::Error::msg)?,
        )),
        None => None,
    };
    let risk = crate::domain::risk::service::RiskService::new(
        store.risk.clone(),
        geo,
        deps.clock.clone(),
        deps.random.token(32).as_bytes(),
        config.risk,
    );
    risk.reload().await.context("loading the risk model")?;
    let oauth = build_oauth(
        &config,
        &deps,
        &store,
        accounts.clone(),
        events.clone(),
        throttle.clone(),
    )
    .await?
    .with_risk(risk.clone());
    let mailer = build_mailer(&config)?;
    let outbox: Arc<dyn Outbox> = Arc::new(QueueOutbox::new(
        store.mail.clone(),
        deps.clock.clone(),
        config.mail_from.email.domain().to_owned(),
    ));
    let login = LoginService::new(
        accounts.clone(),
        LoginDeps {
            clock: deps.clock.clone(),
            events: events.clone(),
            throttle: throttle.clone(),
            protection,
            risk: risk.clone(),
            outbox: outbox.clone(),
            grants: store.grants.clone(),
            issuer: config.issuer_str().to_owned(),
        },
    );
    let resets = ResetService {
        accounts: accounts.clone(),
        resets: store.resets.clone(),
        grants: store.grants.clone(),
        outbox,
        clock: deps.clock.clone(),
        random: deps.random.clone(),
        events: events.clone(),
        throttle: throttle.clone(),
        issuer: config.issuer_str().to_owned(),
    };
    let captchas = build_captchas(&config)?;
    let csp = crate::http::middleware::csp_for(captchas.remote().map(|r| r.kind));
    let state = AppState {
        csp: csp.into(),
        captchas,
        resets,
        mailer,
        mail_store: store.mail.clone(),
        session_policy: SessionPolicy {
            idle_timeout: config.session_idle_timeout,
            lifetime: config.session_lifetime,
        },
        config: Arc::new(config),
        clock: deps.clock,
        random: deps.random,
        accounts,
        events,
        oauth,
        login,
        throttle,
        risk,
        risk_store: store.risk.clone(),
        health: store.health.clone(),
        metrics: crate::telemetry::metrics_handle(),
    };
    Ok((state, store))
}

fn build_captchas(config: &Config) -> anyhow::Result<Captchas> {
    use crate::config::CaptchaKind;
    use crate::domain::captcha::{Remote, RemoteKind};
    let kind = match config.captcha {
        CaptchaKind::Builtin => return Ok(Captchas::Builtin),
        CaptchaKind::Test => {
            let answer = config
                .captcha_test_answer
                .clone()
                .ok_or_else(|| anyhow::anyhow!("AUTHD_CAPTCHA_TEST_ANSWER missing"))?;
            return Ok(Captchas::Test(answer));
        }
        CaptchaKind::Turnstile => RemoteKind::Turnstile,
        CaptchaKind::Hcaptcha => RemoteKind::Hcaptcha,
        CaptchaKind::Recaptcha => RemoteKind::Recaptcha,
    };
    let (Some(site_key), Some(secret)) = (
        config.captcha_site_key.clone(),
        config.captcha_secret.clone(),
    ) else {
        anyhow::bail!("AUTHD_CAPTCHA_SECRET: the provider needs a site key and a secret");
    };
    let verifier =
        crate::http::captcha_verifier::HttpVerifier::new().context("AUTHD_CAPTCHA: HTTP client")?;
    Ok(Captchas::Remote(Remote {
        kind,
        site_key,
        secret,
        verify_url: config
            .captcha_verify_url
            .clone()
            .unwrap_or_else(|| kind.default_verify_url().to_owned()),
        verifier: Arc::new(verifier),
    }))
}

fn build_mailer(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    use secrecy::ExposeSecret;
    Ok(match &config.smtp_url {
        Some(url) => Arc::new(
            SmtpMailer::new(url.expose_secret(), config.mail_from.clone())
                .map_err(|_| anyhow::anyhow!("AUTHD_SMTP_URL: not a valid SMTP URL"))?,
        ),
        None => Arc::new(FileMailer::new(
            config.mail_dir.clone(),
            config.mail_from.clone(),
        )),
    })
}

async fn build_oauth(
    config: &Config,
    deps: &Deps,
    store: &Store,
    accounts: AccountService,
    events: EventSink,
    throttle: Throttle,
) -> anyhow::Result<OAuthService> {
    let settings = TokenSettings {
        issuer: config.issuer_str().to_owned(),
        access_ttl: config.access_token_ttl,
        id_ttl: config.id_token_ttl,
        code_ttl: config.auth_code_ttl,
        refresh_idle: config.refresh_idle,
        refresh_lifetime: config.refresh_lifetime,
        access_alg: config.access_token_alg,
        bearer_cache_secs: config.bearer_cache_secs,
    };
    // A retired key stays published while any token it signed can still be presented.
    let publish_after_retire = settings.access_ttl.max(settings.id_ttl) + 300;
    let keys = KeyRing::load(
        store.keys.clone(),
        deps.clock.clone(),
        deps.random.clone(),
        config.master_key.clone(),
        publish_after_retire,
    )
    .await
    .context("signing keys")?;
    let clients = ClientService::new(
        store.clients.clone(),
        deps.clock.clone(),
        deps.random.clone(),
    );
    Ok(OAuthService::new(
        clients,
        accounts,
        store.grants.clone(),
        Arc::new(keys),
        deps.clock.clone(),
        deps.random.clone(),
        events,
        settings,
        throttle,
    ))
}

/// A built, bound server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    store: Store,
    state: AppState,
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
        let (state, store) = build_state(config, deps).await?;
        let router = crate::http::router(state.clone(), store.sessions.clone());
        Ok(Self {
            listener,
            router,
            store,
            state,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The application state (for tests and tools that drive services directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let cleanup = tokio::spawn(
            self.store
                .sessions
                .clone()
                .continuously_delete_expired(tokio::time::Duration::from_secs(60)),
        );
        let mail_worker = tokio::spawn(crate::mail::worker::run(
            self.state.mail_store.clone(),
            self.state.mailer.clone(),
            self.state.clock.clone(),
            self.state.config.mail_poll,
        ));
        let throttle = self.state.throttle.clone();
        let events = self.state.events.clone();
        let evict = tokio::spawn(async move {
            let mut tick = tokio::time::interval(tokio::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let left = throttle.evict_idle() + events.evict_idle();
                metrics::gauge!("authd_rate_limit_keys").set(left as f64);
            }
        });
        let keys = self.state.oauth.keys().clone();
        let key_refresh = tokio::spawn(async move {
            let mut tick = tokio::time::interval(tokio::time::Duration::from_secs(30));
            loop {
                tick.tick().await;
                if let Err(e) = keys.reload().await {
                    tracing::warn!(error = %e, "reloading signing keys failed");
                }
            }
        });
        let risk = self.state.risk.clone();
        let model_reload = tokio::spawn(async move {
            let mut tick = tokio::time::interval(tokio::time::Duration::from_secs(30));
            loop {
                tick.tick().await;
                match risk.reload().await {
                    Ok(true) => tracing::info!(version = risk.model().version, "risk model loaded"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "reloading the risk model failed"),
                }
            }
        });
        let trainer = (self.state.config.risk_train_secs > 0).then(|| {
            let every = self.state.config.risk_train_secs;
            let store = self.state.risk_store.clone();
            let clock = self.state.clock.clone();
            let window = time::Duration::seconds(self.state.config.protection.window_secs);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(tokio::time::Duration::from_secs(every));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    // Off the request path: fitting runs on the blocking pool.
                    match crate::domain::risk::training::train_and_store(
                        &store,
                        &clock,
                        window,
                        &|_| {},
                    )
                    .await
                    {
                        Ok(r) => tracing::info!(
                            version = r.version,
                            examples = r.examples,
                            "risk model trained"
                        ),
                        Err(e) => tracing::info!(error = %e, "scheduled risk training skipped"),
                    }
                }
            })
        });
        tracing::info!(addr = %self.local_addr()?, "authd listening");
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        cleanup.abort();
        key_refresh.abort();
        model_reload.abort();
        if let Some(t) = trainer {
            t.abort();
        }
        evict.abort();
        mail_worker.abort();
        tracing::info!("authd stopped");
        Ok(served?)
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
    if !config.is_https() {
        tracing::warn!("AUTHD_ISSUER is not https: cookies are not marked Secure");
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
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
