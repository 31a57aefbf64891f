//! The failure ladder's keys (`AUTHD_CHALLENGE_AFTER` … `AUTHD_FAILURE_DELAY_MS`), part of the
//! one key table in `keys.rs` (listed in its `ALL`, in the README's order). Imports nothing of
//! the crate.

use super::Shown::Value;
use super::{Key, key};

pub(crate) const CHALLENGE_AFTER: Key = key(
    "challenge_after",
    Value("3"),
    "failures per account and source before a CAPTCHA is required (0: always)",
);
pub(crate) const BLOCK_AFTER: Key = key(
    "block_after",
    Value("10"),
    "failures per account and source before the source is blocked",
);
pub(crate) const BLOCK_SECS: Key = key(
    "block_secs",
    Value("300"),
    "first block; each further block doubles (at most a day)",
);
pub(crate) const LOCK_AFTER: Key = key(
    "lock_after",
    Value("30"),
    "failures from unknown sources, summed, before the account is locked for them",
);
pub(crate) const LOCK_SECS: Key = key("lock_secs", Value("3600"), "how long that lock lasts");
pub(crate) const FAILURE_WINDOW_SECS: Key = key(
    "failure_window_secs",
    Value("900"),
    "the window failures are counted in (also the risk engine's velocity window)",
);
pub(crate) const FORM_WINDOW_SECS: Key = key(
    "form_window_secs",
    Value("300"),
    "the window the register and forgot-password forms count submissions per network in; past `AUTHD_CHALLENGE_AFTER` each needs a CAPTCHA (never a block)",
);
pub(crate) const FAILURE_DELAY_MS: Key = key(
    "failure_delay_ms",
    Value("250"),
    "the delay rung: each failed answer after the first waits this much longer (at most 2 s)",
);
