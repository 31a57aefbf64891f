//! The event sink: stores each event (durably, before the request answers) and emits it through
//! `tracing` under the target `authd::event`. Events never carry secrets: the types above have
//! no field for a password, token, code or cookie.

use std::sync::Arc;

use crate::events::AuthEvent;
use crate::storage::EventStore;
use crate::storage::error::StoreError;

/// Stores and traces auth events. Cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    store: Arc<dyn EventStore>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

impl EventSink {
    /// A sink writing to `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store }
    }

    /// Records an event: written to the database first, then traced.
    ///
    /// Writing synchronously means a graceful shutdown has nothing left to flush, and an event
    /// that was traced is always also stored.
    pub async fn record(&self, event: AuthEvent) -> Result<(), StoreError> {
        self.store.insert(&event).await?;
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
            Some(m) => self.store.insert_with_mail(&event, &m).await?,
            None => self.store.insert(&event).await?,
        }
        trace(&event);
        Ok(())
    }
}

/// Emits an event through `tracing` (for events stored by another path, e.g. with a counter
/// clear in one statement).
pub(crate) fn trace(event: &AuthEvent) {
    {
        tracing::info!(
            target: "authd::event",
            event_id = %event.id,
            kind = event.kind.as_str(),
            ip = event.ip.as_deref().unwrap_or(""),
            user_id = event.user_id.as_deref().unwrap_or(""),
            client_id = event.client_id.as_deref().unwrap_or(""),
            decision = event.decision.as_deref().unwrap_or(""),
            request_id = event.request_id.as_deref().unwrap_or(""),
            "auth event"
        );
    }
}

impl EventSink {
    /// Lists stored events, newest first.
    pub async fn list(
        &self,
        filter: &crate::events::EventFilter,
    ) -> Result<Vec<AuthEvent>, StoreError> {
        self.store.list(filter).await
    }
}
