//! One measured phase: two days of everyday legitimate traffic, the sweep of the behaviours
//! the targets name, the three takeovers, brute force, the stuffing wave mixed into normal
//! traffic, password spraying and (with a replay client) token replay; then, with an admin
//! client, the phase's scores and `attack_detected` events read back. Run once before any
//! training and once after.

use std::collections::BTreeMap;

use crate::sim::SimulateArgs;
use crate::sim::admin::{admin_token, newest_events, scored_events};
use crate::sim::client::Sim;
use crate::sim::legit::{self, Behaviour};
use crate::sim::population::User;
use crate::sim::report::{Friction, Outcome, Phase, friction};
use crate::sim::{attacks, replay, scoring, stuffing};

/// An hour between campaigns: each meets its own counters' window and the last wave's end.
const PAUSE: i64 = 3600;

/// Runs one phase; `model_version` is the model the server uses in it.
pub(super) async fn run(
    sim: &mut Sim,
    users: &mut [User],
    args: &SimulateArgs,
    model_version: i64,
) -> anyhow::Result<Phase> {
    let mut phase = Phase {
        model_version,
        ..Phase::default()
    };
    let from = sim.next_request;
    let (challenged, got_in) = (sim.owners_challenged, sim.owners_got_in);
    let logged = sim.friction_log.len();
    let mut legit = Vec::new();
    for _ in 0..2 {
        legit.extend(legit::legit_round(sim, users).await?);
    }
    legit.extend(legit::sweep(sim, users).await?);
    attacks::takeovers(sim, users, args.naive, args.attacks, &mut phase).await?;
    sim.pass_time(PAUSE);
    let device = attacks::brute_force(sim, users, &mut phase).await?;
    sim.pass_time(PAUSE);
    let before_wave = sim.friction_log.len();
    let during = stuffing::stuffing_wave(sim, users, args.stuffing_addresses, &mut phase).await?;
    for entry in sim.friction_log.iter_mut().skip(before_wave) {
        entry.insert_str(0, "during_stuffing_wave ");
    }
    sim.pass_time(PAUSE);
    attacks::password_spraying(sim, users, &device, &mut phase).await?;
    sim.pass_time(PAUSE);
    record_legit(&mut phase, &legit, &during);
    phase.owners_challenged = sim.owners_challenged - challenged;
    phase.owners_got_in = sim.owners_got_in - got_in;
    phase.friction = sim.friction_log.iter().skip(logged).cloned().collect();
    if let (Some(client), Some(_)) = (&args.replay_client, args.admin_client.as_deref()) {
        replay::token_replay(sim, users, args, client, &mut phase).await?;
    }
    if let Some(pair) = args.admin_client.as_deref() {
        let token = admin_token(sim, pair).await?;
        let events = scored_events(sim, &token).await?;
        scoring::score(sim, &events, from, &mut phase);
        for e in newest_events(sim, &token, "attack_detected").await? {
            if sim.seen_waves.insert(e.id.clone()) {
                phase.waves_detected.push(e.decision.unwrap_or_default());
            }
        }
    }
    Ok(phase)
}

/// Friction overall, per behaviour, and during the stuffing wave.
fn record_legit(
    phase: &mut Phase,
    legit: &[(Behaviour, Outcome)],
    during: &[(Behaviour, Outcome)],
) {
    let mut by: BTreeMap<Behaviour, Vec<Outcome>> = BTreeMap::new();
    for (b, o) in legit.iter().chain(during) {
        by.entry(*b).or_default().push(*o);
    }
    let all: Vec<Outcome> = legit.iter().chain(during).map(|(_, o)| *o).collect();
    phase.legit_attempts = all.len();
    phase.legit_friction = friction(&all);
    phase.legit = by
        .into_iter()
        .map(|(b, o)| (b.name().to_owned(), Friction::of(&o)))
        .collect();
    let wave: Vec<Outcome> = during.iter().map(|(_, o)| *o).collect();
    phase
        .legit
        .insert("during_stuffing_wave".into(), Friction::of(&wave));
}
