//! Configuration: defaults → TOML file (`--config`) → `AUTHD_*` environment variables.
//! TOML keys are the variable names lower-cased without the prefix. Every value is validated
//! at start and a bad one stops start-up with a one-line error that names the variable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use secrecy::SecretString;
use time::Duration;

use crate::domain::accounts::password::HashParams;
use crate::domain::tokens::keys::MasterKey;

/// A configuration error; its message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be parsed or is out of range.
    #[error("invalid {var}: {reason}")]
    Invalid {
        /// The variable, e.g. `AUTHD_BIND`.
        var: String,
        /// Why.
        reason: String,
    },
    /// The TOML file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Which CAPTCHA provider to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaKind {
    /// Self-hosted, works offline.
    Builtin,
    /// Cloudflare Turnstile.
    Turnstile,
    /// hCaptcha.
    Hcaptcha,
    /// Google reCAPTCHA.
    Recaptcha,
    /// Automated tests: `AUTHD_CAPTCHA_TEST_ANSWER` passes.
    Test,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object a line.
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AUTHD_DATABASE_URL`: `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// `AUTHD_DATABASE_MAX_CONNECTIONS`: pool size (default 10).
    pub database_max_connections: u32,
    /// `AUTHD_BIND`: listen address (port 0 picks a free port).
    pub bind: SocketAddr,
    /// `AUTHD_ISSUER`: public base URL, without a trailing slash.
    pub issuer: url::Url,
    /// `AUTHD_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `AUTHD_SMTP_URL`: SMTP server; `None` writes mail to `mail_dir`.
    pub smtp_url: Option<SecretString>,
    /// `AUTHD_MAIL_DIR`: the `.eml` outbox.
    pub mail_dir: PathBuf,
    /// `AUTHD_MAIL_FROM`: sender of every mail.
    pub mail_from: lettre::message::Mailbox,
    /// `AUTHD_MAIL_POLL_MS`: how often the delivery worker looks for due mail (default 1000).
    pub mail_poll: std::time::Duration,
    /// `AUTHD_CAPTCHA`: CAPTCHA provider.
    pub captcha: CaptchaKind,
    /// `AUTHD_CAPTCHA_SITE_KEY`: the widget's site key (turnstile, hcaptcha, recaptcha).
    pub captcha_site_key: Option<String>,
    /// `AUTHD_CAPTCHA_SECRET`: the provider secret for server-side verification.
    pub captcha_secret: Option<SecretString>,
    /// `AUTHD_CAPTCHA_VERIFY_URL`: overrides the provider's verify URL (tests, proxies).
    pub captcha_verify_url: Option<String>,
    /// `AUTHD_CAPTCHA_TEST_ANSWER`: the passing answer with `captcha = test` (warned about).
    pub captcha_test_answer: Option<SecretString>,
    /// `AUTHD_GEOIP_DB`: MaxMind-format database.
    pub geoip_db: Option<PathBuf>,
    /// `AUTHD_REGISTRATION`: whether `/register` is open.
    pub registration_open: bool,
    /// `AUTHD_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `AUTHD_SESSION_IDLE_TIMEOUT_SECS`: idle timeout (default 1800).
    pub session_idle_timeout: Duration,
    /// `AUTHD_SESSION_LIFETIME_SECS`: absolute lifetime (default 43200).
    pub session_lifetime: Duration,
    /// `AUTHD_ARGON2_MEMORY_KIB`, `AUTHD_ARGON2_ITERATIONS`, `AUTHD_ARGON2_PARALLELISM`.
    pub hash_params: HashParams,
    /// `AUTHD_HASH_WORKERS`: hashes at once (default: number of cores).
    pub hash_workers: usize,
    /// `AUTHD_HASH_QUEUE`: hashes allowed to wait before 503 (default 32 per worker).
    pub hash_queue: usize,
    /// `AUTHD_MASTER_KEY`: base64 of 32 bytes; seals signing keys at rest when set.
    pub master_key: Option<MasterKey>,
    /// `AUTHD_ACCESS_TOKEN_TTL_SECS` (default 600).
    pub access_token_ttl: i64,
    /// `AUTHD_ID_TOKEN_TTL_SECS` (default 3600).
    pub id_token_ttl: i64,
    /// `AUTHD_AUTH_CODE_TTL_SECS` (default 60).
    pub auth_code_ttl: i64,
    /// `AUTHD_REFRESH_IDLE_SECS`: an unused refresh token expires (default 14 days).
    pub refresh_idle: i64,
    /// `AUTHD_REFRESH_LIFETIME_SECS`: a grant's refresh tokens end (default 30 days).
    pub refresh_lifetime: i64,
    /// `AUTHD_BEARER_CACHE_SECS`: how long a passed bearer check is reused (default 1; 0 = off).
    pub bearer_cache_secs: i64,
    /// `AUTHD_CHALLENGE_AFTER`, `AUTHD_BLOCK_AFTER`, `AUTHD_BLOCK_SECS`, `AUTHD_LOCK_AFTER`,
    /// `AUTHD_LOCK_SECS`, `AUTHD_FAILURE_WINDOW_SECS`: the sign-in ladder.
    pub protection: crate::domain::signin::ladder::ProtectionSettings,
    /// `AUTHD_RISK_CHALLENGE_AT`, `AUTHD_RISK_BLOCK_AT`: score thresholds of the risk engine.
    pub risk: crate::domain::risk::RiskSettings,
    /// `AUTHD_RISK_TRAIN_SECS`: how often `serve` retrains the model (default a day; 0 = never).
    pub risk_train_secs: u64,
    /// `AUTHD_RATE_*`: per-instance rate limits (requests per minute).
    pub rate_limits: crate::domain::throttle::Limits,
    /// `AUTHD_ACCESS_TOKEN_ALG`: `ES256` (default), `RS256` or `EdDSA`.
    pub access_token_alg: crate::domain::tokens::alg::SigningAlg,
    /// Unknown `AUTHD_*` variables or TOML keys, to warn about once logging is up.
    pub unknown_keys: Vec<String>,
}

const KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "bind",
    "issuer",
    "trusted_proxies",
    "smtp_url",
    "mail_dir",
    "mail_from",
    "captcha",
    "captcha_test_answer",
    "captcha_site_key",
    "captcha_secret",
    "captcha_verify_url",
    "geoip_db",
    "registration",
    "log_format",
    "session_idle_timeout_secs",
    "session_lifetime_secs",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "hash_workers",
    "hash_queue",
    "master_key",
    "access_token_ttl_secs",
    "id_token_ttl_secs",
    "auth_code_ttl_secs",
    "refresh_idle_secs",
    "refresh_lifetime_secs",
    "access_token_alg",
    "bearer_cache_secs",
    "mail_poll_ms",
    "challenge_after",
    "block_after",
    "block_secs",
    "lock_after",
    "lock_secs",
    "failure_window_secs",
    "failure_delay_ms",
    "rate_login_per_ip",
    "rate_login_per_account",
    "rate_register_per_ip",
    "rate_token_per_client",
    "risk_challenge_at",
    "risk_block_at",
    "risk_train_secs",
];

impl Config {
    /// Loads from an optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some(path) = file {
            values.extend(read_toml(path)?);
        }
        for (k, v) in std::env::vars() {
            if let Some(key) = k.strip_prefix("AUTHD_") {
                values.insert(key.to_lowercase(), v);
            }
        }
        Self::from_values(&values)
    }

    /// Builds from a map of lower-case keys (without prefix) to raw values; the test seam.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| values.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let unknown_keys = values
            .keys()
            .filter(|k| !KEYS.contains(&k.as_str()) && !k.ends_with("_file"))
            .map(|k| format!("AUTHD_{}", k.to_uppercase()))
            .collect();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hash_workers = parse_or(get("hash_workers"), "hash_workers", cores)?;
        let issuer = parse_issuer(get("issuer").unwrap_or("http://127.0.0.1:8080"))?;
        let captcha = match get("captcha").unwrap_or("builtin") {
            "builtin" => CaptchaKind::Builtin,
            "turnstile" => CaptchaKind::Turnstile,
            "hcaptcha" => CaptchaKind::Hcaptcha,
            "recaptcha" => CaptchaKind::Recaptcha,
            "test" => CaptchaKind::Test,
            other => return Err(invalid("captcha", format!("unknown provider {other:?}"))),
        };
        let captcha_test_answer = get("captcha_test_answer").map(SecretString::from);
        let remote = matches!(
            captcha,
            CaptchaKind::Turnstile | CaptchaKind::Hcaptcha | CaptchaKind::Recaptcha
        );
        if remote && (get("captcha_site_key").is_none() || get("captcha_secret").is_none()) {
            return Err(invalid(
                "captcha_secret",
                "this provider needs AUTHD_CAPTCHA_SITE_KEY and AUTHD_CAPTCHA_SECRET".into(),
            ));
        }
        if captcha == CaptchaKind::Test && captcha_test_answer.is_none() {
            return Err(invalid(
                "captcha_test_answer",
                "AUTHD_CAPTCHA=test needs an answer".into(),
            ));
        }
        if let Some(u) = get("captcha_verify_url")
            && url::Url::parse(u).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
        {
            return Err(invalid(
                "captcha_verify_url",
                "must be an http(s) URL".into(),
            ));
        }
        if captcha_test_answer.is_some() && captcha != CaptchaKind::Test {
            return Err(invalid(
                "captcha_test_answer",
                "only allowed with AUTHD_CAPTCHA=test".into(),
            ));
        }
        Self {
            database_url: get("database_url")
                .unwrap_or("sqlite://authd.db?mode=rwc")
                .to_owned(),
            database_max_connections: parse_or(
                get("database_max_connections"),
                "database_max_connections",
                10,
            )?,
            bind: parse_or(
                get("bind"),
                "bind",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
            )?,
            issuer,
            trusted_proxies: parse_cidrs(get("trusted_proxies").unwrap_or(""))?,
            smtp_url: get("smtp_url").map(SecretString::from),
            mail_dir: PathBuf::from(get("mail_dir").unwrap_or("outbox")),
            mail_from: get("mail_from")
                .unwrap_or("authd <no-reply@localhost>")
                .parse()
                .map_err(|e: lettre::address::AddressError| invalid("mail_from", e.to_string()))?,
            mail_poll: std::time::Duration::from_millis(
                parse_or(get("mail_poll_ms"), "mail_poll_ms", 1000_u64)?.clamp(10, 60_000),
            ),
            captcha,
            captcha_site_key: get("captcha_site_key").map(str::to_owned),
            captcha_secret: get("captcha_secret").map(SecretString::from),
            captcha_verify_url: get("captcha_verify_url").map(str::to_owned),
            captcha_test_answer,
            geoip_db: get("geoip_db").map(PathBuf::from),
            registration_open: match get("registration").unwrap_or("open") {
                "open" => true,
                "closed" => false,
                other => {
                    return Err(invalid(
                        "registration",
                        format!("{other:?} is not open or closed"),
                    ));
                }
            },
            log_format: match get("log_format").unwrap_or("pretty") {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "log_format",
                        format!("{other:?} is not pretty or json"),
                    ));
                }
            },
            session_idle_timeout: secs(
                get("session_idle_timeout_secs"),
                "session_idle_timeout_secs",
                1800,
            )?,
            session_lifetime: secs(
                get("session_lifetime_secs"),
                "session_lifetime_secs",
                43_200,
            )?,
            hash_params: HashParams {
                memory_kib: parse_or(get("argon2_memory_kib"), "argon2_memory_kib", 19_456)?,
                iterations: parse_or(get("argon2_iterations"), "argon2_iterations", 2)?,
                parallelism: parse_or(get("argon2_parallelism"), "argon2_parallelism", 1)?,
            },
            hash_workers,
            hash_queue: parse_or(get("hash_queue"), "hash_queue", hash_workers * 32)?,
            master_key: match get("master_key") {
                None => None,
                Some(v) => Some(MasterKey::parse(v).ok_or_else(|| {
                    invalid("master_key", "must be base64 of exactly 32 bytes".into())
                })?),
            },
            access_token_ttl: secs(get("access_token_ttl_secs"), "access_token_ttl_secs", 600)?
                .whole_seconds(),
            id_token_ttl: secs(get("id_token_ttl_secs"), "id_token_ttl_secs", 3600)?
                .whole_seconds(),
            auth_code_ttl: secs(get("auth_code_ttl_secs"), "auth_code_ttl_secs", 60)?
                .whole_seconds(),
            refresh_idle: secs(get("refresh_idle_secs"), "refresh_idle_secs", 14 * 86_400)?
                .whole_seconds(),
            refresh_lifetime: secs(
                get("refresh_lifetime_secs"),
                "refresh_lifetime_secs",
                30 * 86_400,
            )?
            .whole_seconds(),
            protection: {
                let d = crate::domain::signin::ladder::ProtectionSettings::default();
                let positive = |key: &str, default: i64| -> Result<i64, ConfigError> {
                    let n: i64 = parse_or(get(key), key, default)?;
                    if n < 1 {
                        return Err(invalid(key, "must be at least 1".into()));
                    }
                    Ok(n)
                };
                crate::domain::signin::ladder::ProtectionSettings {
                    window_secs: positive("failure_window_secs", d.window_secs)?,
                    // 0 is allowed here: a challenge on every sign-in from an unknown source.
                    challenge_after: parse_or(
                        get("challenge_after"),
                        "challenge_after",
                        d.challenge_after,
                    )?
                    .max(0),
                    block_after: positive("block_after", d.block_after)?,
                    block_secs: positive("block_secs", d.block_secs)?,
                    lock_after: positive("lock_after", d.lock_after)?,
                    lock_secs: positive("lock_secs", d.lock_secs)?,
                    delay_ms: parse_or(get("failure_delay_ms"), "failure_delay_ms", d.delay_ms)?
                        .min(2_000),
                }
            },
            risk: {
                let d = crate::domain::risk::RiskSettings::default();
                let unit = |key: &str, default: f64| -> Result<f64, ConfigError> {
                    let v: f64 = parse_or(get(key), key, default)?;
                    if !(v > 0.0 && v <= 1.0) {
                        return Err(invalid(key, "must be in (0, 1]".into()));
                    }
                    Ok(v)
                };
                let challenge_at = unit("risk_challenge_at", d.challenge_at)?;
                let block_at = unit("risk_block_at", d.block_at)?;
                if block_at < challenge_at {
                    return Err(invalid(
                        "risk_block_at",
                        "must not be below AUTHD_RISK_CHALLENGE_AT".into(),
                    ));
                }
                crate::domain::risk::RiskSettings {
                    challenge_at,
                    block_at,
                    window_secs: parse_or(
                        get("failure_window_secs"),
                        "failure_window_secs",
                        d.window_secs,
                    )?
                    .max(1),
                    ..d
                }
            },
            risk_train_secs: parse_or(get("risk_train_secs"), "risk_train_secs", 86_400_u64)?,
            rate_limits: {
                let d = crate::domain::throttle::Limits::default();
                let per_min = |key: &str, default: u32| -> Result<u32, ConfigError> {
                    let n = parse_or(get(key), key, default)?;
                    if n == 0 {
                        return Err(invalid(key, "must be at least 1 per minute".into()));
                    }
                    Ok(n)
                };
                crate::domain::throttle::Limits {
                    login_per_ip: per_min("rate_login_per_ip", d.login_per_ip)?,
                    login_per_account: per_min("rate_login_per_account", d.login_per_account)?,
                    register_per_ip: per_min("rate_register_per_ip", d.register_per_ip)?,
                    token_per_client: per_min("rate_token_per_client", d.token_per_client)?,
                }
            },
            bearer_cache_secs: parse_or(get("bearer_cache_secs"), "bearer_cache_secs", 1_i64)?
                .clamp(0, 60),
            access_token_alg: crate::domain::tokens::alg::SigningAlg::parse(
                get("access_token_alg").unwrap_or("ES256"),
            )
            .ok_or_else(|| invalid("access_token_alg", "must be ES256, RS256 or EdDSA".into()))?,
            unknown_keys,
        }
        .validated()
    }

    fn validated(self) -> Result<Self, ConfigError> {
        if self.hash_params.memory_kib < 8 * self.hash_params.parallelism.max(1)
            || self.hash_params.iterations == 0
            || self.hash_params.parallelism == 0
        {
            return Err(invalid(
                "argon2_memory_kib",
                "argon2 parameters out of range".into(),
            ));
        }
        if self.hash_workers == 0 {
            return Err(invalid("hash_workers", "must be at least 1".into()));
        }
        if let Some(url) = &self.smtp_url {
            use secrecy::ExposeSecret;
            crate::mail::smtp::SmtpMailer::new(url.expose_secret(), self.mail_from.clone())
                .map_err(|_| invalid("smtp_url", "not a valid smtp:// or smtps:// URL".into()))?;
        }
        if self.database_max_connections == 0 {
            return Err(invalid(
                "database_max_connections",
                "must be at least 1".into(),
            ));
        }
        if self.session_idle_timeout > self.session_lifetime {
            return Err(invalid(
                "session_idle_timeout_secs",
                "must not exceed AUTHD_SESSION_LIFETIME_SECS".into(),
            ));
        }
        let db = &self.database_url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres://".into(),
            ));
        }
        Ok(self)
    }

    /// Whether the issuer is https (secure cookies, `__Host-` prefix, HSTS).
    pub fn is_https(&self) -> bool {
        self.issuer.scheme() == "https"
    }

    /// The issuer as a string without a trailing slash.
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str().trim_end_matches('/')
    }
}

fn invalid(key: &str, reason: String) -> ConfigError {
    ConfigError::Invalid {
        var: format!("AUTHD_{}", key.to_uppercase()),
        reason,
    }
}

fn parse_or<T: std::str::FromStr>(
    raw: Option<&str>,
    key: &str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match raw {
        None => Ok(default),
        Some(s) => s
            .trim()
            .parse()
            .map_err(|e: T::Err| invalid(key, format!("{s:?}: {e}"))),
    }
}

fn secs(raw: Option<&str>, key: &str, default: i64) -> Result<Duration, ConfigError> {
    let n: i64 = parse_or(raw, key, default)?;
    if n <= 0 {
        return Err(invalid(key, "must be a positive number of seconds".into()));
    }
    Ok(Duration::seconds(n))
}

fn parse_issuer(raw: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(raw).map_err(|e| invalid("issuer", format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "issuer",
            "must be an http(s) URL with a host".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "issuer",
            "must not have a query or fragment".into(),
        ));
    }
    Ok(url)
}

fn parse_cidrs(raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| invalid("trusted_proxies", format!("{s:?} is not a CIDR or IP")))
        })
        .collect()
}

fn read_toml(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_err = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.message().to_owned()))?;
    table
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => return Err(file_err(format!("unsupported value for {k}: {other}"))),
            };
            Ok((k.to_lowercase(), s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_values(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        )
    }

    #[test]
    fn defaults_match_the_interface() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://authd.db?mode=rwc");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.issuer_str(), "http://127.0.0.1:8080");
        assert!(c.registration_open);
        assert_eq!(c.captcha, CaptchaKind::Builtin);
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.hash_params, HashParams::default());
        assert_eq!(c.session_idle_timeout, Duration::minutes(30));
        assert_eq!(c.session_lifetime, Duration::hours(12));
        assert_eq!(c.mail_dir, PathBuf::from("outbox"));
    }

    #[test]
    fn errors_name_the_variable() {
        for (k, v, var) in [
            ("bind", "nope", "AUTHD_BIND"),
            ("issuer", "ftp://x", "AUTHD_ISSUER"),
            (
                "trusted_proxies",
                "10.0.0.0/8, bad",
                "AUTHD_TRUSTED_PROXIES",
            ),
            ("registration", "maybe", "AUTHD_REGISTRATION"),
            ("log_format", "xml", "AUTHD_LOG_FORMAT"),
            ("captcha", "magic", "AUTHD_CAPTCHA"),
            ("argon2_iterations", "0", "AUTHD_ARGON2_MEMORY_KIB"),
            ("database_url", "mysql://x", "AUTHD_DATABASE_URL"),
            ("session_lifetime_secs", "-1", "AUTHD_SESSION_LIFETIME_SECS"),
            ("master_key", "c2hvcnQ=", "AUTHD_MASTER_KEY"),
            ("access_token_alg", "HS256", "AUTHD_ACCESS_TOKEN_ALG"),
            ("refresh_idle_secs", "0", "AUTHD_REFRESH_IDLE_SECS"),
            ("rate_login_per_ip", "0", "AUTHD_RATE_LOGIN_PER_IP"),
            ("mail_from", "not an address", "AUTHD_MAIL_FROM"),
            (
                "rate_token_per_client",
                "many",
                "AUTHD_RATE_TOKEN_PER_CLIENT",
            ),
        ] {
            let err = cfg(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err} does not name {var}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn captcha_test_answer_needs_test_provider() {
        assert!(cfg(&[("captcha_test_answer", "x")]).is_err());
        assert!(cfg(&[("captcha", "test"), ("captcha_test_answer", "x")]).is_ok());
        assert!(
            cfg(&[("captcha", "test")])
                .unwrap_err()
                .to_string()
                .contains("AUTHD_CAPTCHA_TEST_ANSWER")
        );
        let e = cfg(&[("captcha", "turnstile"), ("captcha_site_key", "k")]).unwrap_err();
        assert!(e.to_string().contains("AUTHD_CAPTCHA_SECRET"));
        assert!(
            cfg(&[
                ("captcha", "hcaptcha"),
                ("captcha_site_key", "k"),
                ("captcha_secret", "s")
            ])
            .is_ok()
        );
    }

    #[test]
    fn https_issuer_and_proxies() {
        let c = cfg(&[
            ("issuer", "https://id.example.com/"),
            ("trusted_proxies", "10.0.0.0/8, ::1"),
        ])
        .unwrap();
        assert!(c.is_https());
        assert_eq!(c.issuer_str(), "https://id.example.com");
        assert_eq!(c.trusted_proxies.len(), 2);
    }

    #[test]
    fn toml_file_then_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authd.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9999\"\nhash_workers = 3\ntrusted_proxies = [\"10.0.0.0/8\"]\nbogus = 1\n").unwrap();
        let mut values = read_toml(&path).unwrap();
        values.insert("hash_workers".into(), "4".into());
        let c = Config::from_values(&values).unwrap();
        assert_eq!(c.bind.port(), 9999);
        assert_eq!(c.hash_workers, 4);
        assert_eq!(c.trusted_proxies.len(), 1);
        assert_eq!(c.unknown_keys, vec!["AUTHD_BOGUS".to_string()]);
    }
}
