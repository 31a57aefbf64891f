//! The per-instance rate limits' keys (`AUTHD_RATE_*`), part of the one key table in `keys.rs`
//! (listed in its `ALL`, in the README's order). Imports nothing of the crate.

use super::Shown::Value;
use super::{Key, key};

pub(crate) const RATE_LOGIN_PER_IP: Key = key(
    "rate_login_per_ip",
    Value("30"),
    "sign-in attempts per minute per client network (IPv4 address, IPv6 /64), per instance; then `429` + `Retry-After`",
);
pub(crate) const RATE_LOGIN_PER_ACCOUNT: Key = key(
    "rate_login_per_account",
    Value("30"),
    "sign-in attempts per minute per attempted account from sources it does not know, per instance; beyond it they need a CAPTCHA (never a `429`; a known device is exempt). Also how many of the account's password checks a minute from its own devices wait in the hash pool's known lane; beyond it they wait in the ordinary lane",
);
pub(crate) const RATE_LOGIN_PER_DEVICE: Key = key(
    "rate_login_per_device",
    Value("30"),
    "sign-in attempts per minute with device cookies of one account, on names the cookie was not last found under, that take the hash pool's lane for known browsers at the door, per instance; beyond it they wait like anyone's (never refused for it)",
);
pub(crate) const RATE_REGISTER_PER_IP: Key = key(
    "rate_register_per_ip",
    Value("10"),
    "registrations per minute per client network",
);
pub(crate) const RATE_TOKEN_PER_CLIENT: Key = key(
    "rate_token_per_client",
    Value("6000"),
    "token requests per minute per authenticated OAuth client (a public client: per client and network), per instance",
);
pub(crate) const RATE_TOKEN_AUTH_FAILURES: Key = key(
    "rate_token_auth_failures",
    Value("10"),
    "failed client authentications (token, introspection, revocation) per minute per client id and network, per instance; then `429` for that pair only",
);
pub(crate) const RATE_IPV6_48_FACTOR: Key = key(
    "rate_ipv6_48_factor",
    Value("4"),
    "an IPv6 /48, all its /64s together, gets this many times a network's sign-in, reset and registration budget (so rotating /64s inside one site gains nothing beyond it)",
);
