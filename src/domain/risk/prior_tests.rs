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
use crate::domain::risk::features::{FEATURES, NEVER_USED_NETWORK, Observed, Velocity};
use crate::domain::risk::model::Model;
use crate::domain::risk::profile::Profile;
use crate::domain::risk::promises::{
    HISTORIES, HOME, OTHERS, OWN, SLOTS, owner, place, seen, takeover_let_in,
};
use crate::domain::risk::score::{Inputs, score};

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
    // Naive, VPN, targeted and targeted from the owner's own provider, at every hour, for
    // every history length, with and without places (`promises.rs`).
    assert_eq!(takeover_let_in(&Model::prior(), challenge_at()), None);
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
