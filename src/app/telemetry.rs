//! Logging (pretty, plain or JSON, `RUST_LOG`-style filter with `authd=info,tower_http=info` by
//! default; colour codes only when stderr is a terminal, so log files and journald never get
//! them) and the Prometheus recorder with its upkeep.
//!
//! The `metrics` facade has one process-wide recorder by design, so the handle is kept in a
//! `OnceLock` here: the one deliberate global, shared by every app built in this process.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global tracing subscriber (a second call is a no-op).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("authd=info,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    let terminal = std::io::stderr().is_terminal();
    let result = match format {
        LogFormat::Auto | LogFormat::Pretty | LogFormat::Plain => {
            let colour = terminal && format != LogFormat::Plain;
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(colour)
                        .with_writer(std::io::stderr),
                )
                .try_init()
        }
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already installed (tests build many apps in one process): keep the first.
    drop(result);
}

/// The process-wide Prometheus handle, installing the recorder on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours renders nothing
            // useful, which is logged rather than fatal.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

/// How often the recorder folds the histogram samples it holds into their buckets.
///
/// The recorder keeps every sample recorded since the last fold (`run_upkeep`) or scrape, eight
/// bytes each, and every request records one (`authd_http_request_duration_seconds`): without
/// this job, a server nobody scrapes grew by about 1.8 MiB a second under a `/healthz` load, 19
/// to 90 MiB in 40 s (docs/benchmarks.md, "Histogram samples nobody scraped"). A fold costs
/// about as much as the samples it folds, so it comes often, in small pieces, rather than
/// stalling a request thread once in a while on a large one.
pub const METRICS_UPKEEP: Duration = Duration::from_millis(250);

/// Runs `upkeep` (the recorder's `run_upkeep`) every `every`, forever: a job (`app/jobs.rs`).
pub async fn metrics_upkeep(every: Duration, upkeep: impl Fn()) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        upkeep();
    }
}

/// A log line that repeats under load, written at most once per `every` seconds with the count
/// of those held back since the last one. A sign-in flood sheds requests for as long as it lasts
/// (`503` + `Retry-After`, counted by `authd_hash_jobs_refused_total` and
/// `authd_hash_jobs_given_up_total`): two error lines each (526 in a 35-s flood of 32 clients,
/// docs/benchmarks.md) buried the log and cost the request threads synchronous writes to
/// stderr. What is held back after the last line goes out with the next occurrence's line,
/// whenever that comes; the counters are the complete record.
#[derive(Debug, Default)]
pub struct LogThrottle {
    /// Second of the last line written; 0 before the first.
    last: std::sync::atomic::AtomicI64,
    /// Occurrences since then.
    held: std::sync::atomic::AtomicU64,
}

impl LogThrottle {
    /// No line written yet.
    pub const fn new() -> Self {
        Self {
            last: std::sync::atomic::AtomicI64::new(0),
            held: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A new occurrence at `now` (seconds on any clock, from 1): `Some(n)` when a line is due,
    /// `n` being the occurrences it stands for (this one included); `None` when it is held back.
    pub fn occurred(&self, now: i64, every: i64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        self.held.fetch_add(1, Relaxed);
        let last = self.last.load(Relaxed);
        if last != 0 && now < last + every {
            return None;
        }
        // One thread wins the turn; the others count toward the next line.
        if self
            .last
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_err()
        {
            return None;
        }
        Some(self.held.swap(0, Relaxed).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::{LogThrottle, metrics_upkeep};

    #[tokio::test(start_paused = true)]
    async fn the_upkeep_runs_at_once_and_then_every_period() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let job = tokio::spawn(metrics_upkeep(
            std::time::Duration::from_millis(250),
            move || {
                counted.fetch_add(1, SeqCst);
            },
        ));
        tokio::time::sleep(std::time::Duration::from_millis(1_010)).await;
        // At 0, 250, 500, 750 and 1000 ms.
        assert_eq!(runs.load(SeqCst), 5);
        job.abort();
    }

    #[test]
    fn a_repeating_line_is_written_once_per_period_with_what_it_held_back() {
        let t = LogThrottle::default();
        assert_eq!(t.occurred(1_000, 10), Some(1), "the first is written");
        for s in 1_001..1_010 {
            assert_eq!(t.occurred(s, 10), None, "held back at {s}");
        }
        assert_eq!(
            t.occurred(1_010, 10),
            Some(10),
            "nine held back and this one"
        );
        assert_eq!(t.occurred(1_011, 10), None);
        assert_eq!(t.occurred(1_500, 10), Some(2));
    }
}
