//! Joining the server's events back to the simulator's ground truth (by the `X-Request-Id` it
//! set): the training round's attacks to label, and the measured attempts' risk scores per
//! scenario, with each scenario's ROC AUC and true-positive rate at 1 % false positives.

use std::collections::HashMap;

use crate::domain::risk::model::{roc_auc, tpr_at_fpr};
use crate::events::AuthEvent;
use crate::sim::client::Sim;
use crate::sim::report::Phase;

/// Scenarios that are not attacks: the owners' sign-ins, their typos, the sign-ins that
/// issue the replayed tokens.
const NOT_ATTACKS: [&str; 3] = ["legit", "legit_typo", "token_issue"];

/// The ids of the events the attacks after `from` caused (what the victims' reports and an
/// operator's review would label), in the events' order.
pub(super) fn attack_events<'a>(sim: &Sim, events: &'a [AuthEvent], from: u64) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| {
            e.request_id.as_deref().is_some_and(|rid| {
                sequence(rid) > from
                    && sim
                        .truth
                        .get(rid)
                        .is_some_and(|s| !NOT_ATTACKS.contains(&s.as_str()))
            })
        })
        .map(|e| e.id.as_str())
        .collect()
}

/// The sequence number in a request id `sim-<n>-<random>` (0 when it is not one of ours).
fn sequence(request_id: &str) -> u64 {
    request_id
        .split('-')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Adds the scores of the attempts after `measured_from` to `report`, per scenario, and each
/// scenario's AUC and TPR (against the legitimate attempts) unless it was scored directly.
pub(super) fn score(sim: &Sim, events: &[AuthEvent], measured_from: u64, report: &mut Phase) {
    let mut by_scenario: HashMap<String, Vec<f64>> = HashMap::new();
    for e in events {
        let Some(rid) = e.request_id.as_deref() else {
            continue;
        };
        if sequence(rid) <= measured_from {
            continue;
        }
        if let (Some(s), Some(r)) = (sim.truth.get(rid), &e.risk) {
            by_scenario.entry(s.clone()).or_default().push(r.score);
            if s.starts_with("takeover") && e.kind == crate::events::EventKind::LoginSucceeded {
                report.let_in.push(format!(
                    "{s}: {} score {} features {:?}",
                    e.ip.as_deref().unwrap_or_default(),
                    r.score,
                    r.features.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    let legit_scores = by_scenario.get("legit").cloned().unwrap_or_default();
    for (name, s) in &mut report.scenarios {
        if s.roc_auc.is_some() {
            // Scored directly (the token replay scenario).
            continue;
        }
        let attack = by_scenario.get(name).cloned().unwrap_or_default();
        let scored: Vec<(f64, bool)> = legit_scores
            .iter()
            .map(|x| (*x, false))
            .chain(attack.iter().map(|x| (*x, true)))
            .collect();
        s.roc_auc = roc_auc(&scored);
        s.tpr_at_1pct_fpr = tpr_at_fpr(&scored, 0.01);
    }
    report.scores.extend(by_scenario);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sequence_of_a_request_id() {
        assert_eq!(sequence("sim-42-123456"), 42);
        assert_eq!(sequence("0b3f-uuid"), 0);
        assert_eq!(sequence(""), 0);
    }
}
