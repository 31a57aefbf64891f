//! Every background loop the server runs, one function each: expired-session cleanup, mail
//! delivery, idle rate-limit key eviction, signing-key reload, risk-model reload, scheduled
//! training, the wave watch, the admin overview's event rollup, retention, the metrics
//! recorder's upkeep and SQLite's background WAL copy. `Jobs::start` spawns them; dropping the
//! handle (or `stop`) ends them.

use std::time::Duration;

use tokio::task::JoinHandle;
use tower_sessions::ExpiredDeletion;

use crate::app::state::AppState;
use crate::domain::risk::training::train_if_due;
use crate::storage::Store;
use crate::storage::sessions::AnySessionStore;

/// How often expired sessions are deleted.
const SESSION_CLEANUP: Duration = Duration::from_secs(60);
/// How often idle rate-limit keys are evicted.
const KEY_EVICTION: Duration = Duration::from_secs(60);
/// How often the admin overview's hourly counts catch up.
const EVENT_ROLLUP: Duration = Duration::from_secs(60);
/// How often retention prunes.
const RETENTION: Duration = Duration::from_secs(3600);
/// How often another instance's key rotation and model training are picked up.
const RELOAD: Duration = Duration::from_secs(30);
/// The shortest pause between two wave refreshes (when failures pile up faster).
const WAVE_GAP: Duration = Duration::from_millis(250);

/// The running jobs; aborted when stopped or dropped.
#[derive(Debug)]
pub struct Jobs {
    handles: Vec<JoinHandle<()>>,
}

impl Jobs {
    /// Spawns every job for `state` (the scheduled trainer only when `AUTHD_RISK_TRAIN_SECS`
    /// is above 0).
    pub fn start(state: &AppState, store: &Store) -> Self {
        let mut handles = vec![
            tokio::spawn(session_cleanup(store.sessions.clone())),
            tokio::spawn(mail_delivery(state.clone())),
            tokio::spawn(rate_key_eviction(state.clone())),
            tokio::spawn(key_reload(state.clone())),
            tokio::spawn(model_reload(state.clone())),
            tokio::spawn(wave_watch(state.clone())),
            tokio::spawn(retention(state.clone(), store.clone())),
            tokio::spawn(event_rollup(state.clone())),
            tokio::spawn(metrics_upkeep(state.metrics.clone())),
        ];
        if let Some(wal) = store.wal.clone() {
            handles.push(tokio::spawn(wal.run()));
        }
        if state.config.risk_train_secs > 0 {
            handles.push(tokio::spawn(scheduled_training(state.clone())));
        }
        Self { handles }
    }

    /// Ends every job.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

/// Deletes expired sessions from the session store every `SESSION_CLEANUP`. A failed round
/// (the database restarting, a locked SQLite file) is logged and the next one runs as usual:
/// tower-sessions' own `continuously_delete_expired` ends at the first error, and the table
/// would then grow until a restart.
async fn session_cleanup(sessions: AnySessionStore) {
    every_round(SESSION_CLEANUP, || sessions.delete_expired()).await;
}

/// Runs `round` every `every`, for ever; a failed round is logged, not the end.
async fn every_round<F, R, E>(every: Duration, mut round: F)
where
    F: FnMut() -> R,
    R: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = round().await {
            tracing::warn!(error = %e, "expired-session cleanup failed; trying again later");
        }
    }
}

/// Folds the histogram samples the metrics recorder holds into their buckets
/// (`telemetry::METRICS_UPKEEP`), so they do not pile up between scrapes, or forever when
/// nothing scrapes.
async fn metrics_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    let every = crate::app::telemetry::METRICS_UPKEEP;
    crate::app::telemetry::metrics_upkeep(every, move || handle.run_upkeep()).await;
}

/// Delivers the mail queue every `AUTHD_MAIL_POLL_MS`.
async fn mail_delivery(state: AppState) {
    let mut tick = tokio::time::interval(state.config.mail_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.mail.run_once().await;
    }
}

/// Forgets rate-limit keys that have been idle long enough to be full again.
async fn rate_key_eviction(state: AppState) {
    let mut tick = tokio::time::interval(KEY_EVICTION);
    loop {
        tick.tick().await;
        let left = state.throttle.evict_idle() + state.events.evict_idle();
        metrics::gauge!("authd_rate_limit_keys").set(left as f64);
    }
}

/// Reloads the signing keys (another instance may have rotated them).
async fn key_reload(state: AppState) {
    let keys = state.oauth.keys().clone();
    let mut tick = tokio::time::interval(RELOAD);
    loop {
        tick.tick().await;
        if let Err(e) = keys.reload().await {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
    }
}

/// Prunes what nothing reads any more (`domain/retention.rs`), hourly, the first run at start.
async fn retention(state: AppState, store: Store) {
    let mut tick = tokio::time::interval(RETENTION);
    loop {
        tick.tick().await;
        let keep = crate::domain::retention::Keep {
            event_days: state.config.event_retention_days,
            session_idle_secs: state.session_policy.longest().0.whole_seconds(),
            failure_window_secs: state.config.protection.window_secs,
        };
        match crate::domain::retention::prune(&store.retention, &state.clock, keep).await {
            Ok(pruned) => {
                let total: u64 = pruned.iter().map(|(_, n)| n).sum();
                if total > 0 {
                    tracing::info!(rows = total, ?pruned, "retention pruned old rows");
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention pruning failed"),
        }
    }
}

/// Adds new events to the admin overview's hourly counts (`AdminConsole::roll_up_events`).
async fn event_rollup(state: AppState) {
    let mut tick = tokio::time::interval(EVENT_ROLLUP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.admin_console.roll_up_events().await {
            tracing::warn!(error = %e, "rolling up event counts failed");
        }
    }
}

/// Loads a newer risk model when one was stored (trained here, elsewhere, or by the CLI).
async fn model_reload(state: AppState) {
    let risk = state.risk.clone();
    let mut tick = tokio::time::interval(RELOAD);
    loop {
        tick.tick().await;
        match risk.reload().await {
            Ok(true) => tracing::info!(version = risk.model().version, "risk model loaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "reloading the risk model failed"),
        }
    }
}

/// Refreshes the shared wave state every `AUTHD_WAVE_REFRESH_SECS`, or sooner when this
/// instance's failures pile up (at most four times a second): adds this instance's tallies,
/// reads the combined signals, starts or extends a wave.
async fn wave_watch(state: AppState) {
    let waves = state.waves.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(waves.settings().refresh_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = waves.woken() => {}
        }
        if let Err(e) = waves.refresh().await {
            tracing::warn!(error = %e, "refreshing the wave state failed");
        }
        tokio::time::sleep(WAVE_GAP).await;
    }
}

/// Fits and stores a new model every `AUTHD_RISK_TRAIN_SECS` (the first after one period and
/// a random part of a tenth of it, `training_offset`). Off the request path: fitting runs on
/// the blocking pool.
async fn scheduled_training(state: AppState) {
    let every = Duration::from_secs(state.config.risk_train_secs);
    let window = time::Duration::seconds(state.config.protection.window_secs);
    let mut draw = [0u8; 2];
    state.random.fill(&mut draw);
    let first = tokio::time::Instant::now() + every + training_offset(every, draw);
    let mut tick = tokio::time::interval_at(first, every);
    let period = time::Duration::seconds_f64(every.as_secs_f64());
    loop {
        tick.tick().await;
        match train_if_due(
            &state.risk_store,
            &state.clock,
            window,
            state.config.risk.challenge_at,
            period,
        )
        .await
        {
            Ok(None) => tracing::debug!("a recent model stands; scheduled risk training waits"),
            Ok(Some(r)) => tracing::info!(
                version = r.version,
                promoted = r.promoted,
                examples = r.examples,
                message = %r.message,
                "risk model training ran"
            ),
            Err(e) => tracing::info!(error = %e, "scheduled risk training skipped"),
        }
    }
}

/// How much later than a whole period an instance trains first: a random part (`draw`) of a
/// tenth of the period. Instances started together (a deploy) would otherwise tick together,
/// each find no recent model and each store one (`train_if_due`); apart, the later ones find
/// the first one's.
fn training_offset(every: Duration, draw: [u8; 2]) -> Duration {
    let part = f64::from(u16::from_le_bytes(draw)) / f64::from(u16::MAX);
    every.mul_f64(part / 10.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Training starts within a tenth of a period after the period, spread by the draw.
    #[test]
    fn instances_train_first_at_spread_times_within_a_tenth_of_the_period() {
        let day = Duration::from_secs(86_400);
        assert_eq!(training_offset(day, [0, 0]), Duration::ZERO);
        assert_eq!(training_offset(day, [255, 255]), Duration::from_secs(8_640));
        let (a, b) = (training_offset(day, [1, 0]), training_offset(day, [0, 128]));
        assert!(a < b && b < Duration::from_secs(8_640), "{a:?} {b:?}");
    }

    /// A failed round of the expired-session cleanup is followed by the next one.
    #[tokio::test(start_paused = true)]
    async fn the_session_cleanup_goes_on_after_a_failed_round() {
        let rounds = Arc::new(AtomicU32::new(0));
        let counted = rounds.clone();
        let job = tokio::spawn(every_round(Duration::from_secs(60), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err("database restarting")
                } else {
                    Ok(())
                }
            }
        }));
        tokio::time::sleep(Duration::from_secs(150)).await;
        job.abort();
        assert_eq!(rounds.load(Ordering::SeqCst), 3, "at 0 s, 60 s and 120 s");
    }
}
