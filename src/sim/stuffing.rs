//! The credential-stuffing wave, mixed into normal traffic: a leaked list tried from many
//! addresses (each a network of its own, a botnet's), two or three attempts per address, most
//! pairs naming no account here, some real accounts with a stale password, and a few valid
//! pairs of owners with a thin history (two earlier sign-ins). Meanwhile the regular users go on
//! signing in as usual; their friction during the wave is reported on its own.
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (users, agents, addresses)"
)]

use rand::RngExt;
use rand::seq::SliceRandom;

use crate::sim::client::Sim;
use crate::sim::legit::{Behaviour, sign_in_as};
use crate::sim::population::{AGENTS, Device, User, fresh_net};
use crate::sim::report::{Outcome, Phase, ScenarioReport, summarise};

/// Valid leaked pairs in the list (thin owners), at most.
const VALID_PAIRS: usize = 8;
/// Real accounts in the list with a stale password.
const STALE_PAIRS: usize = 12;

/// One leaked pair.
#[derive(Debug, Clone)]
struct Leaked {
    email: String,
    password: String,
    valid: bool,
}

/// Runs the wave from `addresses` addresses; adds `credential_stuffing` (every attempt) and
/// `stuffing_valid_pairs` (the valid pairs: how many got in without a challenge) to `phase`,
/// and returns the legitimate sign-ins made during the wave.
pub(super) async fn stuffing_wave(
    sim: &mut Sim,
    users: &mut [User],
    addresses: usize,
    phase: &mut Phase,
) -> anyhow::Result<Vec<(Behaviour, Outcome)>> {
    let origins: Vec<(String, Device)> = (0..addresses)
        .map(|_| {
            let net = fresh_net(sim);
            let ip = sim.ip(net);
            let agent = AGENTS[sim.rng.random_range(0..AGENTS.len())];
            (
                ip,
                Device {
                    agent,
                    cookie: None,
                },
            )
        })
        .collect();
    // Two or three attempts per address, in the order a botnet's workers send them.
    let mut schedule: Vec<usize> = Vec::new();
    for i in 0..addresses {
        let n = if sim.rng.random_bool(0.5) { 2 } else { 3 };
        schedule.extend(std::iter::repeat_n(i, n));
    }
    schedule.shuffle(&mut sim.rng);
    let list = leaked_list(sim, users, schedule.len());
    let (mut all, mut valid, mut legit) = (Vec::new(), Vec::new(), Vec::new());
    for (at, pair) in schedule.iter().zip(&list) {
        let (ip, device) = &origins[*at];
        let (o, _) = sim
            .sign_in(
                "credential_stuffing",
                ip,
                device,
                &pair.email,
                &pair.password,
            )
            .await?;
        all.push(o);
        if pair.valid {
            valid.push(o);
        }
        sim.pass_time(2);
        // Normal traffic goes on: a regular user every few attempts.
        if sim.rng.random_bool(0.25) {
            let regular: Vec<usize> = (0..users.len()).filter(|i| !users[*i].thin).collect();
            let u = &mut users[regular[sim.rng.random_range(0..regular.len())]];
            let b = Behaviour::draw(sim);
            legit.push((b, sign_in_as(sim, u, b).await?));
        }
    }
    phase
        .scenarios
        .insert("credential_stuffing".into(), summarise(&all, false));
    let pairs: ScenarioReport = summarise(&valid, true);
    phase.scenarios.insert("stuffing_valid_pairs".into(), pairs);
    Ok(legit)
}

/// `n` leaked pairs: up to `VALID_PAIRS` valid ones (thin owners), `STALE_PAIRS` real
/// accounts with an old password, the rest names with no account here; shuffled.
fn leaked_list(sim: &mut Sim, users: &[User], n: usize) -> Vec<Leaked> {
    let mut list: Vec<Leaked> = users
        .iter()
        .filter(|u| u.thin)
        .take(VALID_PAIRS)
        .map(|u| Leaked {
            email: u.email.clone(),
            password: u.password.clone(),
            valid: true,
        })
        .collect();
    for _ in 0..STALE_PAIRS {
        let u = &users[sim.rng.random_range(0..users.len())];
        list.push(Leaked {
            email: u.email.clone(),
            password: format!("{}-2019", u.password),
            valid: false,
        });
    }
    while list.len() < n {
        list.push(Leaked {
            email: format!("leaked{}@example.org", sim.rng.random::<u32>()),
            password: format!("hunter{}", sim.rng.random::<u16>()),
            valid: false,
        });
    }
    list.truncate(n);
    list.shuffle(&mut sim.rng);
    list
}
