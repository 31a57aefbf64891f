//! Configuration: the typed `Config` and its checks across fields. `keys` is the one key
//! table (names, defaults, secrets, meanings; the README table is rendered from it), `sources`
//! gathers raw values (defaults → TOML file → `AUTHD_*` environment → `*_FILE` secrets) and
//! `parse` turns them into the typed sections. A bad value stops start-up with a one-line error
//! that names the variable.

mod database_url;
mod keys;
mod parse;
mod sources;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use secrecy::SecretString;
use time::Duration;

pub use self::database_url::DatabaseUrl;
use crate::domain::accounts::password::HashParams;
use crate::domain::seal::MasterKey;

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
    /// A secret's `*_FILE` could not be used (missing, unreadable, empty).
    #[error("{var}: cannot use {path:?}: {reason}")]
    SecretFile {
        /// The variable, e.g. `AUTHD_MASTER_KEY_FILE`.
        var: String,
        /// The file it names.
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
    /// `pretty` on a terminal, `plain` otherwise (the default).
    Auto,
    /// Human-readable, coloured when stderr is a terminal (never colour codes otherwise).
    Pretty,
    /// Human-readable, no colour codes ever (log files, journald).
    Plain,
    /// One JSON object a line.
    Json,
}

/// What a connection may hold of the server (slow clients, floods of connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection must send a whole request head within this (from its opening, or from
    /// the previous answer on a kept-alive connection); otherwise it is closed.
    pub header_read_timeout: std::time::Duration,
    /// A request's body and its answer must be done within this after the head; otherwise
    /// `408` and the work is dropped.
    pub request_timeout: std::time::Duration,
    /// Connections served at once by each listener; more wait in the listen backlog.
    pub max_connections: usize,
}

/// `AUTHD_PRODUCT_NAME`, `AUTHD_LOGO_URL`, `AUTHD_ACCENT_COLOR`, `AUTHD_TEMPLATE_DIR`: what
/// people see of the deployment (docs/branding.md). Each value is checked on its own at parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandSettings {
    /// The name pages, titles and mails show (default `authd`).
    pub product_name: String,
    /// The header's logo: an http(s) URL or a path on this server.
    pub logo_url: Option<String>,
    /// The accent colour, `#rgb` or `#rrggbb` (lower case).
    pub accent_color: Option<String>,
    /// The directory of template overrides.
    pub template_dir: Option<PathBuf>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AUTHD_DATABASE_URL`: `sqlite://…` or `postgres://…` (its `Debug` hides the password).
    pub database_url: DatabaseUrl,
    /// `AUTHD_DATABASE_MAX_CONNECTIONS`: pool size (default 10).
    pub database_max_connections: u32,
    /// `AUTHD_SQLITE_WAL_RESTART_PAGES`: SQLite's WAL length at which the writer checkpoints;
    /// the background copy runs every 50 ms while the log grows (0: SQLite's own automatic checkpoint).
    pub sqlite_wal_restart_pages: u32,
    /// `AUTHD_BIND`: listen address (port 0 picks a free port).
    pub bind: SocketAddr,
    /// `AUTHD_METRICS_BIND`: the metrics listener's address; `None` (set empty) = no metrics
    /// listener. The main listener never serves `/metrics`.
    pub metrics_bind: Option<SocketAddr>,
    /// `AUTHD_HEADER_READ_TIMEOUT_SECS`, `AUTHD_REQUEST_TIMEOUT_SECS`,
    /// `AUTHD_MAX_CONNECTIONS`: what one connection may hold of the server.
    pub connections: ConnectionLimits,
    /// `AUTHD_ISSUER`: public base URL, without a trailing slash.
    pub issuer: url::Url,
    /// `AUTHD_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `AUTHD_SMTP_URL`: SMTP server; `None` writes mail to `mail_dir`.
    pub smtp_url: Option<SecretString>,
    /// `AUTHD_MAIL_DIR`: the `.eml` outbox.
    pub mail_dir: PathBuf,
    /// `AUTHD_MAIL_FROM`: sender of every mail (default: the product name at
    /// `no-reply@localhost`).
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
    /// `AUTHD_GEOIP_ASN_DB`: MaxMind-format ASN database, filling the ASN where
    /// `geoip_db` gives none.
    pub geoip_asn_db: Option<PathBuf>,
    /// `AUTHD_REGISTRATION`: whether `/register` is open.
    pub registration_open: bool,
    /// `AUTHD_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `AUTHD_PRODUCT_NAME`, `AUTHD_LOGO_URL`, `AUTHD_ACCENT_COLOR`, `AUTHD_TEMPLATE_DIR`.
    pub brand: BrandSettings,
    /// `AUTHD_SESSION_IDLE_TIMEOUT_SECS`: idle timeout (default 1800).
    pub session_idle_timeout: Duration,
    /// `AUTHD_SESSION_LIFETIME_SECS`: absolute lifetime (default 43200).
    pub session_lifetime: Duration,
    /// `AUTHD_REMEMBER_IDLE_SECS`: idle timeout of a "keep me signed in" session (default 30
    /// days; zero = not offered; never for admin accounts).
    pub remember_idle: Duration,
    /// `AUTHD_ADMIN_IDLE_SECS`: the admin console's idle timeout (default 900).
    pub admin_idle: Duration,
    /// `AUTHD_ARGON2_MEMORY_KIB`, `AUTHD_ARGON2_ITERATIONS`, `AUTHD_ARGON2_PARALLELISM`.
    pub hash_params: HashParams,
    /// `AUTHD_HASH_WORKERS`: hashes at once (default: number of cores).
    pub hash_workers: usize,
    /// `AUTHD_HASH_QUEUE`: hashes allowed to wait before 503 (default 32 per worker, worked
    /// out at parse time: code that changes `hash_workers` sets this too).
    pub hash_queue: usize,
    /// `AUTHD_HASH_MAX_WAIT_MS`: how long an ordinary-lane password check waits for a hash
    /// thread before 503 (default 1000; `None` = 0, as long as the queue takes).
    pub hash_max_wait: Option<std::time::Duration>,
    /// `AUTHD_MASTER_KEY` (or the file `AUTHD_MASTER_KEY_FILE` names): base64 of 32 bytes;
    /// seals every secret at rest. Required with PostgreSQL; with SQLite, when unset, the key
    /// in `master_key_path` is used (generated on first start).
    pub master_key: Option<MasterKey>,
    /// `AUTHD_MASTER_KEY_PATH`: where the generated master key is kept (SQLite without
    /// `AUTHD_MASTER_KEY`); `None` = beside the database file (`<database file>.key`).
    pub master_key_path: Option<PathBuf>,
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
    /// `AUTHD_LOCK_SECS`, `AUTHD_FAILURE_WINDOW_SECS`, `AUTHD_FAILURE_DELAY_MS`: the sign-in
    /// ladder.
    pub protection: crate::domain::signin::ladder::ProtectionSettings,
    /// `AUTHD_RISK_CHALLENGE_AT`, `AUTHD_RISK_BLOCK_AT`: score thresholds of the risk engine;
    /// its `window_secs` is `AUTHD_FAILURE_WINDOW_SECS` too (code that changes
    /// `protection.window_secs` sets both).
    pub risk: crate::domain::risk::RiskSettings,
    /// `AUTHD_RISK_TRAIN_SECS`: how often `serve` retrains the model (default a day; 0 = never).
    pub risk_train_secs: u64,
    /// `AUTHD_EVENT_RETENTION_DAYS`: days events are kept (0 = forever).
    pub event_retention_days: u32,
    /// `AUTHD_WAVE_*`: the stuffing and spraying wave detector's thresholds and timing.
    pub waves: crate::domain::risk::wave::WaveSettings,
    /// `AUTHD_RATE_*`: per-instance rate limits (requests per minute).
    pub rate_limits: crate::domain::throttle::Limits,
    /// `AUTHD_ACCESS_TOKEN_ALG`: `ES256` (default), `RS256` or `EdDSA`.
    pub access_token_alg: crate::domain::tokens::alg::SigningAlg,
    /// Unknown `AUTHD_*` variables or TOML keys, to warn about once logging is up.
    pub unknown_keys: Vec<String>,
}

impl Config {
    /// Loads from an optional TOML file, the process environment and the `*_FILE` secrets.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_values(&sources::gather(file)?)
    }

    /// Builds from a map of lower-case keys (without prefix) to raw values, `*_file` keys
    /// included; the seam for tests and benchmarks.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let config = Self::parse(&sources::Values::resolve(values)?)?;
        config.validate()?;
        Ok(config)
    }

    /// The checks across fields (and of fields a caller may have set in code); the error names
    /// the variable to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_captcha()?;
        let h = &self.hash_params;
        // Above: each hash worker holds its block (4 GiB each at most), and a cost that takes
        // minutes per sign-in is a mistake, not a policy.
        if h.memory_kib < 8 * h.parallelism.max(1) || h.memory_kib > 4 * 1024 * 1024 {
            return Err(invalid(
                &keys::ARGON2_MEMORY_KIB,
                "must be between 8 × AUTHD_ARGON2_PARALLELISM and 4194304 (KiB)",
            ));
        }
        if h.iterations == 0 || h.iterations > 1000 {
            return Err(invalid(
                &keys::ARGON2_ITERATIONS,
                "must be between 1 and 1000",
            ));
        }
        if h.parallelism == 0 || h.parallelism > 64 {
            return Err(invalid(
                &keys::ARGON2_PARALLELISM,
                "must be between 1 and 64",
            ));
        }
        if self.hash_workers == 0 || self.hash_workers > 1024 {
            return Err(invalid(&keys::HASH_WORKERS, "must be between 1 and 1024"));
        }
        if self.hash_queue > parse::MAX_COUNT {
            return Err(invalid(&keys::HASH_QUEUE, "must be at most 1000000"));
        }
        if let Some(url) = &self.smtp_url {
            use secrecy::ExposeSecret;
            crate::mail::smtp::SmtpMailer::new(url.expose_secret(), self.mail_from.clone())
                .map_err(|_| invalid(&keys::SMTP_URL, "not a valid smtp:// or smtps:// URL"))?;
        }
        if self.database_max_connections == 0 {
            return Err(invalid(
                &keys::DATABASE_MAX_CONNECTIONS,
                "must be at least 1",
            ));
        }
        if self.session_idle_timeout > self.session_lifetime {
            return Err(invalid(
                &keys::SESSION_IDLE_TIMEOUT_SECS,
                "must not exceed AUTHD_SESSION_LIFETIME_SECS",
            ));
        }
        if self.risk.block_at < self.risk.challenge_at {
            return Err(invalid(
                &keys::RISK_BLOCK_AT,
                "must not be below AUTHD_RISK_CHALLENGE_AT",
            ));
        }
        let db = &self.database_url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                &keys::DATABASE_URL,
                "must start with sqlite: or postgres://",
            ));
        }
        if !db.starts_with("sqlite:") && self.master_key.is_none() {
            return Err(invalid(
                &keys::MASTER_KEY,
                "required with PostgreSQL (the same key on every instance; or AUTHD_MASTER_KEY_FILE)",
            ));
        }
        Ok(())
    }

    fn validate_captcha(&self) -> Result<(), ConfigError> {
        let remote = matches!(
            self.captcha,
            CaptchaKind::Turnstile | CaptchaKind::Hcaptcha | CaptchaKind::Recaptcha
        );
        if remote && (self.captcha_site_key.is_none() || self.captcha_secret.is_none()) {
            return Err(invalid(
                &keys::CAPTCHA_SECRET,
                "this provider needs AUTHD_CAPTCHA_SITE_KEY and AUTHD_CAPTCHA_SECRET",
            ));
        }
        match (self.captcha, &self.captcha_test_answer) {
            (CaptchaKind::Test, None) => Err(invalid(
                &keys::CAPTCHA_TEST_ANSWER,
                "AUTHD_CAPTCHA=test needs an answer",
            )),
            (CaptchaKind::Test, Some(_)) | (_, None) => Ok(()),
            (_, Some(_)) => Err(invalid(
                &keys::CAPTCHA_TEST_ANSWER,
                "only allowed with AUTHD_CAPTCHA=test",
            )),
        }
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

fn invalid(key: &keys::Key, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var: key.var(),
        reason: reason.to_owned(),
    }
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
        assert_eq!(c.log_format, LogFormat::Auto);
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
            ("argon2_iterations", "0", "AUTHD_ARGON2_ITERATIONS"),
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
    fn metrics_listener_and_connection_limits() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.metrics_bind, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(
            c.connections,
            ConnectionLimits {
                header_read_timeout: std::time::Duration::from_secs(10),
                request_timeout: std::time::Duration::from_secs(30),
                max_connections: 1024,
            }
        );
        // Set empty: no metrics listener at all (not the default address).
        assert_eq!(cfg(&[("metrics_bind", "")]).unwrap().metrics_bind, None);
        let c = cfg(&[("metrics_bind", "127.0.0.1:0"), ("max_connections", "2")]).unwrap();
        assert_eq!(c.metrics_bind.map(|a| a.port()), Some(0));
        assert_eq!(c.connections.max_connections, 2);
        for (k, v, var) in [
            ("metrics_bind", "nope", "AUTHD_METRICS_BIND"),
            (
                "header_read_timeout_secs",
                "0",
                "AUTHD_HEADER_READ_TIMEOUT_SECS",
            ),
            ("request_timeout_secs", "x", "AUTHD_REQUEST_TIMEOUT_SECS"),
            ("max_connections", "0", "AUTHD_MAX_CONNECTIONS"),
        ] {
            let err = cfg(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err} does not name {var}");
        }
    }

    #[test]
    fn postgres_needs_the_master_key() {
        let pg = ("database_url", "postgres://authd@db.example/authd");
        let err = cfg(&[pg]).unwrap_err().to_string();
        assert!(
            err.contains("AUTHD_MASTER_KEY") && err.contains("PostgreSQL"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        let key = ("master_key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert!(cfg(&[pg, key]).unwrap().master_key.is_some());
        // SQLite does without: a key is generated beside the database.
        assert!(cfg(&[]).unwrap().master_key.is_none());
    }

    #[test]
    fn the_configs_debug_shows_no_secret() {
        let c = cfg(&[
            (
                "database_url",
                "postgres://authd:db-s3cret@db.example/authd",
            ),
            ("master_key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ("smtp_url", "smtp://mailer:smtp-s3cret@mail.example:587"),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(debug.contains("db.example"), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
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
        let mut values = sources::read_toml(&path).unwrap();
        values.insert("hash_workers".into(), "4".into());
        let c = Config::from_values(&values).unwrap();
        assert_eq!(c.bind.port(), 9999);
        assert_eq!(c.hash_workers, 4);
        assert_eq!(c.trusted_proxies.len(), 1);
        assert_eq!(c.unknown_keys, vec!["AUTHD_BOGUS".to_string()]);
    }

    #[test]
    fn defaults_are_the_domain_defaults() {
        use crate::domain::risk::RiskSettings;
        use crate::domain::signin::ladder::ProtectionSettings;
        use crate::domain::throttle::Limits;
        let c = cfg(&[]).unwrap();
        let debug = |x: &dyn std::fmt::Debug| format!("{x:?}");
        assert_eq!(debug(&c.protection), debug(&ProtectionSettings::default()));
        assert_eq!(debug(&c.risk), debug(&RiskSettings::default()));
        assert_eq!(debug(&c.rate_limits), debug(&Limits::default()));
        assert_eq!(c.waves, crate::domain::risk::wave::WaveSettings::default());
        assert_eq!(c.hash_queue, c.hash_workers * 32);
        assert_eq!(c.hash_max_wait, Some(std::time::Duration::from_secs(1)));
        let no_limit = cfg(&[("hash_max_wait_ms", "0")]).unwrap();
        assert_eq!(
            no_limit.hash_max_wait, None,
            "0: as long as the queue takes"
        );
        assert!(c.master_key.is_none() && c.smtp_url.is_none());
    }

    #[test]
    fn the_parser_reads_exactly_the_keys_of_the_table() {
        let values = sources::Values::resolve(&BTreeMap::new()).unwrap();
        Config::parse(&values).unwrap();
        let read = values.read.borrow().clone();
        let table: std::collections::BTreeSet<_> = keys::ALL.iter().map(|k| k.name).collect();
        assert_eq!(read, table);
    }

    #[test]
    fn validate_holds_a_config_built_in_code_to_the_same_rules() {
        let mut c = cfg(&[]).unwrap();
        c.captcha = CaptchaKind::Test;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("AUTHD_CAPTCHA_TEST_ANSWER")
        );
        c.captcha_test_answer = Some("x".into());
        c.validate().unwrap();
        c.risk.block_at = c.risk.challenge_at / 2.0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("AUTHD_RISK_BLOCK_AT")
        );
        let e = cfg(&[("risk_challenge_at", "0.9"), ("risk_block_at", "0.8")]).unwrap_err();
        assert!(e.to_string().contains("AUTHD_RISK_BLOCK_AT"));
    }

    #[test]
    fn values_that_would_overflow_or_switch_a_protection_off_stop_start_up() {
        // Each names its variable: an overflowing lock length (the lock then ends in the
        // past), token lifetimes, a count past any use, an out-of-range documented setting
        // that used to be clamped quietly, unlimited second-factor guesses, absurd hashing.
        for (key, value, var) in [
            ("lock_secs", "9223372036854775807", "AUTHD_LOCK_SECS"),
            ("block_secs", "100000000000000000", "AUTHD_BLOCK_SECS"),
            (
                "access_token_ttl_secs",
                "9223372036854775807",
                "AUTHD_ACCESS_TOKEN_TTL_SECS",
            ),
            (
                "max_connections",
                "4611686018427387904",
                "AUTHD_MAX_CONNECTIONS",
            ),
            ("hash_queue", "4611686018427387904", "AUTHD_HASH_QUEUE"),
            ("bearer_cache_secs", "3600", "AUTHD_BEARER_CACHE_SECS"),
            ("mail_poll_ms", "1", "AUTHD_MAIL_POLL_MS"),
            ("challenge_after", "-5", "AUTHD_CHALLENGE_AFTER"),
            (
                "step_up_max_failures",
                "4294967295",
                "AUTHD_STEP_UP_MAX_FAILURES",
            ),
            ("argon2_memory_kib", "4294967295", "AUTHD_ARGON2_MEMORY_KIB"),
            ("argon2_iterations", "0", "AUTHD_ARGON2_ITERATIONS"),
        ] {
            let e = cfg(&[(key, value)]).unwrap_err().to_string();
            assert!(e.contains(var), "{key}={value}: {e}");
        }
        // The edges themselves are fine.
        let c = cfg(&[("bearer_cache_secs", "60"), ("challenge_after", "0")]).unwrap();
        assert_eq!((c.bearer_cache_secs, c.protection.challenge_after), (60, 0));
    }
}
