//! The held-out split that measures a candidate model against the one in use
//! (`model::train`, `training::train_and_store`): every fifth id by hash, stable across runs,
//! an id's examples together, and both classes whenever they can be.

use crate::domain::risk::model::Example;

/// A hash of an example's id: stable across runs.
fn id_hash(id: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(id.as_bytes()).into()
}

/// Whether an example is held out (every fifth, by a hash of its id).
fn held_out(id: &str) -> bool {
    id_hash(id)[0].is_multiple_of(5)
}

/// The held-out examples and the ones to fit on. Examples of one id (a sign-in and the
/// synthetic attackers made from it) stay together. A held-out set without one of the classes
/// measures nothing (`no_worse` needs both, so no candidate could ever replace the model): then
/// the id of that class whose hash comes first is held out too, when the class has another.
pub fn split(examples: &[Example]) -> (Vec<&Example>, Vec<&Example>) {
    let (mut test, mut fit): (Vec<&Example>, Vec<&Example>) =
        examples.iter().partition(|e| held_out(&e.id));
    for class in [true, false] {
        let in_test = test.iter().any(|e| e.attack == class);
        if in_test || fit.iter().filter(|e| e.attack == class).count() < 2 {
            continue;
        }
        let Some(id) = fit
            .iter()
            .filter(|e| e.attack == class)
            .map(|e| e.id.as_str())
            .min_by_key(|id| id_hash(id))
            .map(str::to_owned)
        else {
            continue;
        };
        let (moved, kept): (Vec<&Example>, Vec<&Example>) =
            fit.into_iter().partition(|e| e.id == id);
        test.extend(moved);
        fit = kept;
    }
    (test, fit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::risk::features::FEATURES;

    #[test]
    fn the_held_out_set_holds_both_classes_and_keeps_an_id_together() {
        let ex = |id: &str, attack: bool| Example {
            x: [0.0; FEATURES],
            attack,
            id: id.to_owned(),
            weight: 1.0,
            synthetic: attack,
        };
        // Ids none of which the hash holds out: the split still holds out one of each class.
        let ids: Vec<String> = (0..200)
            .map(|i| format!("s{i}"))
            .filter(|id| !held_out(id))
            .take(6)
            .collect();
        let mut examples = Vec::new();
        for id in &ids {
            // A sign-in and the three attackers made from it share its id.
            examples.push(ex(id, false));
            for _ in 0..3 {
                examples.push(ex(id, true));
            }
        }
        let (test, fit) = split(&examples);
        assert!(test.iter().any(|e| e.attack) && test.iter().any(|e| !e.attack));
        assert_eq!(test.len(), 4, "one id, with its attackers");
        assert_eq!(fit.len(), examples.len() - 4);
        assert!(test.iter().all(|e| e.id == test[0].id));
        assert!(fit.iter().all(|e| e.id != test[0].id));
        // The same examples split the same way again.
        assert_eq!(split(&examples).0.len(), 4);
        // A class with a single id is left to fitting (held out, nothing would be fitted).
        let lone = [ex("a", false), ex("b", true), ex("c", true)];
        let (test, _) = split(&lone);
        assert!(test.iter().all(|e| e.attack));
    }
}
