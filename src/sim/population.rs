//! Who the simulator plays: browsers (user agents), legitimate users with their home networks
//! and devices, and, with a GeoIP database, countries and their networks.
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (at least one user, device, agent, country)"
)]

use std::collections::HashMap;

use anyhow::bail;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::sim::client::Sim;

/// The user agents browsers send.
pub(super) const AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
];

/// One browser: a user agent and its device cookie.
#[derive(Debug, Clone)]
pub(super) struct Device {
    pub(super) agent: &'static str,
    pub(super) cookie: Option<String>,
}

/// A legitimate user.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) email: String,
    pub(super) password: String,
    /// The home /24.
    pub(super) home: [u8; 3],
    pub(super) country: Option<String>,
    pub(super) devices: Vec<Device>,
    /// An owner with a thin history: two sign-ins after registering, then quiet (the valid
    /// pairs of the stuffing wave, and takeover victims like any other).
    pub(super) thin: bool,
    /// The networks (/24) the user signed in from.
    pub(super) nets: Vec<[u8; 3]>,
}

/// A browser with a random agent and no cookie yet.
pub(super) fn new_device(rng: &mut ChaCha8Rng) -> Device {
    Device {
        agent: AGENTS[rng.random_range(0..AGENTS.len())],
        cookie: None,
    }
}

/// `n` users, each with one or two devices and a home network (in a country with GeoIP), then
/// `thin` owners with one device each.
pub(super) fn users(sim: &mut Sim, n: usize, thin: usize) -> Vec<User> {
    let run_tag = sim.rng.random::<u32>();
    // Not from the seed: whoever knows the (public, default) seed must not be able to sign in
    // to the accounts a run leaves behind. The seeded draws stay as they were, so a run's
    // traffic is still the same for a seed.
    let secret = crate::domain::clock::Random::token(&crate::domain::clock::OsRandom, 12);
    let mut users = Vec::new();
    for i in 0..n + thin {
        let n_devices = if i < n && sim.rng.random_bool(0.5) {
            2
        } else {
            1
        };
        let devices = (0..n_devices).map(|_| new_device(&mut sim.rng)).collect();
        let (home, country) = match sim.geo.clone() {
            Some(g) => {
                let c = g.pick_country(&mut sim.rng);
                (g.pick_net(&c, &mut sim.rng), Some(c))
            }
            None => ([198, 18, u8::try_from(i % 250).unwrap_or(0)], None),
        };
        users.push(User {
            email: format!("sim{run_tag}-{i}@example.com"),
            password: format!("correct horse {i} {} {secret}", sim.rng.random::<u32>()),
            home,
            country,
            devices,
            thin: i >= n,
            nets: vec![home],
        });
    }
    users
}

/// A network no user lives in.
pub(super) fn fresh_net(sim: &mut Sim) -> [u8; 3] {
    [
        sim.rng.random_range(11..99u8),
        sim.rng.random_range(1..250u8),
        sim.rng.random_range(1..250u8),
    ]
}

/// A network in the user's country other than their home (without GeoIP: any new network).
pub(super) fn in_country(sim: &mut Sim, u: &User) -> [u8; 3] {
    match (sim.geo.clone(), &u.country) {
        (Some(g), Some(c)) => loop {
            let n = g.pick_net(c, &mut sim.rng);
            if n != u.home {
                break n;
            }
        },
        _ => fresh_net(sim),
    }
}

/// A network in another country than the user's (without GeoIP: any new network).
pub(super) fn abroad(sim: &mut Sim, u: &User) -> [u8; 3] {
    match (sim.geo.clone(), &u.country) {
        (Some(g), Some(c)) => {
            let other = g.pick_other_country(c, &mut sim.rng);
            g.pick_net(&other, &mut sim.rng)
        }
        _ => fresh_net(sim),
    }
}

/// An address in the user's home network (the owner's own context).
pub(super) fn near_home(u: &User) -> String {
    format!("{}.{}.{}.77", u.home[0], u.home[1], u.home[2])
}

/// Networks (/24s) per country, sampled from the GeoIP database with the seeded generator.
#[derive(Debug)]
pub(super) struct Countries {
    names: Vec<String>,
    nets: HashMap<String, Vec<[u8; 3]>>,
}

impl Countries {
    /// Samples 40 000 random networks and keeps the countries with at least 40.
    pub(super) fn sample(path: &std::path::Path, rng: &mut ChaCha8Rng) -> anyhow::Result<Self> {
        let db = crate::domain::risk::geo::GeoDb::open(path).map_err(anyhow::Error::msg)?;
        let mut nets: HashMap<String, Vec<[u8; 3]>> = HashMap::new();
        for _ in 0..40_000 {
            let net = [
                rng.random_range(1..224u8),
                rng.random_range(0..=255u8),
                rng.random_range(0..=255u8),
            ];
            let ip = std::net::IpAddr::from([net[0], net[1], net[2], 1]);
            if let Some(c) = db.place(ip).country {
                nets.entry(c).or_default().push(net);
            }
        }
        nets.retain(|_, v| v.len() >= 40);
        let mut names: Vec<String> = nets.keys().cloned().collect();
        names.sort();
        if names.len() < 2 {
            bail!("the GeoIP database gave fewer than two countries with enough networks");
        }
        Ok(Self { names, nets })
    }

    /// Any country.
    pub(super) fn pick_country(&self, rng: &mut ChaCha8Rng) -> String {
        self.names[rng.random_range(0..self.names.len())].clone()
    }

    /// Any country but `not`.
    pub(super) fn pick_other_country(&self, not: &str, rng: &mut ChaCha8Rng) -> String {
        loop {
            let c = self.pick_country(rng);
            if c != not {
                return c;
            }
        }
    }

    /// A network in `country`.
    pub(super) fn pick_net(&self, country: &str, rng: &mut ChaCha8Rng) -> [u8; 3] {
        let nets = &self.nets[country];
        nets[rng.random_range(0..nets.len())]
    }
}
