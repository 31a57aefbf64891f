//! The risk engine's and retention's keys (`AUTHD_RISK_*`, `AUTHD_EVENT_RETENTION_DAYS`), part
//! of the one key table in `keys.rs` (listed in its `ALL`, in the README's order). Imports
//! nothing of the crate.

use super::Shown::Value;
use super::{Key, key};

pub(crate) const RISK_CHALLENGE_AT: Key = key(
    "risk_challenge_at",
    Value("0.5"),
    "risk score at which a sign-in needs the challenge even with the right password",
);

pub(crate) const RISK_BLOCK_AT: Key = key(
    "risk_block_at",
    Value("0.995"),
    "risk score at which a sign-in is refused for `AUTHD_BLOCK_SECS`",
);

pub(crate) const RISK_TRAIN_SECS: Key = key(
    "risk_train_secs",
    Value("86400"),
    "how often `serve` retrains the risk model from the event log (0 = never; every instance loads a new model within 30 s; the first round comes a period and a random part of a tenth of it after start; an instance that finds a model stored within nine tenths of the period, by another instance on the same database, waits for the next)",
);

pub(crate) const EVENT_RETENTION_DAYS: Key = key(
    "event_retention_days",
    Value("90"),
    "days events are kept (labelled ones are kept for training); 0 = forever. Expired codes, tokens, links, sent mail and idle counters go a day after expiry",
);
