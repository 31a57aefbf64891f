//! The stuffing and spraying wave detector's keys (`AUTHD_WAVE_*`), part of the one key table
//! in `keys.rs` (listed in its `ALL`, in the README's order). Imports nothing of the crate.

use super::Shown::Value;
use super::{Key, key};

pub(crate) const WAVE_WINDOW_SECS: Key = key(
    "wave_window_secs",
    Value("300"),
    "stuffing/spraying waves: the detection window (failures this recent, combined over every instance)",
);
pub(crate) const WAVE_BASELINE_SECS: Key = key(
    "wave_baseline_secs",
    Value("3600"),
    "the period before the window whose failure rate is the baseline (minutes inside a wave left out)",
);
pub(crate) const WAVE_MIN_FAILURES: Key = key(
    "wave_min_failures",
    Value("25"),
    "a wave needs at least this many failed sign-ins in the window",
);
pub(crate) const WAVE_MIN_ACCOUNTS: Key = key(
    "wave_min_accounts",
    Value("15"),
    "... on at least this many accounts (or names with no account)",
);
pub(crate) const WAVE_MIN_SOURCES: Key = key(
    "wave_min_sources",
    Value("8"),
    "... from at least this many networks",
);
pub(crate) const WAVE_MAX_PER_SOURCE: Key = key(
    "wave_max_per_source",
    Value("4"),
    "... each network failing at most this many times on average",
);
pub(crate) const WAVE_RATE_JUMP: Key = key(
    "wave_rate_jump",
    Value("4"),
    "... the failure rate at least this many times the baseline's",
);
pub(crate) const WAVE_UNKNOWN_SHARE: Key = key(
    "wave_unknown_share",
    Value("0.3"),
    "... and names with no account this share of the failing names (stuffing) ...",
);
pub(crate) const WAVE_SPRAY_SHARE: Key = key(
    "wave_spray_share",
    Value("0.3"),
    "... or a password that failed on two or more other accounts this share of the failures (spraying)",
);
pub(crate) const WAVE_HOLD_SECS: Key = key(
    "wave_hold_secs",
    Value("600"),
    "a wave ends by itself this long after the detector last saw it",
);
pub(crate) const WAVE_REFRESH_SECS: Key = key(
    "wave_refresh_secs",
    Value("5"),
    "how often each instance adds its tallies and reads the shared wave state (sooner when its own failures pile up)",
);
