//! The wave detector (pure, no I/O): whether the failed sign-ins of the last few minutes,
//! combined over every instance, look like a credential-stuffing or password-spraying wave —
//! many accounts failing from many networks, each network trying only a few times, the failure
//! rate jumped over its own baseline, and either a high share of names with no account
//! (stuffing lists come from other sites) or the same wrong password on many accounts
//! (spraying). Ratios and a baseline, not absolute counts, so a busy site's steady typo rate
//! never makes a wave. The shared state and its refresh are in `wave_state.rs`.

/// Thresholds (`AUTHD_WAVE_*`; defaults in `Default`, documented in docs/risk.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaveSettings {
    /// The detection window (seconds): failures this recent are looked at.
    pub window_secs: i64,
    /// The baseline period before the window (seconds).
    pub baseline_secs: i64,
    /// At least this many failed sign-ins in the window.
    pub min_failures: i64,
    /// At least this many distinct accounts (or names) failing in the window.
    pub min_accounts: i64,
    /// At least this many distinct networks failing in the window.
    pub min_sources: i64,
    /// At most this many failures per failing network on average ("each address only a few").
    pub max_per_source: f64,
    /// The window's failure rate is at least this many times the baseline's.
    pub rate_jump: f64,
    /// Share of the failing names that name no account, at or above which it is stuffing.
    pub unknown_share: f64,
    /// Share of the failures whose password failed on two or more other accounts, at or above
    /// which it is spraying.
    pub spray_share: f64,
    /// A wave lasts this long after the detector last saw it (seconds): it ends by itself.
    pub hold_secs: i64,
    /// How often each instance refreshes its view from the database (seconds).
    pub refresh_secs: u64,
}

impl Default for WaveSettings {
    fn default() -> Self {
        Self {
            window_secs: 300,
            baseline_secs: 3600,
            min_failures: 25,
            min_accounts: 15,
            min_sources: 8,
            max_per_source: 4.0,
            rate_jump: 4.0,
            unknown_share: 0.3,
            spray_share: 0.3,
            hold_secs: 600,
            refresh_secs: 5,
        }
    }
}

impl WaveSettings {
    /// Whole minutes in the window (the current, partial minute included).
    pub fn window_minutes(&self) -> i64 {
        (self.window_secs + 59).div_euclid(60).max(1)
    }

    /// Whole minutes in the baseline.
    pub fn baseline_minutes(&self) -> i64 {
        self.baseline_secs.div_euclid(60).max(1)
    }
}

/// The kind of wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaveKind {
    /// Many leaked pairs, most naming no account here.
    Stuffing,
    /// One (or a few) common passwords over many accounts.
    Spraying,
}

impl WaveKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stuffing => "stuffing",
            Self::Spraying => "spraying",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Stuffing, Self::Spraying]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What the detector reads, combined over every instance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// Failed sign-ins in the window.
    pub failures: i64,
    /// Of them, with a password that had failed on two or more other accounts.
    pub sprayed: i64,
    /// Distinct accounts (or names) failing from networks in the window.
    pub accounts: i64,
    /// Of them, names with no account.
    pub unknown_accounts: i64,
    /// Distinct networks failing in the window.
    pub sources: i64,
    /// Failures on those networks' counter rows.
    pub source_failures: i64,
    /// Failed sign-ins in the baseline's minutes outside waves.
    pub baseline_failures: i64,
    /// Minutes the baseline covers (its minutes inside a wave left out).
    pub baseline_minutes: i64,
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn ratio(a: i64, b: i64) -> f64 {
    if b <= 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Signals {
    /// Failures per minute in the window.
    pub fn rate(&self, s: &WaveSettings) -> f64 {
        ratio(self.failures, s.window_minutes())
    }

    /// Failures per minute in the baseline.
    pub fn baseline_rate(&self) -> f64 {
        ratio(self.baseline_failures, self.baseline_minutes)
    }

    /// Failures per failing network.
    pub fn per_source(&self) -> f64 {
        ratio(self.source_failures, self.sources)
    }

    /// Share of failing names with no account.
    pub fn unknown_share(&self) -> f64 {
        ratio(self.unknown_accounts, self.accounts)
    }

    /// Share of failures with a sprayed password.
    pub fn spray_share(&self) -> f64 {
        ratio(self.sprayed, self.failures)
    }

    /// The signals in words, for the `attack_detected` event.
    pub fn describe(&self, s: &WaveSettings) -> String {
        format!(
            "{} failures on {} accounts ({:.0}% naming no account, {:.0}% with a sprayed \
             password); sources {} networks ({:.1} failures each); rate {:.1}/min against a \
             baseline of {:.1}/min",
            self.failures,
            self.accounts,
            self.unknown_share() * 100.0,
            self.spray_share() * 100.0,
            self.sources,
            self.per_source(),
            self.rate(s),
            self.baseline_rate(),
        )
    }
}

/// Whether `x` looks like a wave, and which kind. Every condition must hold:
///
/// - volume: at least `min_failures` failures on `min_accounts` accounts from `min_sources`
///   networks;
/// - spread: at most `max_per_source` failures per network on average;
/// - jump: the failure rate is at least `rate_jump` times the baseline's (a steady rate, however
///   high, is the site's normal);
/// - shape: names with no account make up `unknown_share` of the failing names (stuffing), or
///   sprayed passwords `spray_share` of the failures (spraying). A surge of ordinary typos
///   (everyone signing in on Monday morning) has neither.
pub fn detect(s: &WaveSettings, x: &Signals) -> Option<WaveKind> {
    let volume =
        x.failures >= s.min_failures && x.accounts >= s.min_accounts && x.sources >= s.min_sources;
    let spread = x.per_source() <= s.max_per_source;
    let jump = x.rate(s) >= s.rate_jump * x.baseline_rate();
    let sprayed = x.spray_share() >= s.spray_share;
    let unknown = x.unknown_share() >= s.unknown_share;
    if !(volume && spread && jump && (sprayed || unknown)) {
        return None;
    }
    Some(if sprayed {
        WaveKind::Spraying
    } else {
        WaveKind::Stuffing
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stuffing run: 60 failures on 55 names (50 with no account) from 30 networks, two each,
    /// on a quiet site.
    fn stuffing() -> Signals {
        Signals {
            failures: 60,
            sprayed: 0,
            accounts: 55,
            unknown_accounts: 50,
            sources: 30,
            source_failures: 60,
            baseline_failures: 30,
            baseline_minutes: 60,
        }
    }

    #[test]
    fn a_stuffing_run_is_a_wave() {
        let s = WaveSettings::default();
        assert_eq!(detect(&s, &stuffing()), Some(WaveKind::Stuffing));
    }

    #[test]
    fn a_spraying_run_is_a_wave_of_its_own_kind() {
        let s = WaveSettings::default();
        // One password over 40 real accounts, one network each.
        let spraying = Signals {
            failures: 40,
            sprayed: 38,
            accounts: 40,
            unknown_accounts: 0,
            sources: 40,
            source_failures: 40,
            ..Signals::default()
        };
        assert_eq!(detect(&s, &spraying), Some(WaveKind::Spraying));
    }

    #[test]
    fn each_threshold_is_needed() {
        let s = WaveSettings::default();
        let too_few = Signals {
            failures: s.min_failures - 1,
            ..stuffing()
        };
        assert_eq!(detect(&s, &too_few), None, "volume");
        let few_accounts = Signals {
            accounts: s.min_accounts - 1,
            unknown_accounts: s.min_accounts - 1,
            ..stuffing()
        };
        assert_eq!(detect(&s, &few_accounts), None, "accounts");
        let few_networks = Signals {
            sources: s.min_sources - 1,
            source_failures: 7,
            ..stuffing()
        };
        assert_eq!(detect(&s, &few_networks), None, "networks");
        // A handful of networks hammering: the per-source ladder and the velocity features
        // answer that, not the wave.
        let concentrated = Signals {
            sources: 10,
            source_failures: 60,
            ..stuffing()
        };
        assert_eq!(detect(&s, &concentrated), None, "each network only a few");
        let known_names = Signals {
            unknown_accounts: 5,
            ..stuffing()
        };
        assert_eq!(detect(&s, &known_names), None, "no attack shape");
        // And the thresholds are the settings'.
        let lax = WaveSettings {
            unknown_share: 0.05,
            ..s
        };
        assert_eq!(detect(&lax, &known_names), Some(WaveKind::Stuffing));
    }

    #[test]
    fn the_rate_must_jump_over_its_own_baseline() {
        let s = WaveSettings::default();
        // 60 failures in 5 minutes = 12/min. A baseline of 3/min or less is a jump (4×) ...
        let quiet = Signals {
            baseline_failures: 180,
            baseline_minutes: 60,
            ..stuffing()
        };
        assert_eq!(detect(&s, &quiet), Some(WaveKind::Stuffing));
        // ... a baseline of 4/min is not.
        let busy = Signals {
            baseline_failures: 240,
            baseline_minutes: 60,
            ..stuffing()
        };
        assert_eq!(detect(&s, &busy), None);
        // No history at all: the volume thresholds alone guard.
        let fresh = Signals {
            baseline_failures: 0,
            baseline_minutes: 60,
            ..stuffing()
        };
        assert_eq!(detect(&s, &fresh), Some(WaveKind::Stuffing));
    }

    #[test]
    fn a_busy_site_with_many_users_mistyping_makes_no_wave() {
        let s = WaveSettings::default();
        // 200 typos a minute, all day: 1000 in the window on 900 accounts from 800 networks,
        // 12 % mistyped addresses, a few common passwords shared by chance.
        let steady = Signals {
            failures: 1000,
            sprayed: 30,
            accounts: 900,
            unknown_accounts: 108,
            sources: 800,
            source_failures: 1000,
            baseline_failures: 200 * 55,
            baseline_minutes: 55,
        };
        assert_eq!(detect(&s, &steady), None);
        // Monday morning: the rate jumps fivefold, but the failures are still typos on real
        // accounts with their own passwords.
        let surge = Signals {
            failures: 5000,
            sprayed: 150,
            accounts: 4500,
            unknown_accounts: 540,
            sources: 4000,
            source_failures: 5000,
            ..steady
        };
        assert_eq!(detect(&s, &surge), None);
        // The same site under a stuffing run on top of its typos: the unknown share jumps.
        let attacked = Signals {
            failures: 5000,
            accounts: 4500,
            unknown_accounts: 3000,
            sources: 2000,
            source_failures: 5000,
            ..steady
        };
        assert_eq!(detect(&s, &attacked), Some(WaveKind::Stuffing));
    }

    #[test]
    fn kinds_round_trip_and_the_description_names_the_signals() {
        for k in [WaveKind::Stuffing, WaveKind::Spraying] {
            assert_eq!(WaveKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(WaveKind::parse("other"), None);
        let d = stuffing().describe(&WaveSettings::default());
        assert!(d.contains("60 failures on 55 accounts"), "{d}");
        assert!(d.contains("sources 30 networks (2.0 failures each)"), "{d}");
        assert!(
            d.contains("rate 12.0/min against a baseline of 0.5/min"),
            "{d}"
        );
    }
}
