//! The prior's promises (docs/risk.md, "The prior"): before any training, the built-in weights
//! challenge takeovers with the right password — from another country, through a VPN in the
//! victim's country with a new browser, with the victim's exact user agent — and let the owner
//! through at home, on a new device at home, and on a new network with a known device, for
//! histories of one sign-in as for long ones.
#![allow(
    clippy::indexing_slicing,
    reason = "fixed-size feature vectors indexed by the feature constants"
)]

use crate::domain::risk::RiskSettings;
use crate::domain::risk::features::{
    FEATURES, NEVER_USED_NETWORK, Observed, Velocity, agent_tag, parse_agent, prefix_of,
};
use crate::domain::risk::geo::Place;
use crate::domain::risk::model::Model;
use crate::domain::risk::profile::Profile;
use crate::domain::risk::score::{Inputs, score};

const OWN: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const OTHERS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
];
/// History lengths: thin (one, two, three earlier sign-ins) to long.
const HISTORIES: [u32; 8] = [1, 2, 3, 5, 12, 40, 150, 1000];
/// The owner's habitual hours (UTC): three slots a day.
const SLOTS: [i64; 3] = [8, 16, 0];
const HOME: &str = "198.51.100.20";

/// Where an address is, with or without a GeoIP file.
fn place(geo: bool, country: &str, asn: u32) -> Place {
    if geo {
        Place {
            country: Some(country.into()),
            asn: Some(asn),
            as_org: None,
            location: None,
        }
    } else {
        Place::default()
    }
}

fn seen(ip: &str, place: Place, ua: &str, at: i64) -> Observed {
    Observed {
        prefix: prefix_of(ip.parse().unwrap()),
        place,
        agent: parse_agent(ua),
        agent_tag: agent_tag(ua),
        hour: u8::try_from((at / 3600).rem_euclid(24)).unwrap(),
        at,
    }
}

/// An owner with `n` sign-ins from home (DE, ASN 3320) on one browser at the habitual hours;
/// returns the profile and the time of the next slot.
fn owner(n: u32, geo: bool) -> (Profile, i64) {
    let mut p = Profile::default();
    let mut at = 0;
    for i in 0..n {
        let slot = SLOTS[i as usize % 3];
        at = i64::from(i / 3) * 86_400 + slot * 3600;
        p.observe(&seen(HOME, place(geo, "DE", 3320), OWN, at));
    }
    (p, at + 8 * 3600)
}

fn scored(p: &Profile, o: &Observed, known_device: bool) -> (f64, [f64; FEATURES]) {
    let (s, _, x) = score(
        &Model::prior(),
        &Inputs {
            observed: o,
            profile: Some(p),
            velocity: Velocity::default(),
            known_device,
        },
    );
    (s, x)
}

fn challenge_at() -> f64 {
    RiskSettings::default().challenge_at
}

#[test]
fn the_prior_orders_device_network_and_their_absence() {
    // Same browser throughout: only the network and the device cookie change.
    for geo in [true, false] {
        for n in HISTORIES {
            let (p, at) = owner(n, geo);
            let home = seen(HOME, place(geo, "DE", 3320), OWN, at);
            let away = seen("203.0.113.9", place(geo, "DE", 64_500), OWN, at);
            let known_device = scored(&p, &home, true).0;
            let known_network = scored(&p, &home, false).0;
            let new_network_with_device = scored(&p, &away, true).0;
            let (new_network_without, x) = scored(&p, &away, false);
            assert!(
                known_device < known_network
                    && known_network < new_network_with_device
                    && new_network_with_device < new_network_without,
                "n={n} geo={geo}: {known_device} {known_network} \
                 {new_network_with_device} {new_network_without}"
            );
            assert!(new_network_with_device < challenge_at(), "n={n}");
            assert!(new_network_without >= challenge_at(), "n={n}");
            assert_eq!(x[NEVER_USED_NETWORK], 1.0);
        }
    }
}

#[test]
fn the_prior_challenges_takeovers_with_the_right_password() {
    for geo in [true, false] {
        for n in HISTORIES {
            let (p, next) = owner(n, geo);
            for hour in 0..24 {
                let at = next - next.rem_euclid(86_400) + hour * 3600 + 86_400;
                for other in OTHERS {
                    let naive = seen("203.0.113.9", place(geo, "US", 7922), other, at);
                    let vpn = seen("192.0.2.9", place(geo, "DE", 64_500), other, at);
                    // The victim's exact agent, from a VPN exit or from the victim's own
                    // provider in the victim's country.
                    let targeted = seen("192.0.2.9", place(geo, "DE", 64_500), OWN, at);
                    let local = seen("100.64.7.9", place(geo, "DE", 3320), OWN, at);
                    for (name, o) in [
                        ("naive", naive),
                        ("vpn", vpn),
                        ("targeted", targeted),
                        ("targeted, local", local),
                    ] {
                        let s = scored(&p, &o, false).0;
                        assert!(
                            s >= challenge_at(),
                            "{name} n={n} geo={geo} hour={hour}: {s}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_prior_lets_owners_through() {
    for geo in [true, false] {
        for n in HISTORIES {
            let (p, next) = owner(n, geo);
            for slot in SLOTS {
                let at = next - next.rem_euclid(86_400) + slot * 3600 + 86_400;
                let mut cases = vec![
                    ("home", seen(HOME, place(geo, "DE", 3320), OWN, at), true),
                    (
                        "cleared cookies",
                        seen(HOME, place(geo, "DE", 3320), OWN, at),
                        false,
                    ),
                    (
                        "new network, own device",
                        seen("192.0.2.9", place(geo, "DE", 64_500), OWN, at),
                        true,
                    ),
                    (
                        "travel abroad, own device",
                        seen("203.0.113.9", place(geo, "US", 7922), OWN, at),
                        true,
                    ),
                ];
                for other in OTHERS {
                    let o = seen(HOME, place(geo, "DE", 3320), other, at);
                    cases.push(("new device at home", o, false));
                }
                for (name, o, known) in cases {
                    let s = scored(&p, &o, known).0;
                    assert!(s < challenge_at(), "{name} n={n} geo={geo}: {s}");
                }
            }
        }
    }
}

#[test]
fn an_account_with_no_earlier_sign_in_is_not_challenged_for_novelty() {
    // Cold start: nothing to compare with. Every ratio is neutral and the takeover shape
    // needs an earlier sign-in: the first sign-in (normally the owner's, right after
    // registering) passes, and the new-device mail tells the owner of it.
    let p = Profile::default();
    for other in OTHERS {
        let o = seen("203.0.113.9", place(true, "US", 7922), other, 3 * 3600);
        let (s, x) = scored(&p, &o, false);
        assert!(s < challenge_at(), "{s}");
        assert_eq!(x[NEVER_USED_NETWORK], 0.0);
    }
}
