//! Legitimate traffic: users signing in at their habitual hours, mostly from home on their own
//! browsers, now and then travelling, on a new device, with cleared cookies or a typo.
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (every user has a device)"
)]

use rand::RngExt;

use crate::sim::client::Sim;
use crate::sim::population::{User, new_device};
use crate::sim::report::Outcome;

/// One simulated day: three sign-in slots eight hours apart (the same hours every day, as
/// habits go), most users signing in at each; returns the outcomes when `measure`.
pub(super) async fn legit_round(
    sim: &mut Sim,
    users: &mut [User],
    measure: bool,
) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    // Morning, midday, evening: move the clock to each slot of the next day.
    for _slot in 0..3 {
        // Eight hours on, give or take forty minutes: habits, not a timetable.
        let jitter = sim.rng.random_range(-2400..2400);
        sim.pass_time(8 * 3600 + jitter);
        for u in users.iter_mut() {
            if !sim.rng.random_bool(0.8) {
                continue;
            }
            let outcome = sign_in_as_usual(sim, u).await?;
            if measure {
                out.push(outcome);
            }
        }
    }
    Ok(out)
}

/// One user's sign-in in a slot; keeps the device cookie the server sets.
async fn sign_in_as_usual(sim: &mut Sim, u: &mut User) -> anyhow::Result<Outcome> {
    // Which browser: one of theirs; rarely a new one, or cleared cookies.
    let roll: f64 = sim.rng.random();
    // Where: home mostly; sometimes travelling (a new network, same devices), and now
    // and then a new device on a new network (a work laptop, a borrowed phone).
    let travelling = sim.rng.random_bool(0.03) || roll < 0.005;
    let ip = if travelling {
        trip_address(sim, u)
    } else {
        sim.ip(u.home)
    };
    let idx = sim.rng.random_range(0..u.devices.len());
    let device = if roll < 0.015 {
        let d = new_device(&mut sim.rng);
        u.devices.push(d.clone());
        d
    } else if roll < 0.025 {
        u.devices[idx].cookie = None;
        u.devices[idx].clone()
    } else {
        u.devices[idx].clone()
    };
    let device_at = u
        .devices
        .iter()
        .position(|d| d.agent == device.agent && d.cookie == device.cookie);
    // A typo now and then, then the right password.
    if sim.rng.random_bool(0.03) {
        let wrong = format!("{}x", u.password);
        sim.sign_in("legit_typo", &ip, &device, &u.email, &wrong)
            .await?;
    }
    let (email, password) = (u.email.clone(), u.password.clone());
    let (outcome, cookie) = sim
        .sign_in("legit", &ip, &device, &email, &password)
        .await?;
    if let Some(i) = device_at
        && let Some(d) = u.devices.get_mut(i)
    {
        d.cookie = cookie;
    }
    Ok(outcome)
}

/// An address away from home: half the trips stay in the country, half go abroad.
fn trip_address(sim: &mut Sim, u: &User) -> String {
    let net = match (sim.geo.clone(), &u.country) {
        (Some(g), Some(c)) if sim.rng.random_bool(0.5) => g.pick_net(c, &mut sim.rng),
        (Some(g), Some(c)) => {
            let abroad = g.pick_other_country(c, &mut sim.rng);
            g.pick_net(&abroad, &mut sim.rng)
        }
        _ => [
            100,
            sim.rng.random_range(1..250u8),
            sim.rng.random_range(1..250u8),
        ],
    };
    sim.ip(net)
}
