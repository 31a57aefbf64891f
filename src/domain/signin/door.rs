//! Step 1 of a sign-in, before any database work: the per-instance rate limits on the network
//! (and its IPv6 /48), and, for an attempt that will check a password, room in the hash queue.

use crate::domain::accounts::password::{HashError, Lane};
use crate::domain::context::RequestContext;
use crate::domain::signin::LoginService;
use crate::domain::signin::devices::DeviceClaim;
use crate::domain::signin::error::SignInError;
use crate::domain::throttle::{DevicePair, Door, ThrottleKey};
use crate::events::{AuthEvent, EventKind};

/// How long a sign-in the full hash queue refuses is held before its `503`. Such a refusal
/// costs the server next to nothing, so a flooding client that sends its next attempt as soon
/// as it has an answer would otherwise send thousands a second and take the cores from token
/// traffic (docs/benchmarks.md, "A fast flood"); held, each of its connections sends at most
/// two a second. A person refused waits half a second more for the same answer.
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// `result`, and when it is a refusal for a full queue (`Busy`), not before `BUSY_PAUSE` has
/// passed since `started` (the check began), counted as a `busy` sign-in outcome. For the
/// refusal that comes after the database work: an attempt with a valid device cookie of
/// another account (or an older epoch) may pass step 1 on the known lane's room (within its
/// account's budget) and is refused only in the ordinary lane; without the hold, those
/// attempts would get their answers at once. A refusal after waiting
/// `AUTHD_HASH_MAX_WAIT_MS` is not held longer.
pub(super) async fn held<T>(
    started: tokio::time::Instant,
    result: Result<T, HashError>,
) -> Result<T, HashError> {
    if matches!(result, Err(HashError::Busy { .. })) {
        metrics::counter!("authd_logins_total", "outcome" => "busy").increment(1);
        tokio::time::sleep_until(started + BUSY_PAUSE).await;
    }
    result
}

impl LoginService {
    /// Step 1: the per-instance rate limits on the network (and its IPv6 /48); then, for an
    /// attempt that will check a password (`hashes`), room in the hash queue for its lane.
    /// The lane is `Known` for a correctly signed device cookie with the typed, normalised
    /// name (`device`; whether the cookie is the named account's is known only after the
    /// lookup, and `held` covers a later refusal) when the lookup last found that pair to
    /// belong together (`Throttle::settle_pair`), or else within the budget of the cookie's
    /// account (`AUTHD_RATE_LOGIN_PER_DEVICE`, `Throttle::device_within`): a flood that reuses
    /// cookies of its own account on other names meets the full queue here like any other
    /// after that many attempts a minute. Without room: `Busy`, held `BUSY_PAUSE` and counted
    /// as a `busy` outcome, before the attempt costs the database anything: a flood that fills
    /// the queue is answered `503` at the price of a rate-limit check (the same answer for
    /// every name, so it tells nothing about accounts; a refused attempt checks no password,
    /// so leaving it uncounted gives an attacker nothing). Answers the cookie's pair with the
    /// name, for the lookup to settle.
    pub(super) async fn throttle(
        &self,
        ctx: &RequestContext,
        username: &str,
        device: Option<(&DeviceClaim, &str)>,
        hashes: bool,
    ) -> Result<Option<DevicePair>, SignInError> {
        let pair = device.map(|(d, name)| (d, self.throttle.device_pair(&d.device, name)));
        // A browser the lookup found to be the named account's answers to its own network's
        // budget only, not to its IPv6 /48's aggregate: a flood from other /64s of the owner's
        // site (a mobile carrier's pool) must not answer the owner `429`. So does a cookie
        // that names the typed name itself (`Devices::names`), which every instance can tell
        // before the lookup (another instance, a restart, a pair pushed out of the set), within
        // the budget of the account and epoch it was issued for (`device_within`): an attacker's
        // own cookie names only the attacker's own account, and one that names the owner (a
        // sign-in with a stolen password, an epoch the owner's reset has since moved on) buys
        // at most that budget a minute past the /48's.
        let confirmed = pair.is_some_and(|(_, p)| self.throttle.pair_confirmed(p));
        let within = |(d, p): (&DeviceClaim, DevicePair)| {
            self.throttle.device_within(&d.owner_at_epoch(), p)
        };
        // Only a cookie that names the typed name spends its budget before the rate check.
        let names = |(d, name): (&DeviceClaim, &str)| self.protection.devices.names(d, name);
        let named = !confirmed && device.is_some_and(names) && pair.is_some_and(within);
        let keys = if confirmed || named {
            vec![ThrottleKey::net(ctx.ip)]
        } else {
            ThrottleKey::nets(ctx.ip)
        };
        let Err((key, retry_after)) = self.throttle.check(Door::Login, &keys) else {
            let known = confirmed || named || pair.is_some_and(within);
            let started = tokio::time::Instant::now();
            let room = hashes.then(|| self.accounts.hasher().check_room(Lane::known_if(known)));
            if let Some(Err(busy)) = room {
                return Ok(held(started, Err(busy)).await?);
            }
            return Ok(pair.map(|(_, p)| p));
        };
        let event = AuthEvent::new(EventKind::RateLimited, ctx, self.clock.now())
            .username(username)
            .decision(key.dimension());
        self.events.record(event).await?;
        metrics::counter!("authd_logins_total", "outcome" => "rate_limited").increment(1);
        Err(SignInError::RateLimited { retry_after })
    }
}

#[cfg(test)]
mod tests {
    use super::{BUSY_PAUSE, held};
    use crate::domain::accounts::password::HashError;
    use tokio::time::{Duration, Instant};

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_held_from_the_check_s_start_and_an_answer_is_not() {
        let started = Instant::now();
        assert!(held(started, Ok::<_, HashError>(true)).await.unwrap());
        assert_eq!(Instant::now(), started, "an answer is not held");
        let refused = held::<bool>(started, Err(HashError::Busy { retry_after: 1 })).await;
        assert!(matches!(refused, Err(HashError::Busy { retry_after: 1 })));
        assert_eq!(Instant::now(), started + BUSY_PAUSE);
        // A refusal that came after a longer wait (the queue's own) is not held further.
        let late = Instant::now() - Duration::from_secs(1);
        let _ = held::<bool>(late, Err(HashError::Busy { retry_after: 1 })).await;
        assert_eq!(Instant::now(), started + BUSY_PAUSE);
    }
}
