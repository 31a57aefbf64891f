//! Client authentication at the token, introspection and revocation endpoints, with a limit on
//! failed attempts per (client id, network). The per-client request budget is spent only after
//! a client authenticated (see `grants::token`), so a flood of wrong secrets for `client_id=X`
//! from one network gets that network limited and leaves the real X alone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::clients::{Client, ClientCredentials};
use crate::domain::clock::unix_ms;
use crate::domain::context::RequestContext;
use crate::domain::oauth::OAuthService;
use crate::domain::oauth::error::{OAuthCode, OAuthError};
use crate::domain::throttle::net_of;
use crate::events::EventKind;
use crate::events::decision::Decision;

/// A (client id as presented, network) pair.
type PairKey = (String, IpAddr);

/// A client authentication under way: its pair, and when it began.
#[derive(Debug)]
pub(crate) struct ClientAttempt {
    key: PairKey,
    now_ms: i64,
}

/// Failed client authentications per (client id, network): a GCRA bucket per pair, spent only
/// by failures and read before every attempt. Per instance, on the injected clock.
#[derive(Debug)]
pub(crate) struct AuthFailures {
    /// Milliseconds one failure takes to be forgiven.
    interval_ms: i64,
    /// Failures allowed in a burst.
    burst: i64,
    /// Per pair, the theoretical arrival time (unix milliseconds) of the next failure.
    tats: Mutex<HashMap<PairKey, i64>>,
}

impl AuthFailures {
    /// Pairs tracked at most; beyond it, pairs whose budget is full again are forgotten, and
    /// while every tracked pair is still limited, new pairs go untracked (memory stays bounded
    /// under a flood from many networks; each of them still has a 256-bit secret to guess).
    const MAX_PAIRS: usize = 100_000;

    /// `per_minute` failures per pair per minute, in a burst of as many.
    pub(crate) fn new(per_minute: u32) -> Self {
        let per_minute = i64::from(per_minute.max(1));
        Self {
            interval_ms: (60_000 / per_minute).max(1),
            burst: per_minute,
            tats: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PairKey, i64>> {
        self.tats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until `key` may try again, if its failures are over the budget at `now_ms`.
    pub(crate) fn retry_after(&self, key: &PairKey, now_ms: i64) -> Option<u64> {
        let tat = *self.lock().get(key)?;
        let over = tat - now_ms - (self.burst - 1) * self.interval_ms;
        (over > 0).then(|| u64::try_from((over + 999) / 1000).unwrap_or(1).max(1))
    }

    /// Counts one failed authentication of `key` at `now_ms`.
    pub(crate) fn record_failure(&self, key: PairKey, now_ms: i64) {
        let mut tats = self.lock();
        if tats.len() >= Self::MAX_PAIRS && !tats.contains_key(&key) {
            tats.retain(|_, tat| *tat > now_ms);
            if tats.len() >= Self::MAX_PAIRS {
                return;
            }
        }
        let tat = tats.entry(key).or_insert(now_ms);
        *tat = (*tat).max(now_ms) + self.interval_ms;
    }

    /// How many pairs are tracked.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl OAuthService {
    /// Authenticates a client (RFC 6749 §2.3), refusing at once (`RateLimited`) a client id and
    /// network whose failures are over the budget, and counting each failure against them.
    pub(crate) async fn authenticate_client(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
    ) -> Result<Client, OAuthError> {
        let attempt = self.client_attempt(ctx, creds).await?;
        self.authenticate_attempt(attempt, creds).await
    }

    /// The second half of `authenticate_client`, for a caller that took the attempt itself
    /// (introspection, which looks at the token in between): checks the credentials and counts
    /// a failure against the attempt's pair.
    pub(crate) async fn authenticate_attempt(
        &self,
        attempt: ClientAttempt,
        creds: &ClientCredentials,
    ) -> Result<Client, OAuthError> {
        let result = self.clients.authenticate(creds).await;
        if let Err(OAuthError::Protocol {
            code: OAuthCode::InvalidClient,
            ..
        }) = &result
        {
            self.client_failed(attempt);
        }
        result
    }

    /// The first half of a client authentication done elsewhere (introspection checks the
    /// secret against a row it reads anyway): refuses at once, as `authenticate_client` does, a
    /// client id and network over their failure budget; else the pair to pass to
    /// `client_failed` if the secret turns out wrong.
    pub(crate) async fn client_attempt(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
    ) -> Result<ClientAttempt, OAuthError> {
        let key = (creds.id.chars().take(128).collect(), net_of(ctx.ip));
        let now_ms = self.now_ms();
        if let Some(retry_after) = self.auth_failures.retry_after(&key, now_ms) {
            let e = self
                .event(EventKind::RateLimited, ctx, &creds.id, None)
                .decision_detail(
                    Decision::RateLimitedClient,
                    "failed client authentications from this network",
                );
            self.events.record(e).await?;
            return Err(OAuthError::RateLimited { retry_after });
        }
        Ok(ClientAttempt { key, now_ms })
    }

    /// Counts a failed client authentication against its (client id, network).
    pub(crate) fn client_failed(&self, attempt: ClientAttempt) {
        self.auth_failures
            .record_failure(attempt.key, attempt.now_ms);
    }

    fn now_ms(&self) -> i64 {
        unix_ms(self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(id: &str, ip: &str) -> PairKey {
        (id.to_owned(), ip.parse().unwrap())
    }

    #[test]
    fn failures_past_the_burst_are_refused_until_forgiven() {
        let f = AuthFailures::new(3);
        let flooder = pair("x", "203.0.113.9");
        let t = 1_000_000;
        for _ in 0..3 {
            assert_eq!(f.retry_after(&flooder, t), None);
            f.record_failure(flooder.clone(), t);
        }
        let wait = f.retry_after(&flooder, t).expect("over the budget");
        assert_eq!(wait, 20, "one failure is forgiven every 20 s at 3 a minute");
        // Another network, and another client id from the same network, are untouched.
        assert_eq!(f.retry_after(&pair("x", "198.51.100.1"), t), None);
        assert_eq!(f.retry_after(&pair("y", "203.0.113.9"), t), None);
        // Forgiven one at a time.
        assert!(f.retry_after(&flooder, t + 19_999).is_some());
        assert_eq!(f.retry_after(&flooder, t + 20_000), None);
        f.record_failure(flooder.clone(), t + 20_000);
        assert!(f.retry_after(&flooder, t + 20_000).is_some());
    }

    #[test]
    fn memory_is_bounded() {
        let f = AuthFailures::new(10);
        let t = 1_000_000;
        for i in 0..AuthFailures::MAX_PAIRS + 10 {
            let ip = IpAddr::from(u32::try_from(i).unwrap().to_be_bytes());
            f.record_failure(("x".into(), ip), t);
        }
        assert_eq!(f.len(), AuthFailures::MAX_PAIRS);
        // Once the old pairs are forgiven, a new one makes room by forgetting them.
        f.record_failure(pair("y", "192.0.2.1"), t + 60_000);
        assert_eq!(f.len(), 1);
    }
}
