//! Counter keys: which failure-counter row an attempt counts on. A row is a `Pair` of an account
//! side (`CounterKey`: `user:<id>`, `name:<typed name>`, `form:<form>`) and a source side
//! (`Source`: `device:<id>`, `net:<network>`, or `*` for all sources at once). This file is the
//! one encoder of that stored text; storage takes the keys as text (`encode` at the boundary).
//! The prefixes are storage's constants (`storage::protection`), which its SQL binds too: one
//! spelling for the Rust encoder and the SQL.

use std::net::IpAddr;

use crate::domain::accounts::model::Email;
use crate::domain::signin::forms::Form;
use crate::domain::throttle::net_of;
use crate::events::AuthEvent;
use crate::storage::protection;

/// The account side of a counter row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CounterKey {
    /// An account, by id.
    User(String),
    /// A typed username that names no account (normalised: see `normalised_name`), so a
    /// challenge never tells whether an account exists.
    Name(String),
    /// A public form (register, forgot), counted per network.
    Form(Form),
}

impl CounterKey {
    /// Prefix of `User` keys.
    pub const USER_PREFIX: &'static str = protection::ACCOUNT_KEY_PREFIX;
    /// Prefix of `Name` keys.
    pub const NAME_PREFIX: &'static str = protection::NAME_KEY_PREFIX;
    /// Prefix of `Form` keys.
    pub const FORM_PREFIX: &'static str = protection::FORM_KEY_PREFIX;

    /// The stored text.
    pub fn encode(&self) -> String {
        match self {
            Self::User(id) => format!("{}{id}", Self::USER_PREFIX),
            Self::Name(name) => format!("{}{name}", Self::NAME_PREFIX),
            Self::Form(form) => format!("{}{}", Self::FORM_PREFIX, form.as_str()),
        }
    }

    /// Parses stored text; `None` for anything `encode` does not make.
    pub fn decode(stored: &str) -> Option<Self> {
        if let Some(id) = stored.strip_prefix(Self::USER_PREFIX) {
            return Some(Self::User(id.to_owned()));
        }
        if let Some(name) = stored.strip_prefix(Self::NAME_PREFIX) {
            return Some(Self::Name(name.to_owned()));
        }
        Form::parse(stored.strip_prefix(Self::FORM_PREFIX)?).map(Self::Form)
    }
}

/// The source side of a counter row: where attempts come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A browser with a valid device cookie for the account, by device id.
    Device(String),
    /// Anything else, by network: the IPv4 address or the IPv6 /64.
    Net(IpAddr),
    /// Every source of the account at once: the account-wide row that carries the lock.
    All,
}

impl Source {
    /// Prefix of `Device` keys.
    pub const DEVICE_PREFIX: &'static str = protection::DEVICE_SOURCE_PREFIX;
    /// Prefix of `Net` keys.
    pub const NET_PREFIX: &'static str = protection::NET_SOURCE_PREFIX;
    /// The whole key of `All`.
    pub const ALL_SOURCES: &'static str = protection::ALL_SOURCES;

    /// The network source of a client address (an IPv6 address is cut to its /64).
    pub fn net(ip: IpAddr) -> Self {
        Self::Net(net_of(ip))
    }

    /// The stored text.
    pub fn encode(&self) -> String {
        match self {
            Self::Device(id) => format!("{}{id}", Self::DEVICE_PREFIX),
            Self::Net(net) => format!("{}{net}", Self::NET_PREFIX),
            Self::All => Self::ALL_SOURCES.to_owned(),
        }
    }

    /// Parses stored text; `None` for anything `encode` does not make.
    pub fn decode(stored: &str) -> Option<Self> {
        if stored == Self::ALL_SOURCES {
            return Some(Self::All);
        }
        if let Some(id) = stored.strip_prefix(Self::DEVICE_PREFIX) {
            return Some(Self::Device(id.to_owned()));
        }
        stored
            .strip_prefix(Self::NET_PREFIX)?
            .parse()
            .ok()
            .map(Self::Net)
    }

    /// Whether the source is a known device (exempt from the account-wide lock).
    pub fn is_known_device(&self) -> bool {
        matches!(self, Self::Device(_))
    }
}

/// One counter row: an account side and a source side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pair {
    /// The account side.
    pub account: CounterKey,
    /// The source side.
    pub source: Source,
}

impl Pair {
    /// The row of `account` and `source`.
    pub fn new(account: CounterKey, source: Source) -> Self {
        Self { account, source }
    }
}

/// A typed username as limits and counters key it: the normalised email when it is one;
/// otherwise the typed text trimmed and lowercased, without control characters (PostgreSQL text
/// cannot even hold NUL) and bounded (it is attacker-controlled input).
pub fn normalised_name(typed: &str) -> String {
    Email::parse(typed).map_or_else(
        || {
            typed
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| !c.is_control())
                .take(AuthEvent::MAX_USERNAME)
                .collect()
        },
        |e| e.as_str().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_encode_to_the_stored_text_and_back() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let cases = [
            (CounterKey::User("u1".into()).encode(), "user:u1"),
            (CounterKey::Name("x@y.z".into()).encode(), "name:x@y.z"),
            (CounterKey::Form(Form::Register).encode(), "form:register"),
            (CounterKey::Form(Form::Forgot).encode(), "form:forgot"),
            (Source::Device("d1".into()).encode(), "device:d1"),
            (Source::net(ip).encode(), "net:192.0.2.1"),
            (Source::All.encode(), "*"),
        ];
        for (encoded, stored) in cases {
            assert_eq!(encoded, stored);
        }
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(Source::net(v6).encode(), "net:2001:db8:1:2::");
        for key in [
            CounterKey::User("u:1".into()),
            CounterKey::Name("name:odd".into()),
            CounterKey::Name(String::new()),
            CounterKey::Form(Form::Forgot),
        ] {
            assert_eq!(CounterKey::decode(&key.encode()), Some(key));
        }
        for source in [
            Source::Device("d.1".into()),
            Source::net(ip),
            Source::net(v6),
            Source::All,
        ] {
            assert_eq!(Source::decode(&source.encode()), Some(source));
        }
        for junk in ["", "user", "form:other", "device:d1", "*"] {
            assert_eq!(CounterKey::decode(junk), None, "{junk}");
        }
        for junk in ["", "net:nope", "**", "device", "user:u1"] {
            assert_eq!(Source::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn typed_names_are_normalised_and_bounded() {
        assert_eq!(normalised_name(" Alice@Example.COM "), "alice@example.com");
        assert_eq!(normalised_name(" Bob\u{0}\n "), "bob");
        assert_eq!(
            normalised_name(&"x".repeat(1000)).chars().count(),
            AuthEvent::MAX_USERNAME
        );
    }
}
