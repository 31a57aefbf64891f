//! Scoring a token's use: the context a token is used in against its owner's sign-in history.
//! The token itself is the possession factor, so only the per-user (Freeman) part answers, plus
//! a flag for a token seen from many networks (remembered per instance, least recently seen
//! forgotten first).

use std::collections::{BTreeMap, HashMap};

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::risk::features::Velocity;
use crate::domain::risk::model;
use crate::domain::risk::score::{Inputs, score};
use crate::domain::risk::service::RiskService;
use crate::domain::risk::{Verdict, features};

impl RiskService {
    /// Scores a token use: the context a token is used in (`ctx`: the caller's own, or the one
    /// a resource server reports) against the owner's sign-in history, which holds the context
    /// the session and its tokens were issued in. The token itself is the possession factor,
    /// so device-cookie and velocity features stay neutral; a token seen from three or more
    /// networks (per instance, within its lifetime) is flagged on top of the model.
    pub async fn assess_token_use(
        &self,
        user_id: &str,
        token_id: &str,
        ctx: &RequestContext,
        always: bool,
    ) -> Result<Option<(f64, Vec<String>, Verdict)>, Unexpected> {
        let now = self.clock.now();
        let observed = self.observe(ctx, now);
        // A token used again from a network it was already seen from (on this instance) was
        // scored then: unless asked (`always`), no profile read on the hot path.
        let (networks, new_network) =
            self.token_networks
                .seen(token_id, &observed.prefix, observed.at);
        if !always && !new_network {
            return Ok(None);
        }
        let profile = self.profile_of(user_id).await?;
        // The sign-in model weighs novelty against the device cookie and the velocity
        // counters, none of which a token use has: the per-user (Freeman) part alone answers.
        let model = self.model();
        let (_, _, x) = score(
            &model,
            &Inputs {
                observed: &observed,
                profile: profile.as_ref(),
                velocity: Velocity::default(),
                known_device: true,
            },
        );
        // Novelty over the categorical features (hour excluded: a token is used whenever the
        // app runs), plus impossible travel since the owner's last sign-in; four nats (a new
        // network for a user with ~50 sign-ins, or two new values for one with ~7) is the
        // midpoint.
        let mut s = model::sigmoid(x.iter().take(7).sum::<f64>() + 2.5 * x[16] - 4.0);
        // Reasons: the categorical features that were new for this user (hour excluded: a
        // token is used whenever the app runs).
        let mut reasons: Vec<String> = x
            .iter()
            .take(7)
            .enumerate()
            .filter(|(_, v)| **v > 1.0)
            .map(|(i, _)| features::reason_text(i).to_owned())
            .collect();
        if networks >= 3 {
            s = s.max(0.9);
            reasons.insert(0, format!("the token was used from {networks} networks"));
        }
        if reasons.is_empty() {
            reasons.push("a context this account has used before".into());
        }
        Ok(Some((s, reasons, self.verdict(s))))
    }
}

/// Networks each token was seen from (per instance, bounded, forgotten after a day). When it
/// is full, the token seen least recently is forgotten, one at a time: a flood of new tokens
/// pushes out only the oldest entries, never the memory of a token in use (which would let a
/// replayed token start again from one network).
#[derive(Debug)]
pub(super) struct TokenNetworks {
    capacity: usize,
    inner: std::sync::Mutex<Tracked>,
}

/// The tracker's state: per token its networks and when it was last seen, and the tokens in
/// the order they were last seen.
#[derive(Debug, Default)]
struct Tracked {
    by_token: HashMap<String, Seen>,
    /// (last seen, tie-breaker) → token: the oldest first.
    by_age: BTreeMap<(i64, u64), String>,
    next: u64,
}

#[derive(Debug)]
struct Seen {
    networks: Vec<String>,
    age: (i64, u64),
}

impl Default for TokenNetworks {
    fn default() -> Self {
        Self::with_capacity(Self::MAX_TOKENS)
    }
}

impl TokenNetworks {
    const MAX_TOKENS: usize = 100_000;
    const MAX_NETWORKS: usize = 16;
    /// A token not seen for a day is forgotten.
    const FORGET_AFTER: i64 = 86_400;

    /// A tracker holding at most `capacity` tokens.
    fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: std::sync::Mutex::new(Tracked::default()),
        }
    }

    /// Records `prefix` for `token_id`; returns how many distinct networks it has been seen
    /// from, and whether `prefix` is new for it.
    pub(super) fn seen(&self, token_id: &str, prefix: &str, now: i64) -> (usize, bool) {
        let mut t = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        t.forget_older_than(now - Self::FORGET_AFTER);
        let age = (now, t.next);
        t.next = t.next.wrapping_add(1);
        let mut entry = match t.by_token.remove(token_id) {
            Some(old) => {
                t.by_age.remove(&old.age);
                old
            }
            None => {
                while t.by_token.len() >= self.capacity && t.forget_oldest() {}
                Seen {
                    networks: Vec::new(),
                    age,
                }
            }
        };
        entry.age = age;
        let new = !entry.networks.iter().any(|p| p == prefix);
        if new && entry.networks.len() < Self::MAX_NETWORKS {
            entry.networks.push(prefix.to_owned());
        }
        let count = entry.networks.len();
        t.by_age.insert(age, token_id.to_owned());
        t.by_token.insert(token_id.to_owned(), entry);
        (count, new)
    }
}

impl Tracked {
    /// Forgets the token seen least recently; `false` when there is none.
    fn forget_oldest(&mut self) -> bool {
        match self.by_age.pop_first() {
            Some((_, token)) => {
                self.by_token.remove(&token);
                true
            }
            None => false,
        }
    }

    /// Forgets every token last seen at or before `cutoff`.
    fn forget_older_than(&mut self, cutoff: i64) {
        while self
            .by_age
            .first_key_value()
            .is_some_and(|((last, _), _)| *last <= cutoff)
        {
            self.forget_oldest();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_tracker_forgets_the_oldest_token_not_all_of_them() {
        let t = TokenNetworks::with_capacity(3);
        assert_eq!(t.seen("a", "n1", 100), (1, true));
        assert_eq!(t.seen("a", "n2", 101), (2, true));
        assert_eq!(t.seen("b", "n1", 102), (1, true));
        assert_eq!(t.seen("c", "n1", 103), (1, true));
        assert_eq!(t.seen("b", "n2", 104), (2, true));
        // Full: a fourth token pushes out the one seen least recently (a), only that one.
        assert_eq!(t.seen("d", "n1", 105), (1, true));
        assert_eq!(t.seen("b", "n3", 106), (3, true), "b keeps its networks");
        assert_eq!(t.seen("c", "n1", 107), (1, false), "c is still known");
        assert_eq!(t.seen("d", "n2", 108), (2, true));
        assert_eq!(t.seen("a", "n3", 109), (1, true), "a was forgotten");
        // Memory stays bounded under a flood of new tokens, and a token in use survives it.
        assert_eq!(t.seen("e", "n1", 110), (1, true));
        for i in 0..1_000 {
            t.seen(&format!("flood-{i}"), "n9", 111 + i);
            t.seen("e", "n2", 111 + i);
        }
        assert_eq!(t.inner.lock().unwrap().by_token.len(), 3);
        assert_eq!(t.inner.lock().unwrap().by_age.len(), 3);
        assert_eq!(t.seen("e", "n1", 2_000), (2, false), "still remembered");
    }

    #[test]
    fn a_token_unseen_for_a_day_is_forgotten() {
        let t = TokenNetworks::default();
        t.seen("x", "n1", 0);
        assert_eq!(t.seen("x", "n2", 86_399), (2, true));
        assert_eq!(t.seen("x", "n3", 86_399 + 86_400), (1, true));
    }
}
