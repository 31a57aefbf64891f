//! Legitimate traffic: users signing in at their habitual hours, mostly from home on their own
//! browsers, now and then on a new device at home, on a new network with their own device, while
//! travelling abroad, with cleared cookies, rarely on a new device on a new network, sometimes
//! after a typo. Each sign-in is tagged with its behaviour, so friction is reported per
//! behaviour; a sweep makes every regular user show each behaviour the targets name once.
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (every user has a device)"
)]

use rand::RngExt;

use crate::sim::client::Sim;
use crate::sim::population::{User, abroad, in_country, new_device};
use crate::sim::report::Outcome;

/// What a legitimate user does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Behaviour {
    /// At home on one of their browsers.
    Home,
    /// At home on one of their browsers, its cookies cleared.
    HomeClearedCookies,
    /// A new browser on the home network.
    NewDeviceAtHome,
    /// A new network in their country with one of their browsers.
    NewNetworkKnownDevice,
    /// Abroad with one of their browsers.
    Travel,
    /// A new browser on a new network (a borrowed laptop on a trip): the owner's one context
    /// that looks like a takeover, and the friction the targets allow.
    NewDeviceNewNetwork,
}

impl Behaviour {
    /// The behaviours the targets name, each shown once per regular user by `sweep`.
    pub(super) const SWEPT: [Self; 4] = [
        Self::Home,
        Self::NewDeviceAtHome,
        Self::NewNetworkKnownDevice,
        Self::Travel,
    ];

    /// Its name in the report.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::HomeClearedCookies => "home_cleared_cookies",
            Self::NewDeviceAtHome => "new_device_at_home",
            Self::NewNetworkKnownDevice => "new_network_known_device",
            Self::Travel => "travel",
            Self::NewDeviceNewNetwork => "new_device_new_network",
        }
    }

    /// A behaviour drawn with everyday frequencies: 94 % at home, 1.5 % a new browser at home,
    /// 1 % cleared cookies, 1.5 % a new network in the country, 1.5 % abroad, 0.5 % a new
    /// browser on a new network.
    pub(super) fn draw(sim: &mut Sim) -> Self {
        let roll: f64 = sim.rng.random();
        match roll {
            r if r < 0.005 => Self::NewDeviceNewNetwork,
            r if r < 0.02 => Self::NewDeviceAtHome,
            r if r < 0.03 => Self::HomeClearedCookies,
            r if r < 0.045 => Self::NewNetworkKnownDevice,
            r if r < 0.06 => Self::Travel,
            _ => Self::Home,
        }
    }
}

/// One simulated day: three sign-in slots eight hours apart (the same hours every day, as
/// habits go), most regular users signing in at each with an everyday behaviour.
pub(super) async fn legit_round(
    sim: &mut Sim,
    users: &mut [User],
) -> anyhow::Result<Vec<(Behaviour, Outcome)>> {
    let mut out = Vec::new();
    for _slot in 0..3 {
        next_slot(sim);
        for u in users.iter_mut().filter(|u| !u.thin) {
            if !sim.rng.random_bool(0.8) {
                continue;
            }
            let b = Behaviour::draw(sim);
            out.push((b, sign_in_as(sim, u, b).await?));
        }
    }
    Ok(out)
}

/// Four slots in which every regular user shows one of the behaviours the targets name.
pub(super) async fn sweep(
    sim: &mut Sim,
    users: &mut [User],
) -> anyhow::Result<Vec<(Behaviour, Outcome)>> {
    let mut out = Vec::new();
    for b in Behaviour::SWEPT {
        next_slot(sim);
        for u in users.iter_mut().filter(|u| !u.thin) {
            out.push((b, sign_in_as(sim, u, b).await?));
        }
    }
    Ok(out)
}

/// The thin owners' two sign-ins: at home, on their one browser, a slot apart.
pub(super) async fn thin_history(sim: &mut Sim, users: &mut [User]) -> anyhow::Result<()> {
    for _ in 0..2 {
        next_slot(sim);
        for u in users.iter_mut().filter(|u| u.thin) {
            sign_in_as(sim, u, Behaviour::Home).await?;
        }
    }
    Ok(())
}

/// Eight hours on, give or take forty minutes: habits, not a timetable.
fn next_slot(sim: &mut Sim) {
    let jitter = sim.rng.random_range(-2400..2400);
    sim.pass_time(8 * 3600 + jitter);
}

/// One sign-in of `u` behaving as `b`; keeps the device cookie the server sets. A typo now
/// and then first, then the right password.
pub(super) async fn sign_in_as(
    sim: &mut Sim,
    u: &mut User,
    b: Behaviour,
) -> anyhow::Result<Outcome> {
    let net = match b {
        Behaviour::Home | Behaviour::HomeClearedCookies | Behaviour::NewDeviceAtHome => u.home,
        Behaviour::NewNetworkKnownDevice => in_country(sim, u),
        Behaviour::Travel => abroad(sim, u),
        Behaviour::NewDeviceNewNetwork if sim.rng.random_bool(0.5) => in_country(sim, u),
        Behaviour::NewDeviceNewNetwork => abroad(sim, u),
    };
    if !u.nets.contains(&net) {
        u.nets.push(net);
    }
    let ip = sim.ip(net);
    let idx = match b {
        Behaviour::NewDeviceAtHome | Behaviour::NewDeviceNewNetwork => {
            u.devices.push(new_device(&mut sim.rng));
            u.devices.len() - 1
        }
        _ => sim.rng.random_range(0..u.devices.len()),
    };
    if b == Behaviour::HomeClearedCookies {
        u.devices[idx].cookie = None;
    }
    let device = u.devices[idx].clone();
    if sim.rng.random_bool(0.03) {
        let wrong = format!("{}x", u.password);
        sim.sign_in("legit_typo", &ip, &device, &u.email, &wrong)
            .await?;
    }
    let (email, password) = (u.email.clone(), u.password.clone());
    let (outcome, cookie) = sim
        .sign_in("legit", &ip, &device, &email, &password)
        .await?;
    if let Some(d) = u.devices.get_mut(idx) {
        d.cookie = cookie;
    }
    if outcome.stopped() {
        let met = sim.last_challenge.clone().unwrap_or_else(|| "block".into());
        let entry = format!("{}: {met}, got in: {}", b.name(), outcome.got_in());
        sim.friction_log.push(entry);
    }
    Ok(outcome)
}
