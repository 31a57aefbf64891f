//! The attack scenarios through the sign-in form: targeted takeovers with the right password
//! (from another country, through a VPN on a new browser, with the victim's exact agent), brute
//! force, credential stuffing and password spraying.
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (at least one user, device, agent)"
)]

use rand::RngExt;

use crate::domain::risk::features::parse_agent;
use crate::sim::client::Sim;
use crate::sim::population::{AGENTS, Device, User, fresh_net};
use crate::sim::report::{Report, summarise};

/// The targeted-takeover scenarios.
const TAKEOVERS: [&str; 3] = [
    "takeover_new_country",
    "takeover_vpn_new_browser",
    "takeover_exact_agent",
];

/// Every attack scenario; `prefix` names the training round's scenarios apart.
pub(super) async fn attacks(
    sim: &mut Sim,
    users: &[User],
    n: usize,
    report: &mut Report,
    prefix: &str,
) -> anyhow::Result<()> {
    for kind in TAKEOVERS {
        let name = format!("{prefix}{kind}");
        let mut outcomes = Vec::new();
        for _ in 0..n {
            let victim = &users[sim.rng.random_range(0..users.len())];
            let (ip, device) = takeover_origin(sim, victim, kind);
            let (email, password) = (victim.email.clone(), victim.password.clone());
            let (o, _) = sim.sign_in(&name, &ip, &device, &email, &password).await?;
            outcomes.push(o);
        }
        report.scenarios.insert(name, summarise(&outcomes, true));
    }
    let device = brute_force(sim, users, report, prefix).await?;
    credential_stuffing(sim, users, &device, report, prefix).await?;
    password_spraying(sim, users, &device, report, prefix).await
}

/// Where a takeover of `victim` comes from, and with which browser.
fn takeover_origin(sim: &mut Sim, victim: &User, kind: &str) -> (String, Device) {
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
    let net = match (sim.geo.clone(), &victim.country) {
        (Some(g), Some(c)) if kind == "takeover_new_country" => {
            let other = g.pick_other_country(c, &mut sim.rng);
            g.pick_net(&other, &mut sim.rng)
        }
        (Some(g), Some(c)) => loop {
            let n = g.pick_net(c, &mut sim.rng);
            if n != victim.home {
                break n;
            }
        },
        _ => fresh_net(sim),
    };
    let ip = sim.ip(net);
    let device = Device {
        agent,
        cookie: None,
    };
    (ip, device)
}

/// Brute force: one account, one address, many passwords. Returns the attacker's browser,
/// which the campaigns after it use too.
async fn brute_force(
    sim: &mut Sim,
    users: &[User],
    report: &mut Report,
    prefix: &str,
) -> anyhow::Result<Device> {
    let name = format!("{prefix}brute_force");
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
            .sign_in(&name, &ip, &device, &victim.email, &format!("guess{i}"))
            .await?;
        outcomes.push(o);
    }
    report.scenarios.insert(name, summarise(&outcomes, false));
    Ok(device)
}

/// Credential stuffing: a leaked list, mostly unknown or stale pairs, a few valid ones, from a
/// handful of addresses.
async fn credential_stuffing(
    sim: &mut Sim,
    users: &[User],
    device: &Device,
    report: &mut Report,
    prefix: &str,
) -> anyhow::Result<()> {
    let name = format!("{prefix}credential_stuffing");
    let nets: Vec<[u8; 3]> = (0..3).map(|_| fresh_net(sim)).collect();
    let mut outcomes = Vec::new();
    for i in 0..50 {
        let net = nets[i % nets.len()];
        let ip = sim.ip(net);
        let (email, password) = if i % 10 == 7 {
            let v = &users[sim.rng.random_range(0..users.len())];
            (v.email.clone(), v.password.clone())
        } else {
            (
                format!("leaked{}@example.org", sim.rng.random::<u32>()),
                format!("hunter{}", sim.rng.random::<u16>()),
            )
        };
        let (o, _) = sim.sign_in(&name, &ip, device, &email, &password).await?;
        outcomes.push(o);
    }
    report.scenarios.insert(name, summarise(&outcomes, false));
    Ok(())
}

/// Password spraying: one common password over many accounts, from many networks.
async fn password_spraying(
    sim: &mut Sim,
    users: &[User],
    device: &Device,
    report: &mut Report,
    prefix: &str,
) -> anyhow::Result<()> {
    let name = format!("{prefix}password_spraying");
    let mut outcomes = Vec::new();
    let sprayed = format!("Winter{}!", 2026 + sim.rng.random_range(0..100u32));
    for i in 0..50 {
        let net = fresh_net(sim);
        let ip = sim.ip(net);
        let email = users[i % users.len()].email.clone();
        let (o, _) = sim.sign_in(&name, &ip, device, &email, &sprayed).await?;
        outcomes.push(o);
    }
    report.scenarios.insert(name, summarise(&outcomes, false));
    Ok(())
}
