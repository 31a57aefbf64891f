//! Step-up's keys (`AUTHD_STEP_UP_*`, `AUTHD_EMAIL_CODE_*`), part of the one key table in
//! `keys.rs` (listed in its `ALL`, in the README's order). Imports nothing of the crate.

use super::Shown::Value;
use super::{Key, key};

pub(crate) const STEP_UP_AT: Key = key(
    "step_up_at",
    Value("0.5"),
    "risk score at which a sign-in with the right password needs the account's strongest second factor (passkey, authenticator app, e-mailed code; docs/mfa.md); an account with none gets the CAPTCHA",
);

pub(crate) const EMAIL_CODE_TTL_SECS: Key = key(
    "email_code_ttl_secs",
    Value("600"),
    "how long a step-up's e-mailed code is valid (at most 86400; at most 5 such mails per address per hour)",
);

pub(crate) const STEP_UP_MAX_FAILURES: Key = key(
    "step_up_max_failures",
    Value("5"),
    "wrong second-factor answers after which a pending step-up is dropped (1–20; each also counts on the failure ladder like a wrong password)",
);
