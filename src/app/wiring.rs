//! Wiring: config and the injected dependencies in, the application state out. One builder per
//! service group (accounts, risk, sign-in, OAuth, mail, CAPTCHA, admin); `build_state` calls
//! them in dependency order. Nothing here decides anything a request depends on.

use std::sync::Arc;

use anyhow::Context;

use crate::app::Deps;
use crate::app::state::{AppParts, AppState};
use crate::config::Config;
use crate::domain::account_security::{SecurityDeps, SecurityService};
use crate::domain::accounts::admin::{AccountAdmin, AccountAdminDeps};
use crate::domain::accounts::password::PasswordHasher;
use crate::domain::accounts::reset::ResetService;
use crate::domain::accounts::service::AccountService;
use crate::domain::admin::AdminService;
use crate::domain::clients::ClientService;
use crate::domain::mfa::totp::Authenticators;
use crate::domain::notify::Outbox;
use crate::domain::oauth::{OAuthService, TokenSettings};
use crate::domain::passkeys::{PasskeyDeps, PasskeyService, relying_party};
use crate::domain::risk::geo::Geo;
use crate::domain::risk::service::RiskService;
use crate::domain::seal::Sealer;
use crate::domain::sessions::SessionPolicy;
use crate::domain::signin::{LoginDeps, LoginService, Protection};
use crate::domain::tasks::Background;
use crate::domain::throttle::Throttle;
use crate::domain::tokens::keys::KeyRing;
use crate::events::sink::EventSink;
use crate::render::Branding;
use crate::storage::Store;

use super::wiring_captcha::captchas;

/// The admin console's builder.
mod console;
/// Mail's builder.
mod mail;
use mail::mail;
/// The state every instance shares through the database: waves, the CSRF key.
mod shared;
pub use shared::{build_serving_state, build_state};
use shared::{csrf_key, event_sink, open_store, waves};

/// What every service group is built from.
struct Base<'a> {
    config: &'a Config,
    deps: &'a Deps,
    store: &'a Store,
    events: EventSink,
    throttle: Throttle,
    background: Background,
    /// Seals every secret the services keep in the database.
    sealer: Sealer,
    /// The product's name, look and template overrides (pages and mails).
    brand: Arc<Branding>,
}

async fn build(config: Config, deps: Deps, serving: bool) -> anyhow::Result<(AppState, Store)> {
    let store = open_store(&config).await?;
    let sealer = crate::app::master_key::sealer(&config, deps.random.clone())?;
    let catalog = [crate::http::templates(), crate::mail::templates()].concat();
    let brand = Arc::new(Branding::load(&config.brand, &catalog)?);
    let base = Base {
        config: &config,
        deps: &deps,
        store: &store,
        events: event_sink(&config, &store, &deps, serving).await?,
        throttle: Throttle::new(config.rate_limits, deps.clock.clone()),
        background: Background::default(),
        sealer,
        brand: brand.clone(),
    };
    let accounts = accounts(&base)?;
    let waves = waves(&base);
    let risk = risk(&base).await?.with_waves(waves.clone());
    let oauth = oauth(&base, accounts.clone())
        .await?
        .with_risk(risk.clone());
    let (mail, outbox) = mail(&base)?;
    let passkeys = passkeys(&base, outbox.clone());
    let login = sign_in(
        &base,
        accounts.clone(),
        risk.clone(),
        outbox.clone(),
        &passkeys,
        &oauth,
    )
    .await?;
    let security = security(&base, accounts.clone(), &risk, outbox.clone(), &oauth);
    let resets = resets(&base, accounts.clone(), outbox, &login, &oauth, &passkeys);
    let admin = admin(&base, accounts.clone(), risk.clone());
    let account_admin = account_admin(&base, &accounts, &security, &login, &passkeys, &oauth);
    let acts = console::Acts {
        security: &security,
        resets: &resets,
        account_admin: &account_admin,
        admin: &admin,
        risk: &risk,
    };
    let admin_console = console::admin_console(&base, &accounts, &login, &waves, acts);
    let admin_ops = console::admin_ops(&base, &oauth, &admin, &risk);
    let captchas = captchas(&config)?;
    let csrf = csrf_key(&base).await?;
    let csp = crate::http::middleware::csp_for(captchas.remote().map(|r| r.kind), &brand);
    let (events, throttle, background) = (base.events, base.throttle, base.background);
    let state = AppState::new(AppParts {
        brand,
        csp: csp.into(),
        captchas,
        csrf,
        resets,
        security,
        admin,
        account_admin,
        admin_console,
        admin_ops,
        mail,
        background,
        session_policy: SessionPolicy {
            idle_timeout: config.session_idle_timeout,
            lifetime: config.session_lifetime,
            remember_idle: config.remember_idle,
        },
        config: Arc::new(config),
        clock: deps.clock,
        random: deps.random,
        accounts,
        events,
        oauth,
        login,
        passkeys,
        throttle,
        risk,
        risk_store: store.risk.clone(),
        waves,
        health: store.health.clone(),
        metrics: crate::app::telemetry::metrics_handle(),
    });
    Ok((state, store))
}

/// Accounts and the password-hashing pool.
fn accounts(b: &Base<'_>) -> anyhow::Result<AccountService> {
    let c = b.config;
    let hasher = PasswordHasher::with_random(
        c.hash_params,
        c.hash_workers,
        c.hash_queue,
        b.deps.random.clone(),
    )?
    .with_max_wait(c.hash_max_wait);
    Ok(AccountService::new(
        b.store.accounts.clone(),
        hasher,
        b.deps.clock.clone(),
        b.events.clone(),
        b.throttle.clone(),
    ))
}

/// The risk engine, with the GeoIP databases when configured and the newest stored model.
async fn risk(b: &Base<'_>) -> anyhow::Result<RiskService> {
    let c = b.config;
    let geo = Geo::open(c.geoip_db.as_deref(), c.geoip_asn_db.as_deref())
        .map_err(anyhow::Error::msg)?
        .map(Arc::new);
    let risk = RiskService::new(
        b.store.risk.clone(),
        geo,
        b.deps.clock.clone(),
        b.deps.random.token(32).as_bytes(),
        b.config.risk,
    );
    risk.reload().await.context("loading the risk model")?;
    Ok(risk)
}

/// Sign-in: the protection ladder's state and the orchestrator (with the passkeys, the
/// step-up's strongest rung).
async fn sign_in(
    b: &Base<'_>,
    accounts: AccountService,
    risk: RiskService,
    outbox: Arc<dyn Outbox>,
    passkeys: &PasskeyService,
    oauth: &OAuthService,
) -> anyhow::Result<LoginService> {
    let protection = Protection::load(
        b.store.failures.clone(),
        b.store.spent_links.clone(),
        b.deps.clock.clone(),
        b.deps.random.clone(),
        &b.sealer,
        b.config.protection,
    )
    .await
    .context("protection state")?;
    let recovery = protection.recovery_key.clone();
    Ok(LoginService::new(
        accounts,
        LoginDeps {
            clock: b.deps.clock.clone(),
            events: b.events.clone(),
            throttle: b.throttle.clone(),
            protection,
            risk,
            outbox,
            grants: b.store.grants.clone(),
            bearer_cache: oauth.bearer_cache_clear(),
            issuer: b.config.issuer_str().to_owned(),
            background: b.background.clone(),
            authenticators: Authenticators::new(
                b.store.mfa.clone(),
                b.sealer.clone(),
                b.deps.clock.clone(),
                b.deps.random.clone(),
                &b.config.brand.product_name,
                recovery,
            ),
            passkeys: passkeys.clone(),
        },
    ))
}

/// The account security page.
fn security(
    b: &Base<'_>,
    accounts: AccountService,
    risk: &RiskService,
    outbox: Arc<dyn Outbox>,
    oauth: &OAuthService,
) -> SecurityService {
    let c = b.config;
    SecurityService::new(
        accounts,
        SecurityDeps {
            clock: b.deps.clock.clone(),
            random: b.deps.random.clone(),
            events: b.events.clone(),
            throttle: b.throttle.clone(),
            sessions: b.store.user_sessions.clone(),
            grants: b.store.grants.clone(),
            bearer_cache: oauth.bearer_cache_clear(),
            risk: risk.clone(),
            risk_store: b.store.risk.clone(),
            outbox,
            sealer: b.sealer.clone(),
            policy: SessionPolicy {
                idle_timeout: c.session_idle_timeout,
                lifetime: c.session_lifetime,
                remember_idle: c.remember_idle,
            },
            issuer: c.issuer_str().to_owned(),
        },
    )
}

/// Passkeys: the relying party is the public URL (`AUTHD_ISSUER`); off when its host is an IP
/// address, which no browser accepts as a relying-party id.
fn passkeys(b: &Base<'_>, outbox: Arc<dyn Outbox>) -> PasskeyService {
    let webauthn = relying_party(&b.config.issuer, &b.config.brand.product_name);
    if webauthn.is_none() {
        tracing::warn!(
            issuer = b.config.issuer_str(),
            "passkeys are off: AUTHD_ISSUER names an IP address, not a domain (use localhost or a host name)"
        );
    }
    PasskeyService::new(
        webauthn,
        PasskeyDeps {
            store: b.store.passkeys.clone(),
            sealer: b.sealer.clone(),
            clock: b.deps.clock.clone(),
            outbox,
        },
    )
}

/// Password reset.
fn resets(
    b: &Base<'_>,
    accounts: AccountService,
    outbox: Arc<dyn Outbox>,
    login: &LoginService,
    oauth: &OAuthService,
    passkeys: &PasskeyService,
) -> ResetService {
    ResetService {
        accounts,
        resets: b.store.resets.clone(),
        grants: b.store.grants.clone(),
        bearer_cache: oauth.bearer_cache_clear(),
        outbox,
        clock: b.deps.clock.clone(),
        random: b.deps.random.clone(),
        sealer: b.sealer.clone(),
        events: b.events.clone(),
        throttle: b.throttle.clone(),
        background: b.background.clone(),
        issuer: b.config.issuer_str().to_owned(),
        links: login.links(),
        authenticators: login.authenticators().clone(),
        passkeys: passkeys.clone(),
        risk: login.risk().clone(),
    }
}

/// The operator's acts on accounts (`authd user list|show|disable|enable|delete`).
fn account_admin(
    b: &Base<'_>,
    accounts: &AccountService,
    security: &SecurityService,
    login: &LoginService,
    passkeys: &PasskeyService,
    oauth: &OAuthService,
) -> AccountAdmin {
    let deps = AccountAdminDeps {
        accounts: accounts.clone(),
        security: security.clone(),
        login: login.clone(),
        passkeys: passkeys.clone(),
        oauth: oauth.clone(),
        events: b.events.clone(),
        clock: b.deps.clock.clone(),
    };
    AccountAdmin::new(b.store.accounts.clone(), deps)
}

/// The admin API's operations.
fn admin(b: &Base<'_>, accounts: AccountService, risk: RiskService) -> AdminService {
    AdminService::new(
        accounts,
        b.events.clone(),
        risk,
        b.store.risk.clone(),
        b.deps.clock.clone(),
        time::Duration::seconds(b.config.protection.window_secs),
    )
}

/// The OAuth provider: token settings, the signing keys and the clients.
async fn oauth(b: &Base<'_>, accounts: AccountService) -> anyhow::Result<OAuthService> {
    let (config, deps, store) = (b.config, b.deps, b.store);
    let settings = TokenSettings {
        issuer: config.issuer_str().to_owned(),
        access_ttl: config.access_token_ttl,
        id_ttl: config.id_token_ttl,
        code_ttl: config.auth_code_ttl,
        refresh_idle: config.refresh_idle,
        refresh_lifetime: config.refresh_lifetime,
        access_alg: config.access_token_alg,
        bearer_cache_secs: config.bearer_cache_secs,
        auth_failures_per_minute: config.rate_limits.token_auth_failures,
    };
    // A retired key stays published while any token it signed can still be presented.
    let publish_after_retire = settings.access_ttl.max(settings.id_ttl) + 300;
    let keys = KeyRing::load(
        store.keys.clone(),
        deps.clock.clone(),
        deps.random.clone(),
        b.sealer.clone(),
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
        b.events.clone(),
        settings,
        b.throttle.clone(),
    ))
}
