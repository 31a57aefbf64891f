//! Self-supervised training data: the attackers that would have signed in with a stolen
//! password at the moment an owner signed in. For each legitimate successful sign-in, the
//! feature vectors the three attackers of Wiefling et al. ("Is This Really You? An Empirical
//! Study on Risk-Based Authentication Applied in the Wild", IFIP SEC 2019) would have produced
//! against the account's profile *as it was then*:
//!
//! - **naive**: the password only — another country, a network and a provider (ASN) the
//!   account never used, another browser and user agent;
//! - **VPN**: the password and the victim's country — a VPN exit there (a network and a
//!   provider the account never used), another browser and user agent;
//! - **targeted**: the password, the victim's country and the victim's exact user agent —
//!   a never-used network and provider there, the browser, OS, device class and agent
//!   string of this very sign-in.
//!
//! None of them has the account's device cookie, none has failed before (no failure counters,
//! no spraying, no travel signal); each signs in at the owner's hour and after the owner's
//! pause. What an attacker keeps of the owner's context is copied from the event's stored
//! features. What he changes is a value the account never showed, whose Freeman ratio is
//! exactly ln(1 + n) (the population share cancels out, `profile.rs`), n being the number of
//! earlier sign-ins the event stored as `history_size`; clipped as the scorer clips. ASN and
//! country change only where the event measured them (a GeoIP file placed the address), and
//! their ratio is ln(1 + n) as well: exact when every earlier sign-in was placed, otherwise
//! slightly in the attacker's disfavour (they count only placed sign-ins).
//!
//! An owner's first sign-in (n = 0) gives no attacker: with nothing to compare against, every
//! attacker's vector would equal the owner's, and would teach only noise.
#![allow(
    clippy::indexing_slicing,
    reason = "fixed-size feature vectors indexed by the feature constants"
)]

use crate::domain::risk::features::{FEATURES, HISTORY_SIZE, NEVER_USED_NETWORK};

/// The three attackers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attacker {
    /// Another country, network and browser.
    Naive,
    /// A VPN exit in the victim's country, a new browser.
    Vpn,
    /// The victim's country and exact user agent.
    Targeted,
}

/// Every attacker, in order.
pub const ATTACKERS: [Attacker; 3] = [Attacker::Naive, Attacker::Vpn, Attacker::Targeted];

/// The largest value a Freeman ratio enters the model with (`score.rs` clips to [-1, 6]).
const RATIO_MAX: f64 = 6.0;

/// What `attacker` would have scored at the moment of the legitimate sign-in `owner` (its
/// stored feature vector); `None` for an account's first sign-in.
pub fn attack_on(owner: &[f64; FEATURES], attacker: Attacker) -> Option<[f64; FEATURES]> {
    let history = owner[HISTORY_SIZE];
    if history <= 0.0 {
        return None;
    }
    // A value the account never showed: ln(1 + n), as clipped.
    let unseen = history.min(RATIO_MAX);
    let measured = |v: f64| if v == 0.0 { 0.0 } else { unseen };
    let mut x = *owner;
    x[0] = unseen; // a network the account never used
    x[1] = measured(owner[1]); // its provider
    match attacker {
        Attacker::Naive => {
            x[2] = measured(owner[2]);
            x[3] = unseen;
            x[6] = unseen;
        }
        Attacker::Vpn => {
            x[3] = unseen;
            x[6] = unseen;
        }
        Attacker::Targeted => {}
    }
    x[8] = 1.0; // no device cookie of the account
    for v in &mut x[10..=17] {
        *v = 0.0; // no failures, no spraying, no travel signal, a real account
    }
    x[18] = unseen; // new network without the device cookie
    x[NEVER_USED_NETWORK] = 1.0;
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::risk::features::{Observed, Velocity, agent_tag, parse_agent, prefix_of};
    use crate::domain::risk::geo::Place;
    use crate::domain::risk::model::Model;
    use crate::domain::risk::profile::Profile;
    use crate::domain::risk::score::{Inputs, score};

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    /// Another browser on the same OS: the synthesis keeps the owner's OS and device class
    /// (an attacker may well share them), so the comparison uses one that does.
    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

    fn seen(ip: &str, country: &str, ua: &str, at: i64) -> Observed {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        Observed {
            prefix: prefix_of(ip),
            place: Place {
                country: Some(country.into()),
                asn: Some(if country == "DE" { 3320 } else { 7922 }),
                as_org: None,
                location: None,
            },
            agent: parse_agent(ua),
            agent_tag: agent_tag(ua),
            hour: 9,
            at,
        }
    }

    fn features(p: &Profile, o: &Observed, known_device: bool) -> [f64; FEATURES] {
        let inputs = Inputs {
            observed: o,
            profile: Some(p),
            velocity: Velocity::default(),
            known_device,
        };
        score(&Model::prior(), &inputs).2
    }

    /// The synthesised vectors are exactly what the scorer computes for those attackers,
    /// for thin and long histories, evicted networks included.
    #[test]
    fn synthetic_attackers_match_what_the_scorer_measures() {
        for n in [1, 2, 7, 40, 500] {
            let mut p = Profile::default();
            for i in 0..n {
                // A home network, now and then another one (more than the 24 kept).
                let ip = if i % 5 == 4 {
                    format!("10.{}.{}.1", i / 250, i % 250)
                } else {
                    "198.51.100.7".into()
                };
                p.observe(&seen(&ip, "DE", FIREFOX, i64::from(i) * 3600));
            }
            let at = i64::from(n) * 3600 + 60;
            let owner = features(&p, &seen("198.51.100.7", "DE", FIREFOX, at), true);
            let cases = [
                (Attacker::Naive, seen("203.0.113.9", "US", CHROME, at)),
                (Attacker::Vpn, seen("192.0.2.9", "DE", CHROME, at)),
                (Attacker::Targeted, seen("192.0.2.9", "DE", FIREFOX, at)),
            ];
            for (kind, o) in cases {
                // Same ASN for every German address in this fixture: give the attacker's
                // its own one, as a VPN's is.
                let mut o = o;
                o.place.asn = Some(64_500);
                let real = features(&p, &o, false);
                let synthetic = attack_on(&owner, kind).unwrap();
                for k in 0..FEATURES {
                    assert!(
                        (real[k] - synthetic[k]).abs() < 1e-12,
                        "n={n} {kind:?} feature {k}: {} vs {}",
                        real[k],
                        synthetic[k]
                    );
                }
            }
        }
    }

    #[test]
    fn a_first_sign_in_gives_no_attacker() {
        let p = Profile::default();
        let owner = features(&p, &seen("198.51.100.7", "DE", FIREFOX, 0), false);
        assert_eq!(owner[HISTORY_SIZE], 0.0);
        assert!(ATTACKERS.iter().all(|a| attack_on(&owner, *a).is_none()));
    }
}
