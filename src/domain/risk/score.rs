//! The feature vector and the score: the pure, benchmarked hot path (no I/O). The service
//! (`service.rs`) gathers the inputs; this file turns them into a score with reasons.

use crate::domain::risk::features::{
    FEATURES, HISTORY_SIZE, NEVER_USED_NETWORK, Observed, Velocity, squash,
};
use crate::domain::risk::geo::distance_km;
use crate::domain::risk::model::Model;
use crate::domain::risk::profile::Profile;

/// Everything the pure feature computation needs.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// What the request showed.
    pub observed: &'a Observed,
    /// The user's profile (None: unknown account or no history).
    pub profile: Option<&'a Profile>,
    /// The counters.
    pub velocity: Velocity,
    /// Whether the browser carried a valid device cookie for the account.
    pub known_device: bool,
}

/// Failures from one source (all accounts) in a window before the count starts to matter.
pub const ALLOW_SOURCE_FAILURES: i64 = 5;
/// Accounts failing from one source before it starts to look like stuffing.
pub const ALLOW_SOURCE_ACCOUNTS: i64 = 3;
/// Accounts failing from one /24 or /48.
pub const ALLOW_PREFIX_ACCOUNTS: i64 = 5;
/// Sources failing on one account.
pub const ALLOW_ACCOUNT_SOURCES: i64 = 3;
/// Other accounts the same wrong password failed on.
pub const ALLOW_SPRAY_ACCOUNTS: i64 = 1;

/// Computes the feature vector and scores it: the benchmarked hot path (no I/O).
pub fn score(model: &Model, i: &Inputs<'_>) -> (f64, Vec<String>, [f64; FEATURES]) {
    let mut x = [0.0; FEATURES];
    let ratios = i
        .profile
        .map(|p| p.log_ratios(i.observed, &model.population))
        .unwrap_or_default();
    for (slot, r) in x.iter_mut().zip(ratios.iter()) {
        // Clipped: a familiar value lowers the score a little, a new one raises it up to 6.
        *slot = r.unwrap_or(0.0).clamp(-1.0, 6.0);
    }
    x[8] = if i.known_device { 0.0 } else { 1.0 };
    let days = i.profile.and_then(|p| p.last_at).map_or(0.0, |t| {
        ((i.observed.at - t).max(0) as f64 / 86_400.0).ln_1p()
    });
    x[9] = days;
    let v = i.velocity;
    // Velocity counts above a small allowance (a shared office network sees a few typos on
    // a few accounts in a quarter of an hour; a campaign sees many).
    x[10] = squash(v.pair_failures);
    x[11] = squash(v.source_failures - ALLOW_SOURCE_FAILURES);
    x[12] = squash(v.source_accounts - ALLOW_SOURCE_ACCOUNTS);
    x[13] = squash(v.prefix_accounts - ALLOW_PREFIX_ACCOUNTS);
    x[14] = squash(v.account_sources - ALLOW_ACCOUNT_SOURCES);
    x[15] = squash(v.spray_accounts - ALLOW_SPRAY_ACCOUNTS);
    x[16] = travel(i.profile, i.observed);
    // Feature 17 (`unknown_account`) stays 0: a score that knew whether the name has an
    // account would answer the two differently (enumeration). The column stays so stored
    // vectors and trained models keep their shape.
    x[17] = 0.0;
    // The interaction a linear model cannot build itself: novelty of place *and* browser state.
    x[18] = if i.known_device { 0.0 } else { x[0].max(0.0) };
    let (never_used, history) = takeover_shape(i);
    x[NEVER_USED_NETWORK] = never_used;
    x[HISTORY_SIZE] = history;
    let (s, reasons) = model.score(&x);
    (s, reasons, x)
}

/// The shape of a takeover with a stolen password, independent of how long the history is:
/// (1 when the account has signed in before but never from this network and the browser has
/// no device cookie of the account, else 0; ln(1 + earlier successful sign-ins)). An account
/// with no earlier sign-in has no network to compare with: 0 (cold start, docs/risk.md).
fn takeover_shape(i: &Inputs<'_>) -> (f64, f64) {
    let n = i.profile.map_or(0, |p| p.n);
    let never_used = n >= 1
        && !i.known_device
        && !i
            .profile
            .is_some_and(|p| p.used_network(&i.observed.prefix));
    (if never_used { 1.0 } else { 0.0 }, f64::from(n).ln_1p())
}

/// Speed (km/h, in thousands, capped at 3) needed to get from the last successful sign-in's
/// place to this one; 0 when either place is unknown or the speed is plausible (< 900 km/h).
fn travel(profile: Option<&Profile>, o: &Observed) -> f64 {
    let (Some(p), Some(here)) = (profile, o.place.location) else {
        return 0.0;
    };
    let (Some(there), Some(t)) = (p.last_location, p.last_at) else {
        return 0.0;
    };
    let km = distance_km(there, here);
    #[allow(clippy::cast_precision_loss)]
    let hours = ((o.at - t).max(60) as f64) / 3600.0;
    let speed = km / hours;
    if speed < 900.0 || km < 500.0 {
        0.0
    } else {
        (speed / 1000.0).min(3.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::risk::features::{agent_tag, parse_agent, prefix_of, reason_text};
    use crate::domain::risk::geo::Place;

    fn observed(ip: &str, ua: &str, hour: u8, at: i64) -> Observed {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        Observed {
            prefix: prefix_of(ip),
            place: Place::default(),
            agent: parse_agent(ua),
            agent_tag: agent_tag(ua),
            hour,
            at,
        }
    }

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

    fn history() -> Profile {
        let mut p = Profile::default();
        for day in 0..30 {
            p.observe(&observed(
                "198.51.100.20",
                FIREFOX,
                9 + (day % 3) as u8,
                day * 86_400,
            ));
        }
        p
    }

    fn run(p: &Profile, o: &Observed, known_device: bool, v: Velocity) -> (f64, Vec<String>) {
        let (s, reasons, _) = score(
            &Model::prior(),
            &Inputs {
                observed: o,
                profile: Some(p),
                velocity: v,
                known_device,
            },
        );
        (s, reasons)
    }

    #[test]
    fn the_usual_context_scores_low() {
        let p = history();
        let at = 30 * 86_400 + 10 * 3600;
        let (s, _) = run(
            &p,
            &observed("198.51.100.77", FIREFOX, 10, at),
            true,
            Velocity::default(),
        );
        assert!(s < 0.01, "{s}");
        // Even without the device cookie (cleared cookies) the usual place and browser pass.
        let (s, _) = run(
            &p,
            &observed("198.51.100.77", FIREFOX, 10, at),
            false,
            Velocity::default(),
        );
        assert!(s < 0.2, "{s}");
    }

    #[test]
    fn a_new_network_device_and_hour_score_high_with_reasons() {
        let p = history();
        let at = 30 * 86_400 + 3 * 3600;
        let (s, reasons) = run(
            &p,
            &observed("203.0.113.9", CHROME_WIN, 3, at),
            false,
            Velocity::default(),
        );
        assert!(s > 0.5, "{s}");
        assert_eq!(reasons[0], reason_text(NEVER_USED_NETWORK), "{reasons:?}");
        let all = reasons.join("; ");
        assert!(all.contains("network this account has not used"), "{all}");
        // With the device cookie the same place and browser are novelty, not a takeover.
        let (s, reasons) = run(
            &p,
            &observed("203.0.113.9", CHROME_WIN, 3, at),
            true,
            Velocity::default(),
        );
        assert!(s < 0.5, "{s}");
        assert!(
            reasons
                .join("; ")
                .contains("browser this account has not used")
        );
    }

    #[test]
    fn campaign_counters_raise_the_score_without_history() {
        let o = observed("203.0.113.9", CHROME_WIN, 3, 0);
        let quiet = score(
            &Model::prior(),
            &Inputs {
                observed: &o,
                profile: None,
                velocity: Velocity::default(),
                known_device: false,
            },
        );
        assert!(quiet.0 < 0.2, "{}", quiet.0);
        let stuffing = score(
            &Model::prior(),
            &Inputs {
                observed: &o,
                profile: None,
                velocity: Velocity {
                    source_failures: 20,
                    source_accounts: 20,
                    prefix_accounts: 20,
                    ..Velocity::default()
                },
                known_device: false,
            },
        );
        assert!(stuffing.0 > 0.9, "{}", stuffing.0);
        assert!(
            stuffing.1[0].contains("credential stuffing"),
            "{:?}",
            stuffing.1
        );
    }

    #[test]
    fn impossible_travel_is_measured_between_places() {
        let mut p = Profile::default();
        let mut paris = observed("198.51.100.20", FIREFOX, 9, 0);
        paris.place.location = Some((48.85, 2.35));
        p.observe(&paris);
        let mut sydney = observed("203.0.113.9", FIREFOX, 10, 3600);
        sydney.place.location = Some((-33.87, 151.21));
        assert!(travel(Some(&p), &sydney) > 1.0);
        let mut later = sydney.clone();
        later.at = 3 * 86_400;
        assert_eq!(travel(Some(&p), &later), 0.0, "three days is enough");
    }

    #[test]
    fn user_agents_parse_into_family_os_and_class() {
        let a = parse_agent(CHROME_WIN);
        assert_eq!((a.browser.as_str(), a.device.as_str()), ("Chrome", "pc"));
        assert!(a.os.contains("Windows"), "{a:?}");
        let iphone = parse_agent(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(iphone.device, "smartphone");
        assert_eq!(
            prefix_of("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1::/48"
        );
        assert_eq!(prefix_of("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
    }
}
