//! The per-user statistical part of the score, in the manner of Freeman et al. (NDSS 2016,
//! "Who are you? A statistical approach to measuring user authenticity"): for each categorical
//! feature, the likelihood ratio of the observed value in the whole population against this
//! user's own history, p(x) / p(x | u). The user's history is smoothed towards the population
//! (a Dirichlet prior of weight `PRIOR_WEIGHT`), so a user with no history scores neutral (ratio
//! 1) and a value a long-standing user has never shown scores high.
#![allow(
    clippy::indexing_slicing,
    reason = "fixed-size feature vectors and rank arithmetic: indices are bounded by the loops that make them"
)]

use serde::{Deserialize, Serialize};

use crate::domain::risk::features::Observed;

/// Values kept per feature and user; the rarest is dropped when full.
const MAX_VALUES: usize = 24;
/// Weight of the population prior in the user's smoothed distribution.
const PRIOR_WEIGHT: f64 = 1.0;

/// Counts of the values a user has shown for one feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts(pub Vec<(String, u32)>);

impl Counts {
    fn get(&self, v: &str) -> u32 {
        self.0.iter().find(|(k, _)| k == v).map_or(0, |(_, n)| *n)
    }

    fn add(&mut self, v: &str) {
        if let Some(e) = self.0.iter_mut().find(|(k, _)| k == v) {
            e.1 = e.1.saturating_add(1);
            return;
        }
        if self.0.len() >= MAX_VALUES
            && let Some(min) = (0..self.0.len()).min_by_key(|&i| self.0[i].1)
        {
            self.0.swap_remove(min);
        }
        self.0.push((v.to_owned(), 1));
    }
}

/// A user's sign-in history, as kept in `risk_profile` (JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Successful sign-ins observed.
    pub n: u32,
    /// Network prefixes.
    pub prefixes: Counts,
    /// Autonomous systems.
    pub asns: Counts,
    /// Countries.
    pub countries: Counts,
    /// Browser families.
    pub browsers: Counts,
    /// Operating systems.
    pub oses: Counts,
    /// Device classes.
    pub devices: Counts,
    /// Exact user agents (tags).
    pub agents: Counts,
    /// Sign-ins per hour of day (UTC).
    pub hours: Vec<u32>,
    /// Last successful sign-in (unix seconds).
    pub last_at: Option<i64>,
    /// Where it was, when known.
    pub last_location: Option<(f64, f64)>,
}

/// The population frequency assumed for a value nobody has shown yet, per feature (the
/// cold-start prior before `authd model train` has counted the population).
pub const UNSEEN: [f64; 8] = [
    1.0 / 2000.0, // prefix
    1.0 / 500.0,  // asn
    1.0 / 60.0,   // country
    1.0 / 12.0,   // browser
    1.0 / 12.0,   // os
    1.0 / 4.0,    // device class
    1.0 / 2000.0, // exact user agent
    1.0 / 24.0,   // hour
];

/// Population frequencies (filled by training from every profile; empty before).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Sign-ins counted.
    pub n: u64,
    /// Per feature (same order as `UNSEEN`), value → share.
    pub shares: Vec<Vec<(String, f64)>>,
}

impl Population {
    fn share(&self, feature: usize, value: &str) -> f64 {
        let floor = UNSEEN[feature];
        self.shares
            .get(feature)
            .and_then(|m| m.iter().find(|(k, _)| k == value))
            .map_or(floor, |(_, p)| p.max(floor))
    }

    /// Counts the population from many profiles.
    pub fn from_profiles<'a>(profiles: impl Iterator<Item = &'a Profile>) -> Self {
        let mut totals: Vec<std::collections::HashMap<String, u64>> = vec![Default::default(); 8];
        let mut n = 0u64;
        for p in profiles {
            n += u64::from(p.n);
            for (f, counts) in p.categorical().into_iter().enumerate() {
                for (k, c) in &counts.0 {
                    *totals[f].entry(k.clone()).or_default() += u64::from(*c);
                }
            }
            for (h, c) in p.hours.iter().enumerate() {
                *totals[7].entry(h.to_string()).or_default() += u64::from(*c);
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let shares = totals
            .into_iter()
            .map(|m| {
                let mut v: Vec<(String, f64)> = m
                    .into_iter()
                    .map(|(k, c)| (k, c as f64 / n.max(1) as f64))
                    .collect();
                // Keep the model small: the 2 000 most common values per feature.
                v.sort_by(|a, b| b.1.total_cmp(&a.1));
                v.truncate(2000);
                v
            })
            .collect();
        Self { n, shares }
    }
}

impl Profile {
    /// Whether the account signed in from this network (/24 or /48) before.
    pub fn knows_network(&self, prefix: &str) -> bool {
        self.prefixes.get(prefix) > 0
    }

    fn categorical(&self) -> [&Counts; 7] {
        [
            &self.prefixes,
            &self.asns,
            &self.countries,
            &self.browsers,
            &self.oses,
            &self.devices,
            &self.agents,
        ]
    }

    /// Whether the account ever signed in successfully from this network prefix (among the
    /// bounded counts: a network dropped as the rarest of more than 24 counts as unused).
    pub fn used_network(&self, prefix: &str) -> bool {
        self.prefixes.get(prefix) > 0
    }

    /// Adds a successful sign-in.
    pub fn observe(&mut self, o: &Observed) {
        self.n = self.n.saturating_add(1);
        self.prefixes.add(&o.prefix);
        if let Some(a) = o.place.asn {
            self.asns.add(&a.to_string());
        }
        if let Some(c) = &o.place.country {
            self.countries.add(c);
        }
        self.browsers.add(&o.agent.browser);
        self.oses.add(&o.agent.os);
        self.devices.add(&o.agent.device);
        self.agents.add(&o.agent_tag);
        if self.hours.len() != 24 {
            self.hours = vec![0; 24];
        }
        self.hours[usize::from(o.hour % 24)] += 1;
        self.last_at = Some(o.at);
        if o.place.location.is_some() {
            self.last_location = o.place.location;
        }
    }

    /// Freeman log-likelihood ratios ln(p(x) / p(x | u)) per categorical feature, in the order
    /// of `UNSEEN`; `None` where the value is unknown (no GeoIP database: ASN, country).
    pub fn log_ratios(&self, o: &Observed, population: &Population) -> [Option<f64>; 8] {
        let asn = o.place.asn.map(|a| a.to_string());
        let hour = o.hour.to_string();
        let values: [Option<&str>; 8] = [
            Some(&o.prefix),
            asn.as_deref(),
            o.place.country.as_deref(),
            Some(&o.agent.browser),
            Some(&o.agent.os),
            Some(&o.agent.device),
            Some(&o.agent_tag),
            Some(&hour),
        ];
        let counts = self.categorical();
        let mut out = [None; 8];
        for (f, value) in values.iter().enumerate() {
            let Some(v) = value else { continue };
            let p = population.share(f, v);
            let (c, n) = if f == 7 {
                // Hours: a ±1 h neighbourhood counts (working hours drift a little).
                let h = usize::from(o.hour % 24);
                let near = |d: usize| self.hours.get((h + d) % 24).copied().unwrap_or(0);
                (near(0) + near(1) + near(23), self.n.saturating_mul(3))
            } else if f == 1 || f == 2 {
                // ASN and country are only counted since a GeoIP file was configured (and for
                // addresses it places): the user's n for them is their own total.
                let total = counts[f].0.iter().map(|(_, c)| *c).sum::<u32>();
                (counts[f].get(v), total)
            } else {
                // Network, browser, OS, class, agent: every sign-in shows one, so the user's n
                // is the history's size, values dropped from the bounded counts included. So a
                // never-shown value scores exactly ln(1 + n) = `history_size`.
                (counts[f].get(v), self.n)
            };
            let pu = (f64::from(c) + PRIOR_WEIGHT * p) / (f64::from(n) + PRIOR_WEIGHT);
            out[f] = Some((p / pu).ln());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::risk::features::{Agent, agent_tag};
    use crate::domain::risk::geo::Place;

    fn seen(prefix: &str, ua: &str, hour: u8) -> Observed {
        Observed {
            prefix: prefix.into(),
            place: Place::default(),
            agent: Agent {
                browser: ua.into(),
                os: "Linux".into(),
                device: "pc".into(),
            },
            agent_tag: agent_tag(ua),
            hour,
            at: 0,
        }
    }

    #[test]
    fn usual_context_has_negative_ratios_and_a_new_one_positive() {
        let mut p = Profile::default();
        for i in 0..20 {
            p.observe(&seen("198.51.100.0/24", "Firefox", 9 + (i % 3)));
        }
        let pop = Population::default();
        let usual = p.log_ratios(&seen("198.51.100.0/24", "Firefox", 10), &pop);
        assert!(usual[0].unwrap() < -5.0, "{usual:?}");
        assert!(usual[7].unwrap() < 0.0, "usual hour");
        assert!(
            usual[1].is_none() && usual[2].is_none(),
            "no GeoIP: dropped"
        );
        let odd = p.log_ratios(&seen("203.0.113.0/24", "Chrome", 3), &pop);
        assert!(odd[0].unwrap() > 2.5, "new network: {odd:?}");
        assert!(odd[3].unwrap() > 2.5, "new browser");
        assert!(odd[7].unwrap() > 2.5, "odd hour");
    }

    #[test]
    fn cold_start_is_neutral() {
        let p = Profile::default();
        let r = p.log_ratios(&seen("203.0.113.0/24", "Chrome", 3), &Population::default());
        for v in r.iter().flatten() {
            assert!(v.abs() < 1e-9, "{r:?}");
        }
    }

    #[test]
    fn counts_stay_bounded() {
        let mut p = Profile::default();
        for i in 0..100 {
            p.observe(&seen(&format!("10.0.{i}.0/24"), "Firefox", 9));
        }
        assert_eq!(p.prefixes.0.len(), MAX_VALUES);
        assert_eq!(p.n, 100);
    }

    #[test]
    fn population_shares_weigh_rarely_seen_values() {
        // For a value the user never showed, the population share cancels out (as in Freeman
        // et al.): the ratio depends on how much history the user has. For a value shown
        // rarely, a common value (one an attacker is likely to show too) is weaker evidence of
        // the owner than a rare one.
        let mut a = Profile::default();
        let mut b = Profile::default();
        for _ in 0..10 {
            a.observe(&seen("198.51.100.0/24", "Chrome", 9));
            b.observe(&seen("192.0.2.0/24", "Chrome", 9));
        }
        let pop = Population::from_profiles([&a, &b].into_iter());
        assert_eq!(pop.n, 20);
        let mut c = Profile::default();
        for _ in 0..9 {
            c.observe(&seen("203.0.113.0/24", "Firefox", 9));
        }
        c.observe(&seen("203.0.113.0/24", "Chrome", 9));
        let r_pop = c.log_ratios(&seen("203.0.113.0/24", "Chrome", 9), &pop)[3].unwrap();
        let r_none =
            c.log_ratios(&seen("203.0.113.0/24", "Chrome", 9), &Population::default())[3].unwrap();
        assert!(r_pop > r_none, "{r_pop} {r_none}");
        let new = c.log_ratios(&seen("203.0.113.0/24", "Opera", 9), &pop)[3].unwrap();
        assert!(
            (new - 11f64.ln()).abs() < 1e-9,
            "(n + 1) / 1 for an unseen value: {new}"
        );
    }
}
