//! The attack scenarios through the sign-in form: targeted takeovers with the right password
//! (naive: another country, network and browser; VPN: the victim's country and a new browser;
//! targeted: the victim's country and exact user agent), brute force and password spraying. The
//! credential-stuffing wave is in `stuffing.rs`.
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (at least one user, device, agent)"
)]

use rand::RngExt;

use crate::domain::risk::features::parse_agent;
use crate::sim::client::Sim;
use crate::sim::population::{AGENTS, Device, User, abroad, fresh_net, in_country};
use crate::sim::report::{Outcome, Phase, summarise};

/// The targeted-takeover scenarios.
pub(super) const TAKEOVERS: [&str; 3] = [
    "takeover_new_country",
    "takeover_vpn_new_browser",
    "takeover_exact_agent",
];

/// The three takeovers with the right password: `naive` attempts of the first, `n` of the
/// others, each on a random victim (thin owners included).
pub(super) async fn takeovers(
    sim: &mut Sim,
    users: &[User],
    naive: usize,
    n: usize,
    phase: &mut Phase,
) -> anyhow::Result<()> {
    for kind in TAKEOVERS {
        let count = if kind == TAKEOVERS[0] { naive } else { n };
        let mut outcomes = Vec::new();
        // Outcomes of the takeovers that came from a /24 their victim had signed in from.
        let mut theirs = Vec::new();
        for _ in 0..count {
            let victim = &users[sim.rng.random_range(0..users.len())];
            let (net, device) = takeover_origin(sim, victim, kind);
            let ip = sim.ip(net);
            let (email, password) = (victim.email.clone(), victim.password.clone());
            let (o, _) = sim.sign_in(kind, &ip, &device, &email, &password).await?;
            outcomes.push(o);
            if victim.nets.contains(&net) {
                theirs.push(o);
            }
            // Attackers come now and then, not all at once.
            let pause = sim.rng.random_range(30..600);
            sim.pass_time(pause);
        }
        let mut report = summarise(&outcomes, true);
        report.from_victims_network = theirs.len();
        report.from_victims_network_let_in =
            theirs.iter().filter(|o| **o == Outcome::Allowed).count();
        phase.scenarios.insert(kind.into(), report);
    }
    Ok(())
}

/// Where a takeover of `victim` comes from (its /24), and with which browser.
fn takeover_origin(sim: &mut Sim, victim: &User, kind: &str) -> ([u8; 3], Device) {
    let theirs: Vec<&str> = victim.devices.iter().map(|d| d.agent).collect();
    let agent = if kind == "takeover_exact_agent" {
        theirs[sim.rng.random_range(0..theirs.len())]
    } else {
        let others: Vec<&str> = AGENTS
            .iter()
            .copied()
            .filter(|a| {
                let fam = parse_agent(a).browser;
                theirs.iter().all(|t| parse_agent(t).browser != fam)
            })
            .collect();
        if others.is_empty() {
            AGENTS[0]
        } else {
            others[sim.rng.random_range(0..others.len())]
        }
    };
    // With GeoIP: the first scenario comes from another country, the others from the
    // victim's own (a VPN exit or a local network); without it, any new network.
    let net = if kind == TAKEOVERS[0] {
        abroad(sim, victim)
    } else {
        in_country(sim, victim)
    };
    let device = Device {
        agent,
        cookie: None,
    };
    (net, device)
}

/// Brute force: one account, one address, many passwords. Returns the attacker's browser,
/// which the campaigns after it use too.
pub(super) async fn brute_force(
    sim: &mut Sim,
    users: &[User],
    phase: &mut Phase,
) -> anyhow::Result<Device> {
    let name = "brute_force";
    let victim = users[sim.rng.random_range(0..users.len())].clone();
    let net = fresh_net(sim);
    let ip = sim.ip(net);
    let device = Device {
        agent: AGENTS[1],
        cookie: None,
    };
    let mut outcomes = Vec::new();
    for i in 0..50 {
        let (o, _) = sim
            .sign_in(name, &ip, &device, &victim.email, &format!("guess{i}"))
            .await?;
        outcomes.push(o);
        sim.pass_time(2);
    }
    phase
        .scenarios
        .insert(name.into(), summarise(&outcomes, false));
    Ok(device)
}

/// Password spraying: one common password over many accounts, from many networks.
pub(super) async fn password_spraying(
    sim: &mut Sim,
    users: &[User],
    device: &Device,
    phase: &mut Phase,
) -> anyhow::Result<()> {
    let name = "password_spraying";
    let mut outcomes = Vec::new();
    let sprayed = format!("Winter{}!", 2026 + sim.rng.random_range(0..100u32));
    for i in 0..50 {
        let net = fresh_net(sim);
        let ip = sim.ip(net);
        let email = users[i % users.len()].email.clone();
        let (o, _) = sim.sign_in(name, &ip, device, &email, &sprayed).await?;
        outcomes.push(o);
        sim.pass_time(5);
    }
    phase
        .scenarios
        .insert(name.into(), summarise(&outcomes, false));
    Ok(())
}
