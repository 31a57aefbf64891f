//! The event sink: stores each event (durably, before the request answers) and emits it through
//! `tracing` under the target `authd::event`. Events never carry secrets: the types above have
//! no field for a password, token, code or cookie.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{Quota, RateLimiter};

use crate::events::group_commit::GroupWriter;
use crate::events::spool::Spool;
use crate::events::{AuthEvent, EventKind};
use crate::storage::EventStore;
use crate::storage::error::StoreError;

/// Refusal events (`rate_limited`, `token_rejected`) stored per client address and minute;
/// beyond it they are only counted (`authd_events_suppressed_total`), so a flood of refused
/// requests cannot become a flood of database writes.
pub const REFUSALS_PER_IP_PER_MINUTE: u32 = 30;

type Budget = RateLimiter<
    std::net::IpAddr,
    governor::state::keyed::DefaultKeyedStateStore<std::net::IpAddr>,
    crate::domain::clock::RateClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// Stores and traces auth events. Cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    store: Arc<dyn EventStore>,
    writer: GroupWriter,
    refusals: Arc<Budget>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

impl EventSink {
    /// A sink writing to `store`; the refusal budget runs on `clock` (the injected one), so a
    /// slow machine cannot refill it between two requests of a test.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn crate::domain::clock::Clock>) -> Self {
        Self::with_spool(store, clock, None)
    }

    /// [`EventSink::new`], with `token_issued` and `risk_evaluated` events going through
    /// `spool` (`spool.rs`).
    pub fn with_spool(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn crate::domain::clock::Clock>,
        spool: Option<Arc<Spool>>,
    ) -> Self {
        let n = NonZeroU32::new(REFUSALS_PER_IP_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            writer: GroupWriter::start_with(store.clone(), spool),
            store,
            refusals: Arc::new(RateLimiter::new(
                Quota::per_minute(n),
                governor::state::keyed::DefaultKeyedStateStore::default(),
                crate::domain::clock::RateClock(clock),
            )),
        }
    }

    /// Whether a refusal event from this address still fits its budget (other kinds always do).
    fn within_budget(&self, event: &AuthEvent) -> bool {
        if !matches!(
            event.kind,
            EventKind::RateLimited | EventKind::TokenRejected
        ) {
            return true;
        }
        // The network (IPv6 /64), as the rate limits key it.
        let Some(ip) = event
            .ip
            .as_deref()
            .and_then(|i| i.parse::<std::net::IpAddr>().ok())
            .map(|ip| match ip {
                std::net::IpAddr::V6(v6) => {
                    let s = v6.segments();
                    std::net::IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
                }
                v4 => v4,
            })
        else {
            return true;
        };
        if self.refusals.check_key(&ip).is_ok() {
            return true;
        }
        metrics::counter!("authd_events_suppressed_total", "kind" => event.kind.as_str())
            .increment(1);
        false
    }

    /// Drops idle addresses from the refusal budget (memory stays bounded); run periodically.
    pub fn evict_idle(&self) -> usize {
        self.refusals.retain_recent();
        self.refusals.shrink_to_fit();
        self.refusals.len()
    }

    /// Records an event: written to the database first, then traced.
    ///
    /// Written through the group writer (`group_commit.rs`): the call returns once the transaction
    /// holding the event has committed (a `token_issued` or `risk_evaluated` on SQLite: once it is
    /// in the spool, `spool.rs`), so an event that was traced is always also stored. Refusal events
    /// beyond their per-address budget are counted, not stored.
    pub async fn record(&self, event: AuthEvent) -> Result<(), StoreError> {
        if !self.within_budget(&event) {
            return Ok(());
        }
        self.writer.insert(&event).await?;
        trace(&event);
        Ok(())
    }

    /// Records an event and, in the same transaction, queues the mail it caused (when a limit
    /// did not suppress it): after a crash either both exist or neither does.
    pub async fn record_with_mail(
        &self,
        event: AuthEvent,
        mail: Option<crate::storage::mail::MailRecord>,
    ) -> Result<(), StoreError> {
        match mail {
            Some(m) => {
                self.store.insert_with_mail(&event, &m).await?;
                // Its own transaction of one: counted as the group commit counts a batch, so
                // no metric tells an event with a mail from one without (a reset asked for a
                // real address from one for an unknown address, a new registration from a
                // taken one).
                metrics::histogram!("authd_event_batch_size").record(1.0);
            }
            None => self.writer.insert(&event).await?,
        }
        trace(&event);
        Ok(())
    }
}

/// Emits an event through `tracing` (for events stored by another path, e.g. with a counter
/// clear in one statement).
pub(crate) fn trace(event: &AuthEvent) {
    {
        // Every field INTERFACE.md names ("Auth events"), as stored; `event_id` is the name
        // this line gave the id before it carried them all (kept for what reads it).
        tracing::info!(
            target: "authd::event",
            id = %event.id,
            event_id = %event.id,
            ts = %event
                .ts
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            kind = event.kind.as_str(),
            ip = event.ip.as_deref().unwrap_or(""),
            user_agent = event.user_agent.as_deref().unwrap_or(""),
            user_id = event.user_id.as_deref().unwrap_or(""),
            username = event.username.as_deref().unwrap_or(""),
            client_id = event.client_id.as_deref().unwrap_or(""),
            risk = %event
                .risk
                .as_ref()
                .map(|r| serde_json::json!({ "score": r.score, "reasons": r.reasons }).to_string())
                .unwrap_or_default(),
            decision = event.decision.as_deref().unwrap_or(""),
            request_id = event.request_id.as_deref().unwrap_or(""),
            "auth event"
        );
    }
}

impl EventSink {
    /// Lists stored events, newest first (spooled ones included: see `spool.rs`).
    pub async fn list(
        &self,
        filter: &crate::events::EventFilter,
    ) -> Result<Vec<AuthEvent>, StoreError> {
        self.settle_for(filter).await;
        self.store.list(filter).await
    }

    /// One page of stored events, newest first, with the next page's cursor.
    pub async fn page(
        &self,
        filter: &crate::events::EventFilter,
    ) -> Result<crate::events::EventPage, StoreError> {
        self.settle_for(filter).await;
        self.store.page(filter).await
    }

    /// Waits for the spool before a read that could show a spooled event (a read of one other
    /// kind, e.g. a sign-in's `login_failed`, never waits).
    async fn settle_for(&self, filter: &crate::events::EventFilter) {
        if filter.kind.is_none_or(crate::events::spool::spooled) {
            self.writer.settled().await;
        }
    }

    /// At a graceful stop: every spooled event into the database and the spool's segment
    /// deleted (nothing left for the next start).
    pub async fn close(&self) {
        self.writer.settled().await;
        self.writer.close_spool();
    }
}
