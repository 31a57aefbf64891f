//! How fast the hash threads are getting through the queue, measured, so that a check that
//! would wait longer than `max_wait` for a thread is answered `Busy` at once instead of after
//! waiting `max_wait` for nothing: the flood's excess gets its `503` quickly (issue #12).
//!
//! The measure is the queue's own: each job that starts reports how long it waited and how
//! many jobs it waited for (`ahead`: the places held when it was admitted, less the threads);
//! `waited ÷ (ahead + 1)` is one sample of the time a queued place takes to move, averaged
//! with the samples before it. A job given up after `max_wait` reports that wait as well: the
//! pace was at least that slow, so it can only raise the average (`gave_up`). Measured only
//! from the jobs that made it in time, the average would leave out the slowest moments and let
//! in jobs that then wait out the bound. It is what the threads manage on this host now — with the
//! steady thread leaving jobs to the idle-class helpers while OAuth requests come, and with
//! whatever else takes the cores — not what they would manage alone. A job that found a
//! thread free (nothing ahead) and started at once tells nothing about the pace and is not
//! counted; with no sample yet (a quiet pool), nothing is refused on an estimate. The wait
//! bound behind it (`password.rs`, `give_up`) still holds for a job the estimate let in.
//!
//! A measure is only as good as it is recent: once no job has reported for `FRESH_FOR` (the
//! flood is over, or the estimate refused everything that would have measured it), nothing is
//! refused on it until jobs have waited again. So a pace measured under a flood cannot go on
//! refusing a few people who sign in at once after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The weight of the newest sample, in 1/16ths (a quarter: what the average held before
/// counts for less than a tenth after eight more jobs, under a flood a fraction of a second).
const NEW_SAMPLE_SIXTEENTHS: u64 = 4;

/// How long after the last report the measured pace still counts.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// The queue's pace: the average time, in microseconds, for one queued place to move (0 while
/// no job has waited behind another), and when it was last reported.
#[derive(Debug)]
pub(super) struct Pace {
    epoch: Instant,
    per_place_us: AtomicU64,
    /// One more than the milliseconds after `epoch` of the last report (0: none).
    reported_ms: AtomicU64,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            per_place_us: AtomicU64::new(0),
            reported_ms: AtomicU64::new(0),
        }
    }
}

impl Pace {
    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// A job admitted with `ahead` places before it (running or waiting, beyond the threads)
    /// started at `now` after waiting `waited`.
    pub(super) fn started(&self, ahead: u64, waited: Duration, now: Instant) {
        self.report(ahead, waited, now, false);
    }

    /// A job admitted with `ahead` places before it was given up at `now`, not started after
    /// waiting `waited`: a bound, not a measure, so it only raises the average.
    pub(super) fn gave_up(&self, ahead: u64, waited: Duration, now: Instant) {
        self.report(ahead, waited, now, true);
    }

    fn report(&self, ahead: u64, waited: Duration, now: Instant, at_least: bool) {
        if ahead == 0 {
            return;
        }
        let sample = u64::try_from(waited.as_micros() / u128::from(ahead + 1))
            .unwrap_or(u64::MAX)
            .max(1);
        // Lost updates between threads only drop a sample.
        let old = self.per_place_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else if at_least && sample <= old {
            old
        } else {
            (old * (16 - NEW_SAMPLE_SIXTEENTHS) + sample * NEW_SAMPLE_SIXTEENTHS) / 16
        };
        self.per_place_us.store(new.max(1), Ordering::Relaxed);
        self.reported_ms
            .store(self.ms(now).saturating_add(1), Ordering::Relaxed);
    }

    /// How long a job admitted at `now` with `ahead` places before it should wait for a
    /// thread, at the pace measured so far (`None`: nothing measured, or not for `FRESH_FOR`).
    pub(super) fn expected_wait(&self, ahead: u64, now: Instant) -> Option<Duration> {
        let reported = self.reported_ms.load(Ordering::Relaxed);
        let fresh_ms = u64::try_from(FRESH_FOR.as_millis()).unwrap_or(u64::MAX);
        if reported == 0 || self.ms(now).saturating_sub(reported - 1) > fresh_ms {
            return None;
        }
        let per_place = self.per_place_us.load(Ordering::Relaxed);
        (per_place != 0).then(|| Duration::from_micros(per_place.saturating_mul(ahead + 1)))
    }

    /// Whether any job has reported a pace.
    #[cfg(test)]
    pub(super) fn measured(&self) -> bool {
        self.per_place_us.load(Ordering::Relaxed) != 0
    }

    /// Whether a job admitted at `now` with `ahead` places before it should not expect a
    /// thread within `max_wait` (and so is better answered `Busy` at once). Nothing ahead, or
    /// nothing measured lately, never is.
    pub(super) fn too_slow_for(&self, ahead: u64, max_wait: Duration, now: Instant) -> bool {
        ahead > 0 && self.expected_wait(ahead, now).is_some_and(|w| w > max_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn nothing_is_refused_before_a_job_has_waited_behind_another() {
        let (pace, t) = (Pace::default(), Instant::now());
        assert_eq!(pace.expected_wait(50, t), None);
        assert!(!pace.too_slow_for(1_000, MS(1), t));
        // A job that started at once, however long it took, says nothing of the pace.
        pace.started(0, MS(5_000), t);
        assert!(!pace.too_slow_for(1_000, MS(1), t));
    }

    #[test]
    fn the_expected_wait_follows_the_measured_pace() {
        let (pace, t) = (Pace::default(), Instant::now());
        // Waited 300 ms behind two places (three moves): 100 ms a place.
        pace.started(2, MS(300), t);
        assert_eq!(pace.expected_wait(9, t), Some(MS(1_000)));
        assert!(
            !pace.too_slow_for(9, MS(1_000), t),
            "exactly the bound is let in"
        );
        assert!(pace.too_slow_for(10, MS(1_000), t));
        // With nothing ahead a job is never refused on an estimate.
        assert!(!pace.too_slow_for(0, MS(1), t));
    }

    #[test]
    fn a_faster_pace_lets_more_in_within_a_few_jobs() {
        let (pace, t) = (Pace::default(), Instant::now());
        pace.started(1, MS(400), t); // 200 ms a place: 10 ahead expect 2.2 s
        assert!(pace.too_slow_for(10, MS(1_000), t));
        for _ in 0..12 {
            pace.started(3, MS(20), t); // 5 ms a place
        }
        let w = pace.expected_wait(10, t).unwrap();
        assert!(w < MS(200), "{w:?}");
        assert!(!pace.too_slow_for(10, MS(1_000), t));
        // And a slower one refuses again.
        for _ in 0..12 {
            pace.started(3, MS(2_000), t); // 500 ms a place
        }
        assert!(pace.too_slow_for(2, MS(1_000), t));
    }

    #[test]
    fn a_job_given_up_only_raises_the_pace() {
        let (pace, t) = (Pace::default(), Instant::now());
        pace.started(1, MS(400), t); // 200 ms a place
        // Gave up after 1 s behind 19 places: at least 50 ms a place, which says nothing new.
        pace.gave_up(19, MS(1_000), t);
        assert_eq!(pace.expected_wait(0, t), Some(MS(200)));
        // Gave up after 1 s behind one place: at least 500 ms a place, which raises it.
        pace.gave_up(1, MS(1_000), t);
        assert!(pace.expected_wait(0, t).unwrap() > MS(200));
        // From nothing measured, a bound is the first measure.
        let fresh = Pace::default();
        fresh.gave_up(1, MS(1_000), t);
        assert_eq!(fresh.expected_wait(0, t), Some(MS(500)));
    }

    #[test]
    fn a_pace_not_reported_lately_refuses_nothing_until_jobs_wait_again() {
        let (pace, t) = (Pace::default(), Instant::now());
        pace.started(1, MS(4_000), t); // 2 s a place
        assert!(pace.too_slow_for(1, MS(1_000), t + FRESH_FOR));
        // No job has waited since (the flood ended, or everything was refused): let in.
        let later = t + FRESH_FOR + MS(1);
        assert_eq!(pace.expected_wait(1, later), None);
        assert!(!pace.too_slow_for(1, MS(1_000), later));
        // A job that waits again measures afresh.
        pace.started(1, MS(4_000), later);
        assert!(pace.too_slow_for(1, MS(1_000), later));
    }
}
