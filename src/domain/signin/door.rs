//! Step 1 of a sign-in, before any database work: the per-instance rate limits on the network
//! (and its IPv6 /48), and, for an attempt that will check a password, room in the hash queue.

use crate::domain::accounts::password::Lane;
use crate::domain::context::RequestContext;
use crate::domain::signin::LoginService;
use crate::domain::signin::error::SignInError;
use crate::domain::throttle::{Door, ThrottleKey};
use crate::events::{AuthEvent, EventKind};

/// How long a sign-in the full hash queue refuses is held before its `503`. Such a refusal
/// costs the server next to nothing, so a flooding client that sends its next attempt as soon
/// as it has an answer would otherwise send thousands a second and take the cores from token
/// traffic (docs/benchmarks.md, "A fast flood"); held, each of its connections sends at most
/// two a second. A person refused waits half a second more for the same answer.
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

impl LoginService {
    /// Step 1: the per-instance rate limits on the network (and its IPv6 /48); then, for an
    /// attempt that will check a password (`hashes`: `Some(true)` with a valid device cookie,
    /// whose account is not known yet), `Busy` when the hash queue has no room for its lane,
    /// held `BUSY_PAUSE`, before the attempt costs the database anything: a flood that fills
    /// the queue is answered `503` at the price of a rate-limit check (the same answer for
    /// every name, so it tells nothing about accounts; a refused attempt checks no password,
    /// so leaving it uncounted gives an attacker nothing).
    pub(super) async fn throttle(
        &self,
        ctx: &RequestContext,
        username: &str,
        hashes: Option<bool>,
    ) -> Result<(), SignInError> {
        let keys = ThrottleKey::nets(ctx.ip);
        let Err((key, retry_after)) = self.throttle.check(Door::Login, &keys) else {
            let lane = |device| if device { Lane::Known } else { Lane::Ordinary };
            let hasher = self.accounts.hasher();
            let Some(Err(busy)) = hashes.map(|d| hasher.check_room(lane(d))) else {
                return Ok(());
            };
            tokio::time::sleep(BUSY_PAUSE).await;
            return Err(busy.into());
        };
        let event = AuthEvent::new(EventKind::RateLimited, ctx, self.clock.now())
            .username(username)
            .decision(key.dimension());
        self.events.record(event).await?;
        metrics::counter!("authd_logins_total", "outcome" => "rate_limited").increment(1);
        Err(SignInError::RateLimited { retry_after })
    }
}
