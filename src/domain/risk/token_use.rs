//! Scoring a token's use: the context a token is used in against its owner's sign-in history.
//! The token itself is the possession factor, so only the per-user (Freeman) part answers, plus
//! a flag for a token seen from many networks.

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::risk::features::Velocity;
use crate::domain::risk::model;
use crate::domain::risk::profile::Profile;
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
        let profile: Option<Profile> = self
            .store
            .profile(user_id)
            .await?
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
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
                unknown_account: false,
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

/// Networks each token was seen from (per instance, bounded, forgotten after a day).
#[derive(Debug, Default)]
pub(super) struct TokenNetworks {
    seen: std::sync::Mutex<std::collections::HashMap<String, (Vec<String>, i64)>>,
}

impl TokenNetworks {
    const MAX_TOKENS: usize = 100_000;
    const MAX_NETWORKS: usize = 16;

    /// Records `prefix` for `token_id`; returns how many distinct networks it has been seen
    /// from, and whether `prefix` is new for it.
    pub(super) fn seen(&self, token_id: &str, prefix: &str, now: i64) -> (usize, bool) {
        let mut map = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::MAX_TOKENS && !map.contains_key(token_id) {
            map.retain(|_, (_, last)| now - *last < 86_400);
            if map.len() >= Self::MAX_TOKENS {
                map.clear();
            }
        }
        let entry = map
            .entry(token_id.to_owned())
            .or_insert_with(|| (Vec::new(), now));
        entry.1 = now;
        let new = !entry.0.iter().any(|p| p == prefix);
        if new && entry.0.len() < Self::MAX_NETWORKS {
            entry.0.push(prefix.to_owned());
        }
        (entry.0.len(), new)
    }
}
