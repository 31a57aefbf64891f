//! The features of one sign-in attempt or token use: what the request says (network prefix,
//! place, parsed user agent, hour) and what the stored history says (the user's profile, the
//! counters of the source, its prefix and the account). Turned into one numeric vector that
//! both parts of the score read.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::risk::geo::Place;

/// The network prefix used as a feature: IPv4 /24, IPv6 /48.
pub fn prefix_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// A user agent parsed into what a profile compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Browser family ("Chrome", "Firefox", "UNKNOWN").
    pub browser: String,
    /// Operating system ("Windows 10", "Mac OSX", "Linux").
    pub os: String,
    /// Device class (`pc`, `smartphone`, `mobilephone`, `crawler`, `appliance`, `misc`, `UNKNOWN`).
    pub device: String,
}

/// Parses a user agent with `woothee` (Project Woothee's rules, no regex set to load).
pub fn parse_agent(ua: &str) -> Agent {
    let parsed = woothee::parser::Parser::new().parse(ua);
    match parsed {
        Some(r) => Agent {
            browser: r.name.to_owned(),
            os: r.os.to_owned(),
            device: r.category.to_owned(),
        },
        None => Agent {
            browser: "UNKNOWN".into(),
            os: "UNKNOWN".into(),
            device: "UNKNOWN".into(),
        },
    }
}

/// A short, non-reversible tag of an exact user-agent string (profiles keep tags, not strings).
pub fn agent_tag(ua: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(ua.as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Everything about the request itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The /24 or /48.
    pub prefix: String,
    /// Country, ASN, location (when a GeoIP database is configured).
    pub place: Place,
    /// The parsed user agent.
    pub agent: Agent,
    /// Tag of the exact user-agent string.
    pub agent_tag: String,
    /// Hour of day (UTC, 0–23).
    pub hour: u8,
    /// Unix seconds.
    pub at: i64,
}

/// The per-source and per-account counters read from the database (current window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Velocity {
    /// Failures counted on this (account, source) pair before this attempt.
    pub pair_failures: i64,
    /// Failures from this source over all accounts.
    pub source_failures: i64,
    /// Distinct accounts with failures from this source (credential stuffing).
    pub source_accounts: i64,
    /// Distinct accounts with failures from this /24 or /48.
    pub prefix_accounts: i64,
    /// Distinct sources with failures on this account (distributed guessing).
    pub account_sources: i64,
    /// Distinct accounts this same wrong password was tried on recently (spraying).
    pub spray_accounts: i64,
}

/// Names of the numeric features, in vector order (the model's columns).
pub const NAMES: [&str; FEATURES] = [
    "new_network",
    "new_asn",
    "new_country",
    "new_browser",
    "new_os",
    "new_device_class",
    "new_user_agent",
    "unusual_hour",
    "unknown_device",
    "days_since_last_sign_in",
    "failures_on_account_from_source",
    "failures_from_source",
    "accounts_tried_from_source",
    "accounts_tried_from_network",
    "sources_failing_on_account",
    "same_password_on_many_accounts",
    "impossible_travel",
    "unknown_account",
    "new_network_without_device_cookie",
    "never_used_network_without_device_cookie",
    "history_size",
];

/// How many numeric features there are.
pub const FEATURES: usize = 21;

/// The column of `never_used_network_without_device_cookie`: 1 when the account has at least
/// one earlier successful sign-in, the network (/24, /48) is none it ever signed in from, and
/// the browser carries no device cookie of this account.
pub const NEVER_USED_NETWORK: usize = 19;

/// The column of `history_size`: ln(1 + the account's earlier successful sign-ins). Context,
/// not a risk signal (its weight is always 0): it is what a never-shown value's Freeman ratio
/// is, so the trainer can tell exactly what an attacker would have scored against the profile
/// as it was (`training/synthetic.rs`).
pub const HISTORY_SIZE: usize = 20;

/// Columns that describe the attempt but are no evidence either way: never weighted.
pub const CONTEXT_ONLY: [usize; 1] = [HISTORY_SIZE];

/// What an operator reads for a feature that raised the score.
pub fn reason_text(index: usize) -> &'static str {
    match index {
        0 => "sign-in from a network this account has not used",
        1 => "sign-in from a provider (ASN) this account has not used",
        2 => "sign-in from a country this account has not used",
        3 => "a browser this account has not used",
        4 => "an operating system this account has not used",
        5 => "a kind of device this account has not used",
        6 => "a user agent this account has not used",
        7 => "an hour at which this account does not usually sign in",
        8 => "not a known device",
        9 => "long time since the last sign-in",
        10 => "repeated failures on this account from this source",
        11 => "many failures from this source",
        12 => "many accounts tried from this source (credential stuffing)",
        13 => "many accounts tried from this network",
        14 => "failures on this account from many sources",
        15 => "the same wrong password tried on many accounts (password spraying)",
        16 => "impossible travel since the last sign-in",
        17 => "the username matches no account",
        18 => "a new network and no device cookie together",
        19 => "a network this account never used, without its device cookie",
        20 => "the size of the account's history",
        _ => "unknown",
    }
}

/// Compresses a count: 0 → 0, grows slowly.
pub fn squash(n: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    (n.max(0) as f64).ln_1p()
}
