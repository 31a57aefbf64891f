//! Group commit of events: one writer task per process takes every event waiting to be stored
//! and writes them in one transaction, then answers each request. A request still answers only
//! after its own event is committed (durable before the answer, as with a direct insert); what
//! changes is that concurrent requests share one transaction instead of queueing for the
//! database's write lock one by one. On SQLite that queue was the token endpoint's tail:
//! writers that find the lock taken sleep in SQLite's busy handler (1, 2, 5, … 100 ms steps),
//! so eight concurrent `POST /token` had a p99 of 70–80 ms (docs/benchmarks.md). On PostgreSQL
//! a batch is one WAL flush instead of one per event.
//!
//! A batch the database refuses is retried event by event, so one bad event fails only its
//! own request. Without a tokio runtime (a plain unit test), or if the writer is gone, events
//! are inserted directly.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::events::AuthEvent;
use crate::storage::EventStore;
use crate::storage::error::StoreError;

/// Most events written in one transaction.
pub const MAX_BATCH: usize = 256;
/// Events that may wait for the writer; beyond it a request waits to enqueue (back-pressure).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// The handle requests enqueue their events on. Cheap to clone.
#[derive(Clone)]
pub struct GroupWriter {
    store: Arc<dyn EventStore>,
    queue: Option<mpsc::Sender<(AuthEvent, Reply)>>,
}

impl GroupWriter {
    /// Starts the writer task on the current tokio runtime (none: direct inserts).
    pub fn start(store: Arc<dyn EventStore>) -> Self {
        let queue = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let (tx, rx) = mpsc::channel(QUEUE);
            rt.spawn(write_batches(store.clone(), rx));
            tx
        });
        Self { store, queue }
    }

    /// Stores `event`: committed when this returns `Ok`.
    pub async fn insert(&self, event: &AuthEvent) -> Result<(), StoreError> {
        if let Some(queue) = &self.queue {
            let (reply, answer) = oneshot::channel();
            if queue.send((event.clone(), reply)).await.is_ok() {
                match answer.await {
                    Ok(result) => return result,
                    // The writer went away with the event unanswered (its runtime is stopping):
                    // write it here; a conflict on its id means the writer had stored it.
                    Err(_) => {
                        return match self.store.insert(event).await {
                            Err(StoreError::Conflict { .. }) => Ok(()),
                            other => other,
                        };
                    }
                }
            }
        }
        self.store.insert(event).await
    }
}

/// The writer: waits for an event, takes every other one already waiting (up to `MAX_BATCH`),
/// writes them together and answers each.
async fn write_batches(store: Arc<dyn EventStore>, mut rx: mpsc::Receiver<(AuthEvent, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        #[allow(clippy::cast_precision_loss)] // at most MAX_BATCH
        metrics::histogram!("authd_event_batch_size").record(batch.len() as f64);
        let events: Vec<&AuthEvent> = batch.iter().map(|(e, _)| e).collect();
        let together = match events.as_slice() {
            [one] => store.insert(one).await,
            many => store.insert_many(many).await,
        };
        drop(events);
        match together {
            Ok(()) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(()));
                }
            }
            // One event: its own error.
            Err(e) if batch.len() == 1 => {
                if let Some((_, reply)) = batch.pop() {
                    let _ = reply.send(Err(e));
                }
            }
            // Nothing of the batch was committed: each on its own, with its own answer.
            Err(_) => {
                for (event, reply) in batch.drain(..) {
                    let _ = reply.send(store.insert(&event).await);
                }
            }
        }
    }
}
