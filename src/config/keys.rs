//! The one key table: every configuration key with its default as shown, whether it is a
//! secret (then also readable from `AUTHD_<KEY>_FILE`) and its meaning. Parsing reads keys only
//! through these entries, unknown keys are those missing here, and README.md's configuration
//! table is this table rendered (a unit test compares them). Imports nothing of the crate.

/// A key's default, as the README shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// A literal value: what the parser reads when the key is unset; shown in backticks.
    Value(&'static str),
    /// No value: the feature is off, or another key decides.
    Empty,
    /// Worked out at start; the text says how (the parser computes it).
    Computed(&'static str),
}

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    /// Lower case, without the `AUTHD_` prefix: the TOML key.
    pub(crate) name: &'static str,
    /// The default as shown.
    pub(crate) default: Shown,
    /// Secret-valued: also readable from the file named by `AUTHD_<KEY>_FILE`.
    pub(crate) secret: bool,
    /// One line of meaning (Markdown).
    pub(crate) meaning: &'static str,
}

use Shown::{Computed, Empty, Value};

/// Branding's keys.
pub(crate) mod brand;
/// The database's keys.
pub(crate) mod database;
/// Step-up and second factors' keys.
pub(crate) mod mfa;
/// The failure ladder's keys.
pub(crate) mod protection;
/// The per-instance rate limits' keys.
pub(crate) mod rates;
/// The risk engine's and retention's keys (their own file: the table would outgrow one room).
pub(crate) mod risk;
/// The wave detector's keys.
pub(crate) mod waves;
pub(crate) use database::{DATABASE_MAX_CONNECTIONS, DATABASE_URL, SQLITE_WAL_RESTART_PAGES};
pub(crate) use mfa::{EMAIL_CODE_TTL_SECS, STEP_UP_AT, STEP_UP_MAX_FAILURES};
pub(crate) use protection::{
    BLOCK_AFTER, BLOCK_SECS, CHALLENGE_AFTER, FAILURE_DELAY_MS, FAILURE_WINDOW_SECS,
    FORM_WINDOW_SECS, LOCK_AFTER, LOCK_SECS,
};
pub(crate) use rates::{
    RATE_IPV6_48_FACTOR, RATE_LOGIN_PER_ACCOUNT, RATE_LOGIN_PER_DEVICE, RATE_LOGIN_PER_IP,
    RATE_REGISTER_PER_IP, RATE_TOKEN_AUTH_FAILURES, RATE_TOKEN_PER_CLIENT,
};
pub(crate) use risk::{EVENT_RETENTION_DAYS, RISK_BLOCK_AT, RISK_CHALLENGE_AT, RISK_TRAIN_SECS};

const fn key(name: &'static str, default: Shown, meaning: &'static str) -> Key {
    Key {
        name,
        default,
        secret: false,
        meaning,
    }
}

const fn secret(name: &'static str, default: Shown, meaning: &'static str) -> Key {
    Key {
        name,
        default,
        secret: true,
        meaning,
    }
}

pub(crate) const BIND: Key = key(
    "bind",
    Value("127.0.0.1:8080"),
    "listen address (`:0` picks a free port)",
);
pub(crate) const METRICS_BIND: Key = key(
    "metrics_bind",
    Value("127.0.0.1:9464"),
    "listen address of the Prometheus metrics listener (`GET /metrics`); empty = no metrics listener. The main listener does not serve metrics",
);
pub(crate) const HEADER_READ_TIMEOUT_SECS: Key = key(
    "header_read_timeout_secs",
    Value("10"),
    "a connection that has not sent a whole request head this long after it opened (or after its last answer) is closed",
);
pub(crate) const REQUEST_TIMEOUT_SECS: Key = key(
    "request_timeout_secs",
    Value("30"),
    "a request (its body and the answer) not done this long after its head is answered `408` and its work dropped",
);
pub(crate) const MAX_CONNECTIONS: Key = key(
    "max_connections",
    Value("1024"),
    "connections served at once by each listener; further ones wait in the listen backlog until one closes",
);
pub(crate) const ISSUER: Key = key(
    "issuer",
    Value("http://127.0.0.1:8080"),
    "public base URL; https turns on `Secure`/`__Host-` cookies and HSTS",
);
pub(crate) const TRUSTED_PROXIES: Key = key(
    "trusted_proxies",
    Empty,
    "comma-separated CIDRs whose `X-Forwarded-For` is believed",
);
pub(crate) const LOG_FORMAT: Key = key(
    "log_format",
    Value("auto"),
    "`auto` (pretty on a terminal, plain text otherwise), `pretty`, `plain`, `json`; never colour codes when stderr is not a terminal (logs go to stderr; `RUST_LOG` filters)",
);
pub(crate) const SMTP_URL: Key = secret(
    "smtp_url",
    Empty,
    "SMTP server (`smtp://host:port`, `smtp://host:587?tls=required`, `smtps://user:pass@host`); empty = write `.eml` files to `AUTHD_MAIL_DIR`",
);
pub(crate) const MAIL_DIR: Key = key("mail_dir", Value("outbox"), "where mail goes without SMTP");
pub(crate) const MAIL_FROM: Key = key(
    "mail_from",
    Computed("`<AUTHD_PRODUCT_NAME> <no-reply@localhost>` (`authd <no-reply@localhost>`)"),
    "sender of every mail",
);
pub(crate) const MAIL_POLL_MS: Key = key(
    "mail_poll_ms",
    Value("1000"),
    "how often the mail worker looks for due mail (10–60000)",
);
pub(crate) const CAPTCHA: Key = key(
    "captcha",
    Value("builtin"),
    "`builtin`, `turnstile`, `hcaptcha`, `recaptcha`, `test`",
);
pub(crate) const CAPTCHA_SITE_KEY: Key = key(
    "captcha_site_key",
    Empty,
    "the widget's site key; needed by `turnstile`, `hcaptcha`, `recaptcha`",
);
pub(crate) const CAPTCHA_SECRET: Key = secret(
    "captcha_secret",
    Empty,
    "the provider's secret for verifying answers; needed by `turnstile`, `hcaptcha`, `recaptcha`",
);
pub(crate) const CAPTCHA_VERIFY_URL: Key = key(
    "captcha_verify_url",
    Computed("the provider's"),
    "where to verify CAPTCHA tokens",
);
pub(crate) const CAPTCHA_TEST_ANSWER: Key = key(
    "captcha_test_answer",
    Empty,
    "with `AUTHD_CAPTCHA=test` only (the answer that passes); refused otherwise",
);
pub(crate) const REGISTRATION: Key = key("registration", Value("open"), "`open` or `closed`");
pub(crate) const GEOIP_DB: Key = key(
    "geoip_db",
    Empty,
    "MaxMind-format `.mmdb` (GeoLite2 or the flat ip-location-db shape) for the risk engine's country, ASN and travel features; without it they drop out",
);
pub(crate) const GEOIP_ASN_DB: Key = key(
    "geoip_asn_db",
    Empty,
    "MaxMind-format ASN `.mmdb` (GeoLite2-ASN or the flat ip-location-db shape) whose AS number and organisation fill in where `AUTHD_GEOIP_DB` gives none (the risk engine's ASN feature, the overview's sources by ASN)",
);
pub(crate) const SESSION_IDLE_TIMEOUT_SECS: Key = key(
    "session_idle_timeout_secs",
    Value("1800"),
    "a session unused this long ends",
);
pub(crate) const SESSION_LIFETIME_SECS: Key = key(
    "session_lifetime_secs",
    Value("43200"),
    "a session ends this long after sign-in",
);
pub(crate) const REMEMBER_IDLE_SECS: Key = key(
    "remember_idle_secs",
    Value("2592000"),
    "\"keep me signed in\" on `/login`: such a session ends after this long unused (and at the latest this long after sign-in), with a persistent cookie; never for admin accounts; 0 = not offered",
);
pub(crate) const ADMIN_IDLE_SECS: Key = key(
    "admin_idle_secs",
    Value("900"),
    "the admin console (`/admin`) signs a session out after this long without an admin page",
);
pub(crate) const ARGON2_MEMORY_KIB: Key = key(
    "argon2_memory_kib",
    Value("19456"),
    "argon2id memory (KiB, at most 4194304; below every OWASP argon2id configuration the server warns at start)",
);
pub(crate) const ARGON2_ITERATIONS: Key = key(
    "argon2_iterations",
    Value("2"),
    "argon2id iterations (1–1000)",
);
pub(crate) const ARGON2_PARALLELISM: Key = key(
    "argon2_parallelism",
    Value("1"),
    "argon2id lanes (1–64; a hash made at other settings still verifies, and is made again at these on its owner's next sign-in)",
);
pub(crate) const HASH_WORKERS: Key = key(
    "hash_workers",
    Computed("number of cores"),
    "password hashes running at once (1–1024)",
);
pub(crate) const HASH_QUEUE: Key = key(
    "hash_queue",
    Computed("32 × workers"),
    "hashes allowed to wait; beyond that `503` + `Retry-After: 1`",
);
pub(crate) const HASH_MAX_WAIT_MS: Key = key(
    "hash_max_wait_ms",
    Value("1000"),
    "longest a password check from an unknown browser waits for a hash thread; then `503` + `Retry-After: 1`, and at once when the queue's measured pace says it would wait longer (0 = as long as the queue takes). A browser the account knows never gives up",
);
pub(crate) const MASTER_KEY: Key = secret(
    "master_key",
    Computed("generated (SQLite)"),
    "base64 of 32 bytes sealing every secret at rest (AES-256-GCM): signing keys, server secrets, queued mail. With SQLite, when unset, one is generated on first start into a `0600` file (`AUTHD_MASTER_KEY_PATH`); with PostgreSQL it is required, the same on every instance",
);
pub(crate) const MASTER_KEY_PATH: Key = key(
    "master_key_path",
    Computed("beside the SQLite database: `<database file>.key`"),
    "where the generated master key is kept (SQLite without `AUTHD_MASTER_KEY`); created `0600` on first start. Back it up with the database: without it the sealed keys and secrets are lost",
);
pub(crate) const ACCESS_TOKEN_ALG: Key = key(
    "access_token_alg",
    Value("ES256"),
    "`ES256`, `RS256` or `EdDSA` (ID tokens are always RS256)",
);
pub(crate) const ACCESS_TOKEN_TTL_SECS: Key = key(
    "access_token_ttl_secs",
    Value("600"),
    "access-token lifetime",
);
pub(crate) const ID_TOKEN_TTL_SECS: Key =
    key("id_token_ttl_secs", Value("3600"), "ID-token lifetime");
pub(crate) const AUTH_CODE_TTL_SECS: Key = key(
    "auth_code_ttl_secs",
    Value("60"),
    "authorization-code lifetime",
);
pub(crate) const REFRESH_IDLE_SECS: Key = key(
    "refresh_idle_secs",
    Value("1209600"),
    "an unused refresh token expires (14 days)",
);
pub(crate) const REFRESH_LIFETIME_SECS: Key = key(
    "refresh_lifetime_secs",
    Value("2592000"),
    "a grant's refresh tokens end (30 days after sign-in)",
);
pub(crate) const BEARER_CACHE_SECS: Key = key(
    "bearer_cache_secs",
    Value("1"),
    "how long an instance reuses a passed bearer check (0–60; 0 = off); introspection never does",
);
/// Every key, in the README's order.
pub(crate) const ALL: &[Key] = &[
    DATABASE_URL,
    DATABASE_MAX_CONNECTIONS,
    SQLITE_WAL_RESTART_PAGES,
    BIND,
    METRICS_BIND,
    HEADER_READ_TIMEOUT_SECS,
    REQUEST_TIMEOUT_SECS,
    MAX_CONNECTIONS,
    ISSUER,
    TRUSTED_PROXIES,
    LOG_FORMAT,
    SMTP_URL,
    MAIL_DIR,
    MAIL_FROM,
    MAIL_POLL_MS,
    CAPTCHA,
    CAPTCHA_SITE_KEY,
    CAPTCHA_SECRET,
    CAPTCHA_VERIFY_URL,
    CAPTCHA_TEST_ANSWER,
    REGISTRATION,
    GEOIP_DB,
    GEOIP_ASN_DB,
    brand::PRODUCT_NAME,
    brand::LOGO_URL,
    brand::ACCENT_COLOR,
    brand::TEMPLATE_DIR,
    SESSION_IDLE_TIMEOUT_SECS,
    SESSION_LIFETIME_SECS,
    REMEMBER_IDLE_SECS,
    ADMIN_IDLE_SECS,
    ARGON2_MEMORY_KIB,
    ARGON2_ITERATIONS,
    ARGON2_PARALLELISM,
    HASH_WORKERS,
    HASH_QUEUE,
    HASH_MAX_WAIT_MS,
    MASTER_KEY,
    MASTER_KEY_PATH,
    ACCESS_TOKEN_ALG,
    ACCESS_TOKEN_TTL_SECS,
    ID_TOKEN_TTL_SECS,
    AUTH_CODE_TTL_SECS,
    REFRESH_IDLE_SECS,
    REFRESH_LIFETIME_SECS,
    BEARER_CACHE_SECS,
    RATE_LOGIN_PER_IP,
    RATE_LOGIN_PER_ACCOUNT,
    RATE_LOGIN_PER_DEVICE,
    RATE_REGISTER_PER_IP,
    RATE_TOKEN_PER_CLIENT,
    RATE_TOKEN_AUTH_FAILURES,
    RATE_IPV6_48_FACTOR,
    CHALLENGE_AFTER,
    BLOCK_AFTER,
    BLOCK_SECS,
    LOCK_AFTER,
    LOCK_SECS,
    FAILURE_WINDOW_SECS,
    FORM_WINDOW_SECS,
    FAILURE_DELAY_MS,
    RISK_CHALLENGE_AT,
    RISK_BLOCK_AT,
    STEP_UP_AT,
    EMAIL_CODE_TTL_SECS,
    STEP_UP_MAX_FAILURES,
    RISK_TRAIN_SECS,
    EVENT_RETENTION_DAYS,
    waves::WAVE_WINDOW_SECS,
    waves::WAVE_BASELINE_SECS,
    waves::WAVE_MIN_FAILURES,
    waves::WAVE_MIN_ACCOUNTS,
    waves::WAVE_MIN_SOURCES,
    waves::WAVE_MAX_PER_SOURCE,
    waves::WAVE_RATE_JUMP,
    waves::WAVE_UNKNOWN_SHARE,
    waves::WAVE_SPRAY_SHARE,
    waves::WAVE_HOLD_SECS,
    waves::WAVE_REFRESH_SECS,
];

/// The suffix that names a file holding a secret's value.
pub(crate) const FILE_SUFFIX: &str = "_file";

/// The entry named `name` (lower case, without the prefix).
pub(crate) fn find(name: &str) -> Option<&'static Key> {
    ALL.iter().find(|k| k.name == name)
}

/// `AUTHD_` + the upper-cased name: how errors and the README spell a key.
pub(crate) fn var_name(name: &str) -> String {
    format!("AUTHD_{}", name.to_uppercase())
}

impl Key {
    /// The environment variable, e.g. `AUTHD_BIND`.
    pub(crate) fn var(&self) -> String {
        var_name(self.name)
    }

    /// Its file variant, e.g. `AUTHD_MASTER_KEY_FILE`.
    pub(crate) fn file_var(&self) -> String {
        var_name(&format!("{}{FILE_SUFFIX}", self.name))
    }

    /// The README's cells: variable (with its `_FILE` variant for a secret), default, meaning.
    #[cfg(test)]
    pub(crate) fn readme_cells(&self) -> [String; 3] {
        let var = if self.secret {
            format!("`{}` or `{}`", self.var(), self.file_var())
        } else {
            format!("`{}`", self.var())
        };
        let default = match self.default {
            Value(v) => format!("`{v}`"),
            Empty => "empty".to_owned(),
            Computed(how) => how.to_owned(),
        };
        [var, default, self.meaning.to_owned()]
    }
}

/// README.md's configuration table, rendered from [`ALL`] (the README test prints it).
#[cfg(test)]
pub(crate) fn readme_table() -> String {
    let mut out = String::from("| variable | default | meaning |\n| --- | --- | --- |\n");
    for key in ALL {
        out.push_str(&format!("| {} |\n", key.readme_cells().join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn names_are_unique_lower_case_and_never_end_in_file() {
        let mut seen = BTreeSet::new();
        for k in ALL {
            assert!(seen.insert(k.name), "{} twice", k.name);
            assert_eq!(k.name, k.name.to_lowercase());
            assert!(!k.name.ends_with(FILE_SUFFIX), "{} ends in _file", k.name);
            assert!(!k.meaning.contains('|') && !k.meaning.contains('\n'));
        }
    }

    #[test]
    fn the_secrets_are_those_the_interface_names() {
        let secrets: Vec<_> = ALL.iter().filter(|k| k.secret).map(|k| k.var()).collect();
        assert_eq!(
            secrets,
            [
                "AUTHD_DATABASE_URL",
                "AUTHD_SMTP_URL",
                "AUTHD_CAPTCHA_SECRET",
                "AUTHD_MASTER_KEY"
            ]
        );
    }

    #[test]
    fn every_key_of_the_interface_table_that_authd_implements_is_here() {
        for var in [
            "DATABASE_URL",
            "BIND",
            "METRICS_BIND",
            "ISSUER",
            "TRUSTED_PROXIES",
            "SMTP_URL",
            "MAIL_DIR",
            "MAIL_FROM",
            "CAPTCHA",
            "CAPTCHA_TEST_ANSWER",
            "GEOIP_DB",
            "REGISTRATION",
            "LOG_FORMAT",
            "MASTER_KEY",
            "CAPTCHA_SECRET",
            "PRODUCT_NAME",
        ] {
            assert!(find(&var.to_lowercase()).is_some(), "AUTHD_{var} missing");
        }
    }

    /// README.md's configuration table, row by row: key name → the three cells.
    fn readme_rows() -> (Vec<String>, BTreeMap<String, [String; 3]>) {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .expect("README has a Configuration section");
        let section = section.split("\n## ").next().unwrap();
        let mut order = Vec::new();
        let mut rows = BTreeMap::new();
        for line in section.lines().filter(|l| l.starts_with("| `AUTHD_")) {
            let cells: Vec<String> = line
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect();
            let [var, default, meaning]: [String; 3] = cells
                .try_into()
                .unwrap_or_else(|c| panic!("README row without three cells: {c:?}"));
            let name = var
                .trim_start_matches("`AUTHD_")
                .split('`')
                .next()
                .unwrap()
                .to_lowercase();
            order.push(name.clone());
            assert!(
                rows.insert(name.clone(), [var, default, meaning]).is_none(),
                "README lists AUTHD_{} twice",
                name.to_uppercase()
            );
        }
        (order, rows)
    }

    #[test]
    fn the_readme_table_is_the_key_table() {
        let (order, mut readme) = readme_rows();
        let mut problems = Vec::new();
        for key in ALL {
            match readme.remove(key.name) {
                None => problems.push(format!("{} is missing from README.md", key.var())),
                Some(cells) if cells != key.readme_cells() => problems.push(format!(
                    "{} differs:\n  README: {}\n  table:  {}",
                    key.var(),
                    cells.join(" | "),
                    key.readme_cells().join(" | ")
                )),
                Some(_) => {}
            }
        }
        for extra in readme.keys() {
            problems.push(format!(
                "{} is in README.md but not in the key table",
                var_name(extra)
            ));
        }
        let expected: Vec<&str> = ALL.iter().map(|k| k.name).collect();
        if problems.is_empty() && order != expected {
            problems.push("README.md lists the keys in another order".to_owned());
        }
        assert!(
            problems.is_empty(),
            "README.md's configuration table and src/config/keys.rs differ:\n{}\n\nThe table to paste:\n{}",
            problems.join("\n"),
            readme_table()
        );
    }
}
