//! Raw values → the typed [`Config`], one function per section; each value is read through its
//! entry in the key table and checked on its own (ranges, formats). Checks across fields live
//! in `Config::validate`, so a `Config` built in code is held to them too.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use time::Duration;

use super::keys::{self, Key};
use super::sources::Values;
use super::{BrandSettings, CaptchaKind, Config, ConfigError, ConnectionLimits, LogFormat};
use crate::domain::accounts::password::HashParams;
use crate::domain::risk::RiskSettings;
use crate::domain::risk::wave::WaveSettings;
use crate::domain::seal::MasterKey;
use crate::domain::signin::ladder::ProtectionSettings;
use crate::domain::throttle::Limits;
use crate::domain::tokens::alg::SigningAlg;

impl Config {
    /// Every field from `v`; defaults come from the key table, computed ones from here.
    pub(super) fn parse(v: &Values) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hash_workers = v.parse(&keys::HASH_WORKERS)?.unwrap_or(cores);
        let brand = brand(v)?;
        Ok(Self {
            database_url: v.required_text(&keys::DATABASE_URL)?.into(),
            database_max_connections: v.require(&keys::DATABASE_MAX_CONNECTIONS)?,
            sqlite_wal_restart_pages: v.require(&keys::SQLITE_WAL_RESTART_PAGES)?,
            bind: v.require(&keys::BIND)?,
            metrics_bind: if v.is_off(&keys::METRICS_BIND) {
                None
            } else {
                Some(v.require(&keys::METRICS_BIND)?)
            },
            connections: connections(v)?,
            issuer: issuer(v)?,
            trusted_proxies: cidrs(v, &keys::TRUSTED_PROXIES)?,
            log_format: log_format(v)?,
            smtp_url: v.secret(&keys::SMTP_URL),
            mail_dir: PathBuf::from(v.required_text(&keys::MAIL_DIR)?),
            mail_from: mail_from(v, &brand)?,
            mail_poll: std::time::Duration::from_millis(v.within(
                &keys::MAIL_POLL_MS,
                10,
                60_000,
            )?),
            captcha: v.choice(
                &keys::CAPTCHA,
                &[
                    ("builtin", CaptchaKind::Builtin),
                    ("turnstile", CaptchaKind::Turnstile),
                    ("hcaptcha", CaptchaKind::Hcaptcha),
                    ("recaptcha", CaptchaKind::Recaptcha),
                    ("test", CaptchaKind::Test),
                ],
            )?,
            captcha_site_key: v.text(&keys::CAPTCHA_SITE_KEY).map(str::to_owned),
            captcha_secret: v.secret(&keys::CAPTCHA_SECRET),
            captcha_verify_url: verify_url(v)?,
            captcha_test_answer: v.secret(&keys::CAPTCHA_TEST_ANSWER),
            registration_open: v
                .choice(&keys::REGISTRATION, &[("open", true), ("closed", false)])?,
            geoip_db: v.text(&keys::GEOIP_DB).map(PathBuf::from),
            geoip_asn_db: v.text(&keys::GEOIP_ASN_DB).map(PathBuf::from),
            brand,
            session_idle_timeout: secs(v, &keys::SESSION_IDLE_TIMEOUT_SECS)?,
            session_lifetime: secs(v, &keys::SESSION_LIFETIME_SECS)?,
            remember_idle: secs_or_off(v, &keys::REMEMBER_IDLE_SECS)?,
            admin_idle: secs(v, &keys::ADMIN_IDLE_SECS)?,
            hash_params: hash_params(v)?,
            hash_workers,
            hash_queue: v
                .parse(&keys::HASH_QUEUE)?
                .unwrap_or(hash_workers.saturating_mul(32)),
            hash_max_wait: Some(v.require::<u64>(&keys::HASH_MAX_WAIT_MS)?)
                .filter(|ms| *ms > 0)
                .map(std::time::Duration::from_millis),
            master_key: master_key(v)?,
            master_key_path: v.text(&keys::MASTER_KEY_PATH).map(PathBuf::from),
            access_token_alg: SigningAlg::parse(
                v.text(&keys::ACCESS_TOKEN_ALG).unwrap_or_default(),
            )
            .ok_or_else(|| {
                v.invalid(
                    &keys::ACCESS_TOKEN_ALG,
                    "must be ES256, RS256 or EdDSA".into(),
                )
            })?,
            access_token_ttl: secs(v, &keys::ACCESS_TOKEN_TTL_SECS)?.whole_seconds(),
            id_token_ttl: secs(v, &keys::ID_TOKEN_TTL_SECS)?.whole_seconds(),
            auth_code_ttl: secs(v, &keys::AUTH_CODE_TTL_SECS)?.whole_seconds(),
            refresh_idle: secs(v, &keys::REFRESH_IDLE_SECS)?.whole_seconds(),
            refresh_lifetime: secs(v, &keys::REFRESH_LIFETIME_SECS)?.whole_seconds(),
            bearer_cache_secs: v.within(&keys::BEARER_CACHE_SECS, 0, 60)?,
            rate_limits: rate_limits(v)?,
            protection: protection(v)?,
            risk: risk(v)?,
            risk_train_secs: v.require(&keys::RISK_TRAIN_SECS)?,
            event_retention_days: v.require(&keys::EVENT_RETENTION_DAYS)?,
            waves: waves(v)?,
            unknown_keys: v.unknown_keys(),
        })
    }
}

/// `AUTHD_LOG_FORMAT`.
fn log_format(v: &Values) -> Result<LogFormat, ConfigError> {
    v.choice(
        &keys::LOG_FORMAT,
        &[
            ("auto", LogFormat::Auto),
            ("pretty", LogFormat::Pretty),
            ("plain", LogFormat::Plain),
            ("json", LogFormat::Json),
        ],
    )
}

/// The sender: as set, else the product's name at `no-reply@localhost`.
fn mail_from(v: &Values, brand: &BrandSettings) -> Result<lettre::message::Mailbox, ConfigError> {
    if let Some(from) = v.parse(&keys::MAIL_FROM)? {
        return Ok(from);
    }
    let address = lettre::Address::new("no-reply", "localhost")
        .map_err(|e| v.invalid(&keys::MAIL_FROM, e.to_string()))?;
    Ok(lettre::message::Mailbox::new(
        Some(brand.product_name.clone()),
        address,
    ))
}

/// Branding: a short product name, a logo URL or local path, a hex accent colour.
fn brand(v: &Values) -> Result<BrandSettings, ConfigError> {
    let name_key = &keys::brand::PRODUCT_NAME;
    let product_name = v.required_text(name_key)?.trim().to_owned();
    if product_name.is_empty()
        || product_name.chars().count() > 64
        || product_name.chars().any(char::is_control)
    {
        return Err(v.invalid(
            name_key,
            "must be 1 to 64 characters, without control characters".into(),
        ));
    }
    let logo_key = &keys::brand::LOGO_URL;
    let logo_url = match v.text(logo_key) {
        None => None,
        Some(raw) if raw.starts_with('/') && !raw.starts_with("//") => Some(raw.to_owned()),
        Some(raw) => match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(raw.to_owned())
            }
            _ => {
                return Err(v.invalid(
                    logo_key,
                    format!("{raw:?}: must be an http(s) URL or a path starting with /"),
                ));
            }
        },
    };
    let color_key = &keys::brand::ACCENT_COLOR;
    let accent_color = match v.text(color_key) {
        None => None,
        Some(raw) => {
            let hex = raw.strip_prefix('#').unwrap_or("");
            if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(v.invalid(
                    color_key,
                    format!("{raw:?}: must be a hex colour, #rgb or #rrggbb"),
                ));
            }
            Some(format!("#{}", hex.to_ascii_lowercase()))
        }
    };
    Ok(BrandSettings {
        product_name,
        logo_url,
        accent_color,
        template_dir: v.text(&keys::brand::TEMPLATE_DIR).map(PathBuf::from),
    })
}

/// The argon2id parameters.
fn hash_params(v: &Values) -> Result<HashParams, ConfigError> {
    Ok(HashParams {
        memory_kib: v.require(&keys::ARGON2_MEMORY_KIB)?,
        iterations: v.require(&keys::ARGON2_ITERATIONS)?,
        parallelism: v.require(&keys::ARGON2_PARALLELISM)?,
    })
}

/// The most seconds any setting takes (ten years): more would overflow the times computed
/// from it (`now + ttl`), which then lie in the past.
const MAX_SECS: i64 = 10 * 365 * 86_400;
/// The largest count a setting takes (failures, connections, queued hashes).
pub(super) const MAX_COUNT: usize = 1_000_000;

/// A positive number of seconds (at most `MAX_SECS`).
fn secs(v: &Values, key: &Key) -> Result<Duration, ConfigError> {
    Ok(Duration::seconds(v.within(key, 1, MAX_SECS)?))
}

/// Seconds, where 0 turns the feature off (at most `MAX_SECS`).
fn secs_or_off(v: &Values, key: &Key) -> Result<Duration, ConfigError> {
    Ok(Duration::seconds(v.within(key, 0, MAX_SECS)?))
}

fn connections(v: &Values) -> Result<ConnectionLimits, ConfigError> {
    let secs = |key: &Key| {
        v.within(key, 1, MAX_SECS.unsigned_abs())
            .map(std::time::Duration::from_secs)
    };
    Ok(ConnectionLimits {
        header_read_timeout: secs(&keys::HEADER_READ_TIMEOUT_SECS)?,
        request_timeout: secs(&keys::REQUEST_TIMEOUT_SECS)?,
        max_connections: v.within(&keys::MAX_CONNECTIONS, 1, MAX_COUNT)?,
    })
}

fn issuer(v: &Values) -> Result<url::Url, ConfigError> {
    let key = &keys::ISSUER;
    let raw = v.required_text(key)?;
    let url = url::Url::parse(&raw).map_err(|e| v.invalid(key, format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(v.invalid(key, "must be an http(s) URL with a host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(v.invalid(key, "must not have a query or fragment".into()));
    }
    Ok(url)
}

/// Comma-separated CIDRs or single addresses.
fn cidrs(v: &Values, key: &Key) -> Result<Vec<IpNet>, ConfigError> {
    v.text(key)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| v.invalid(key, format!("{s:?} is not a CIDR or IP")))
        })
        .collect()
}

fn verify_url(v: &Values) -> Result<Option<String>, ConfigError> {
    let key = &keys::CAPTCHA_VERIFY_URL;
    match v.text(key) {
        None => Ok(None),
        Some(u) if url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) => {
            Ok(Some(u.to_owned()))
        }
        Some(_) => Err(v.invalid(key, "must be an http(s) URL".into())),
    }
}

fn master_key(v: &Values) -> Result<Option<MasterKey>, ConfigError> {
    let key = &keys::MASTER_KEY;
    v.text(key)
        .map(|raw| {
            MasterKey::parse(raw)
                .ok_or_else(|| v.invalid(key, "must be base64 of exactly 32 bytes".into()))
        })
        .transpose()
}

fn rate_limits(v: &Values) -> Result<Limits, ConfigError> {
    let per_min = |key: &Key| -> Result<u32, ConfigError> {
        let n: u32 = v.require(key)?;
        if n == 0 {
            return Err(v.invalid(key, "must be at least 1 per minute".into()));
        }
        Ok(n)
    };
    Ok(Limits {
        login_per_ip: per_min(&keys::RATE_LOGIN_PER_IP)?,
        login_per_account: per_min(&keys::RATE_LOGIN_PER_ACCOUNT)?,
        login_per_device: per_min(&keys::RATE_LOGIN_PER_DEVICE)?,
        register_per_ip: per_min(&keys::RATE_REGISTER_PER_IP)?,
        token_per_client: per_min(&keys::RATE_TOKEN_PER_CLIENT)?,
        token_auth_failures: per_min(&keys::RATE_TOKEN_AUTH_FAILURES)?,
        ipv6_48_factor: {
            let k = &keys::RATE_IPV6_48_FACTOR;
            let n: u32 = v.require(k)?;
            if n == 0 {
                return Err(v.invalid(k, "must be at least 1".into()));
            }
            n
        },
    })
}

fn protection(v: &Values) -> Result<ProtectionSettings, ConfigError> {
    let seconds = |key: &Key| v.within(key, 1, MAX_SECS);
    #[allow(clippy::cast_possible_wrap, reason = "MAX_COUNT is far below i64::MAX")]
    let count = |key: &Key, lo: i64| v.within(key, lo, MAX_COUNT as i64);
    Ok(ProtectionSettings {
        window_secs: seconds(&keys::FAILURE_WINDOW_SECS)?,
        form_window_secs: seconds(&keys::FORM_WINDOW_SECS)?,
        // 0 is allowed here: a challenge on every sign-in from an unknown source.
        challenge_after: count(&keys::CHALLENGE_AFTER, 0)?,
        block_after: count(&keys::BLOCK_AFTER, 1)?,
        block_secs: seconds(&keys::BLOCK_SECS)?,
        lock_after: count(&keys::LOCK_AFTER, 1)?,
        lock_secs: seconds(&keys::LOCK_SECS)?,
        delay_ms: v.require::<u64>(&keys::FAILURE_DELAY_MS)?.min(2_000),
        step_up_at: {
            let x: f64 = v.require(&keys::STEP_UP_AT)?;
            if !(x > 0.0 && x <= 1.0) {
                return Err(v.invalid(&keys::STEP_UP_AT, "must be in (0, 1]".into()));
            }
            x
        },
        email_code_ttl_secs: v.within(&keys::EMAIL_CODE_TTL_SECS, 1, 86_400)?,
        // Each wrong answer is one more guess at a six-digit code: a few, never unlimited.
        step_up_max_failures: v.within(&keys::STEP_UP_MAX_FAILURES, 1, 20)?,
    })
}

/// The thresholds; the velocity window is the protection's failure window.
fn risk(v: &Values) -> Result<RiskSettings, ConfigError> {
    let unit = |key: &Key| -> Result<f64, ConfigError> {
        let x: f64 = v.require(key)?;
        if !(x > 0.0 && x <= 1.0) {
            return Err(v.invalid(key, "must be in (0, 1]".into()));
        }
        Ok(x)
    };
    Ok(RiskSettings {
        challenge_at: unit(&keys::RISK_CHALLENGE_AT)?,
        block_at: unit(&keys::RISK_BLOCK_AT)?,
        window_secs: v.require::<i64>(&keys::FAILURE_WINDOW_SECS)?.max(1),
        ..RiskSettings::default()
    })
}

/// The wave detector: counts and times at least 1, shares in (0, 1], the jump at least 1.
fn waves(v: &Values) -> Result<WaveSettings, ConfigError> {
    let positive = |key: &Key| -> Result<i64, ConfigError> {
        let n: i64 = v.require(key)?;
        if n < 1 {
            return Err(v.invalid(key, "must be at least 1".into()));
        }
        Ok(n)
    };
    let share = |key: &Key| -> Result<f64, ConfigError> {
        let x: f64 = v.require(key)?;
        if !(x > 0.0 && x <= 1.0) {
            return Err(v.invalid(key, "must be in (0, 1]".into()));
        }
        Ok(x)
    };
    let at_least_one = |key: &Key| -> Result<f64, ConfigError> {
        let x: f64 = v.require(key)?;
        if !(x >= 1.0 && x.is_finite()) {
            return Err(v.invalid(key, "must be a number of at least 1".into()));
        }
        Ok(x)
    };
    Ok(WaveSettings {
        window_secs: positive(&keys::waves::WAVE_WINDOW_SECS)?,
        baseline_secs: positive(&keys::waves::WAVE_BASELINE_SECS)?,
        min_failures: positive(&keys::waves::WAVE_MIN_FAILURES)?,
        min_accounts: positive(&keys::waves::WAVE_MIN_ACCOUNTS)?,
        min_sources: positive(&keys::waves::WAVE_MIN_SOURCES)?,
        max_per_source: at_least_one(&keys::waves::WAVE_MAX_PER_SOURCE)?,
        rate_jump: at_least_one(&keys::waves::WAVE_RATE_JUMP)?,
        unknown_share: share(&keys::waves::WAVE_UNKNOWN_SHARE)?,
        spray_share: share(&keys::waves::WAVE_SPRAY_SHARE)?,
        hold_secs: positive(&keys::waves::WAVE_HOLD_SECS)?,
        refresh_secs: positive(&keys::waves::WAVE_REFRESH_SECS)?.unsigned_abs(),
    })
}
