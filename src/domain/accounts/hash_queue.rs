//! The hash threads' job queue. One *steady* thread runs at an ordinary (lowered) priority and
//! always makes progress; the others, *helpers*, run in Linux's idle class (`hash_workers.rs`)
//! and so only on a core nothing else wants.
//!
//! While no machine request (token, userinfo, introspection, revocation, JWKS, discovery) has
//! come for `YIELD_WINDOW`, a job goes to the steady thread first and to a helper only while
//! the steady one is busy: a sign-in load alone runs at full speed. While machine requests are
//! coming, the steady thread leaves new jobs to the helpers: a hash it runs holds a core a
//! waking request thread must wait for (its time slice, or the next tick), where a helper's
//! core is taken at once; that wait was the tail of the token endpoint, introspection and
//! userinfo under a login flood (docs/benchmarks.md).
//!
//! A helper can be starved by a host that keeps every core busy with other work. So the steady
//! thread runs again, before anything queued, any job a helper has held for longer than
//! `rescue_after` (four of its own last hash times, at least `MIN_RESCUE`); a job answers once,
//! whichever run finishes first (`password.rs`). And while it yields to machine requests, it
//! still takes the oldest queued job once that job has waited `rescue_after` with no helper
//! having taken or finished a job for as long (the helpers are starved). No sign-in waits on a
//! starved thread for longer than that.
//!
//! Two lanes (`Lane`): a verification for a browser the account already knows (its device
//! cookie) or for a signed-in session goes ahead of the ordinary queue, so a login flood of
//! unknown names cannot keep the owner waiting behind it; it yields one turn in every
//! `KNOWN_STREAK + 1` to the ordinary lane, so known browsers (an attacker's own account has
//! one too) cannot starve it either.
//!
//! Closing the queue (the pool dropped) lets the threads finish what is queued and end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::domain::accounts::hash_workers::Memory;
use crate::domain::accounts::password::Lane;

/// A job for a hashing thread, given the thread's memory. It may run twice (a rescue): the
/// second run to finish must do nothing visible.
pub(super) type Job = Arc<dyn Fn(&mut Memory) + Send + Sync>;

/// The shortest time a helper holds a job before the steady thread runs it too.
pub(super) const MIN_RESCUE: Duration = Duration::from_millis(100);

/// How long after a machine request the steady thread leaves new jobs to the helpers.
pub(super) const YIELD_WINDOW: Duration = Duration::from_millis(100);

/// How many known-lane jobs run in a row while ordinary ones wait.
const KNOWN_STREAK: u32 = 3;

/// Which kind of thread is asking for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Taker {
    /// The thread at an ordinary priority.
    Steady,
    /// An idle-class thread.
    Helper,
}

#[derive(Default)]
struct State {
    /// Queued jobs with the time each was queued.
    jobs: VecDeque<(Instant, Job)>,
    /// The known lane (`Lane::Known`), taken before `jobs`.
    known: VecDeque<(Instant, Job)>,
    /// Known-lane jobs taken in a row while `jobs` was not empty.
    known_streak: u32,
    /// Jobs running on helpers, with the time each was taken (removed when done or rescued).
    on_helpers: Vec<(Instant, Job)>,
    /// When a helper last took or finished a job.
    helpers_moved: Option<Instant>,
    steady_busy: bool,
    /// The steady thread's last job time (what "too long" on a helper is measured against).
    steady_last: Duration,
    closed: bool,
}

impl State {
    fn rescue_after(&self) -> Duration {
        (self.steady_last * 4).max(MIN_RESCUE)
    }

    /// The job `who` may take now, marked as taken; `yielding` while machine requests are
    /// coming. For the steady thread, a starved helper's job first (it was taken before
    /// anything still queued, and a flood may keep the queue from ever emptying), then the
    /// oldest queued one unless it yields (and the helpers are not starved); a helper takes a
    /// queued one while the steady thread is busy or yields.
    fn next(&mut self, who: Taker, now: Instant, yielding: bool) -> Option<Job> {
        if who == Taker::Steady
            && let Some(job) = self.starved(now)
        {
            self.steady_busy = true;
            metrics::counter!("authd_hash_jobs_rescued_total").increment(1);
            return Some(job);
        }
        let may = match who {
            Taker::Steady => !yielding || self.stalled(now),
            Taker::Helper => self.steady_busy || yielding,
        };
        if may && let Some(job) = self.pop_front() {
            match who {
                Taker::Steady => self.steady_busy = true,
                Taker::Helper => {
                    if !self.steady_busy {
                        // Left by the steady thread before it even looked.
                        metrics::counter!("authd_hash_steady_yields_total").increment(1);
                    }
                    self.on_helpers.push((now, job.clone()));
                    self.helpers_moved = Some(now);
                }
            }
            return Some(job);
        }
        None
    }

    /// Whether the oldest queued job has waited `rescue_after` while no helper took or
    /// finished a job for as long.
    fn stalled(&self, now: Instant) -> bool {
        let limit = self.rescue_after();
        let waited = |t: Instant| now.duration_since(t) >= limit;
        self.oldest_queued().is_some_and(waited) && self.helpers_moved.is_none_or(waited)
    }

    /// When the steady thread should look again: a helper's oldest job starving, or (while it
    /// yields) the queue stalling.
    fn due(&self) -> Option<Instant> {
        let held = self.on_helpers.iter().map(|(taken, _)| *taken).min();
        let queued = self
            .oldest_queued()
            .map(|t| self.helpers_moved.map_or(t, |m| m.max(t)));
        held.into_iter()
            .chain(queued)
            .min()
            .map(|t| t + self.rescue_after())
    }

    fn oldest_queued(&self) -> Option<Instant> {
        let first = |q: &VecDeque<(Instant, Job)>| q.front().map(|(t, _)| *t);
        first(&self.jobs)
            .into_iter()
            .chain(first(&self.known))
            .min()
    }

    /// The next queued job: the known lane's, unless it has had `KNOWN_STREAK` turns in a row
    /// while ordinary jobs waited.
    fn pop_front(&mut self) -> Option<Job> {
        let ordinary_waits = !self.jobs.is_empty();
        if (!ordinary_waits || self.known_streak < KNOWN_STREAK)
            && let Some((_, job)) = self.known.pop_front()
        {
            self.known_streak = if ordinary_waits {
                self.known_streak + 1
            } else {
                0
            };
            return Some(job);
        }
        self.known_streak = 0;
        self.jobs.pop_front().map(|(_, job)| job)
    }

    fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.known.is_empty()
    }

    /// `who` finished `job`, which took `took`, at `now`.
    fn finished(&mut self, who: Taker, job: &Job, took: Duration, now: Instant) {
        match who {
            Taker::Steady => {
                self.steady_busy = false;
                self.steady_last = took;
            }
            Taker::Helper => {
                self.on_helpers.retain(|(_, j)| !Arc::ptr_eq(j, job));
                self.helpers_moved = Some(now);
            }
        }
    }

    /// The job a helper has held the longest, if past `rescue_after`; it leaves the list (one
    /// rescue per job).
    fn starved(&mut self, now: Instant) -> Option<Job> {
        let limit = self.rescue_after();
        let i = self
            .on_helpers
            .iter()
            .position(|(taken, _)| now.duration_since(*taken) >= limit)?;
        Some(self.on_helpers.swap_remove(i).1)
    }
}

/// When a machine request last came, in milliseconds since `epoch` (0: none yet). Shared by
/// the queue and the handle the OAuth and risk routes note their requests through
/// (`password::HashYield`).
#[derive(Debug)]
pub(super) struct Traffic {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Traffic {
    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// A machine request is being served (see the module's documentation).
    pub(super) fn note_now(&self) {
        self.note(Instant::now());
    }

    /// Whether a machine request was ever noted.
    #[cfg(test)]
    pub(super) fn noted(&self) -> bool {
        self.last_ms.load(Ordering::Relaxed) != 0
    }

    /// Notes a request at `at`. Stores only when the millisecond changed, so request threads
    /// on other cores do not keep taking the cache line from each other.
    fn note(&self, at: Instant) {
        let ms = self.ms(at);
        if self.last_ms.load(Ordering::Relaxed) != ms {
            self.last_ms.store(ms, Ordering::Relaxed);
        }
    }

    /// When the steady thread may take jobs first again, if machine requests came within
    /// `YIELD_WINDOW` of `now`.
    fn yielding_until(&self, now: Instant) -> Option<Instant> {
        let last = self.last_ms.load(Ordering::Relaxed);
        if last == 0 {
            return None;
        }
        let until = self.epoch + Duration::from_millis(last) + YIELD_WINDOW;
        (until > now).then_some(until)
    }
}

/// Jobs waiting for a hashing thread.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
    traffic: Arc<Traffic>,
    /// Whether the steady thread yields to machine requests: only with helpers to leave jobs
    /// to (alone, it would only make each sign-in wait for the rescue time).
    yields: bool,
}

impl Queue {
    /// A queue for one steady thread and `helpers` helpers.
    pub(super) fn new(helpers: usize) -> Self {
        Self {
            yields: helpers > 0,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so a poisoned lock means a panic in this file's few
        // lines: the state is still consistent; carry on.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Until when the steady thread leaves new jobs to the helpers, if it does at `now`.
    fn yielding_until(&self, now: Instant) -> Option<Instant> {
        self.traffic.yielding_until(now).filter(|_| self.yields)
    }

    /// Where machine requests are noted for this queue.
    pub(super) fn traffic(&self) -> Arc<Traffic> {
        self.traffic.clone()
    }

    /// Adds a job to `lane`; false when the queue is closed.
    pub(super) fn push(&self, job: Job, lane: Lane) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        let entry = (Instant::now(), job);
        match lane {
            Lane::Ordinary => state.jobs.push_back(entry),
            Lane::Known => state.known.push_back(entry),
        }
        drop(state);
        self.changed.notify_all();
        true
    }

    /// Stops taking jobs; the threads end once the queue is empty.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Waits for the next job this thread may take (`None`: closed and empty). With none to
    /// take at once, the thread first wipes its memory (outside the lock): the next job would
    /// have overwritten it, an idle thread must not keep it.
    fn take(&self, who: Taker, memory: &mut Memory) -> Option<Job> {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let yielding = self.yielding_until(now);
            if let Some(job) = state.next(who, now, yielding.is_some()) {
                if who == Taker::Steady && !state.is_empty() {
                    // The steady thread is busy now: the helpers may take what is left.
                    self.changed.notify_all();
                }
                return Some(job);
            }
            let passed_over = who == Taker::Steady && yielding.is_some() && !state.is_empty();
            if passed_over {
                // Left to the helpers: wake any waiting one.
                self.changed.notify_all();
            }
            if memory.is_dirty() {
                drop(state);
                memory.clear();
                state = self.lock();
                continue;
            }
            if state.closed && state.is_empty() {
                return None;
            }
            if passed_over {
                // Once per wait (not again after the wipe above).
                metrics::counter!("authd_hash_steady_yields_total").increment(1);
            }
            // The steady thread looks again when a job would be starved or stalled, or when
            // it stops yielding with jobs queued.
            let again = match who {
                Taker::Steady => {
                    let end = yielding.filter(|_| !state.is_empty());
                    state.due().into_iter().chain(end).min()
                }
                Taker::Helper => None,
            };
            state = match again {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    let wait = self
                        .changed
                        .wait_timeout(state, wait.max(Duration::from_millis(1)));
                    wait.unwrap_or_else(std::sync::PoisonError::into_inner).0
                }
                None => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            };
        }
    }

    /// Runs jobs on the calling thread until the queue is closed and empty.
    pub(super) fn serve(&self, who: Taker, memory: &mut Memory) {
        while let Some(job) = self.take(who, memory) {
            let started = Instant::now();
            job(memory);
            let took = started.elapsed();
            self.lock().finished(who, &job, took, started + took);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn noop() -> Job {
        Arc::new(|_| {})
    }

    #[test]
    fn a_thread_wipes_its_memory_before_it_waits_not_between_jobs() {
        let q = Queue::default();
        let mut memory = Memory::default();
        let tiny = argon2::Params::new(8, 1, 1, None).unwrap();
        memory.hash(&tiny, b"password", b"saltsalt").unwrap();
        assert!(q.push(noop(), Lane::Ordinary));
        let job = q.take(Taker::Steady, &mut memory).expect("queued");
        assert!(
            memory.is_dirty(),
            "a job was ready: the next hash overwrites the area"
        );
        q.lock().finished(
            Taker::Steady,
            &job,
            Duration::from_millis(1),
            Instant::now(),
        );
        q.close();
        assert!(q.take(Taker::Steady, &mut memory).is_none());
        assert!(!memory.is_dirty(), "nothing to take: wiped first");
    }

    #[test]
    fn the_known_lane_goes_first_but_leaves_the_ordinary_one_every_fourth_turn() {
        let mut state = State::default();
        let now = Instant::now();
        let ordinary: Vec<Job> = (0..2).map(|_| noop()).collect();
        let known: Vec<Job> = (0..5).map(|_| noop()).collect();
        state.jobs.extend(ordinary.iter().map(|j| (now, j.clone())));
        state.known.extend(known.iter().map(|j| (now, j.clone())));
        let mut order = Vec::new();
        while let Some(job) = state.next(Taker::Steady, now, false) {
            let lane = |jobs: &[Job]| jobs.iter().position(|j| Arc::ptr_eq(j, &job));
            order.push(match (lane(&known), lane(&ordinary)) {
                (Some(i), _) => format!("k{i}"),
                (_, Some(i)) => format!("o{i}"),
                _ => unreachable!("a job from neither lane"),
            });
            state.finished(Taker::Steady, &job, Duration::from_millis(13), now);
        }
        assert_eq!(order, ["k0", "k1", "k2", "o0", "k3", "k4", "o1"]);
        // With no ordinary job waiting the known lane runs on without a streak.
        state.known.extend((0..5).map(|_| (now, noop())));
        for _ in 0..5 {
            let job = state.next(Taker::Steady, now, false).expect("known");
            state.finished(Taker::Steady, &job, Duration::from_millis(13), now);
        }
        assert_eq!(state.known_streak, 0);
        // A helper helps with the known lane too, only while the steady thread is busy.
        state.known.push_back((now, noop()));
        assert!(state.next(Taker::Helper, now, false).is_none());
        let busy = state.next(Taker::Steady, now, false).expect("steady");
        state.known.push_back((now, noop()));
        assert!(state.next(Taker::Helper, now, false).is_some());
        state.finished(Taker::Steady, &busy, Duration::from_millis(13), now);
    }

    #[test]
    fn a_helper_takes_a_job_only_while_the_steady_thread_is_busy() {
        let mut state = State::default();
        let now = Instant::now();
        state.jobs.push_back((now, noop()));
        assert!(
            state.next(Taker::Helper, now, false).is_none(),
            "steady is free"
        );
        let first = state
            .next(Taker::Steady, now, false)
            .expect("steady takes it");
        state.jobs.push_back((now, noop()));
        let second = state
            .next(Taker::Helper, now, false)
            .expect("steady busy: a helper helps");
        state.finished(Taker::Steady, &first, Duration::from_millis(13), now);
        state.jobs.push_back((now, noop()));
        assert!(
            state.next(Taker::Helper, now, false).is_none(),
            "steady is free again"
        );
        state.finished(Taker::Helper, &second, Duration::from_millis(13), now);
        assert!(state.on_helpers.is_empty());
    }

    #[test]
    fn the_steady_thread_takes_over_a_job_a_helper_holds_too_long() {
        let mut state = State::default();
        let t0 = Instant::now();
        let busy = noop();
        state.steady_busy = true;
        state.jobs.push_back((t0, noop()));
        let held = state
            .next(Taker::Helper, t0, false)
            .expect("a helper takes it");
        state.finished(Taker::Steady, &busy, Duration::from_millis(40), t0);
        // Four of the steady thread's last job times (160 ms) have not passed yet.
        assert_eq!(state.rescue_after(), Duration::from_millis(160));
        let early = t0 + Duration::from_millis(159);
        assert!(state.next(Taker::Steady, early, false).is_none());
        // A job queued meanwhile comes after the starved one (a flood may never empty the queue).
        let queued = noop();
        state.jobs.push_back((t0, queued.clone()));
        let late = t0 + Duration::from_millis(160);
        let rescued = state
            .next(Taker::Steady, late, false)
            .expect("starved: rescued");
        assert!(Arc::ptr_eq(&rescued, &held));
        assert!(state.steady_busy);
        state.finished(Taker::Steady, &rescued, Duration::from_millis(13), late);
        let next = state
            .next(Taker::Steady, late, false)
            .expect("then the queue");
        assert!(Arc::ptr_eq(&next, &queued));
        state.finished(Taker::Steady, &next, Duration::from_millis(13), late);
        // Once only: the helper finishing later changes nothing.
        assert!(state.next(Taker::Steady, late, false).is_none());
        state.finished(Taker::Helper, &held, Duration::from_secs(1), late);
        // Never sooner than MIN_RESCUE, however fast the last hash.
        assert_eq!(state.rescue_after(), MIN_RESCUE);
    }

    #[test]
    fn while_machine_requests_come_the_steady_thread_leaves_new_jobs_to_the_helpers() {
        let mut state = State::default();
        let now = Instant::now();
        state.jobs.push_back((now, noop()));
        assert!(state.next(Taker::Steady, now, true).is_none(), "it yields");
        let job = state
            .next(Taker::Helper, now, true)
            .expect("a helper takes it though the steady thread is free");
        assert!(!state.steady_busy);
        state.finished(Taker::Helper, &job, Duration::from_millis(13), now);
        // Quiet again: the steady thread first, as before.
        state.jobs.push_back((now, noop()));
        assert!(state.next(Taker::Helper, now, false).is_none());
        assert!(state.next(Taker::Steady, now, false).is_some());
    }

    #[test]
    fn a_yielding_steady_thread_takes_a_queued_job_once_the_helpers_stall() {
        let mut state = State::default();
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // No helper has moved since the job was queued (starved helpers never take it).
        state.jobs.push_back((t0, noop()));
        assert_eq!(state.due(), Some(ms(100)));
        assert!(state.next(Taker::Steady, ms(99), true).is_none());
        assert!(
            state.next(Taker::Steady, ms(100), true).is_some(),
            "stalled"
        );
        assert!(
            state.next(Taker::Helper, ms(100), true).is_none(),
            "nothing left"
        );
        // A helper that finished a job meanwhile shows the helpers are moving: wait longer.
        let mut state = State::default();
        state.jobs.push_back((t0, noop()));
        state.helpers_moved = Some(ms(50));
        assert_eq!(state.due(), Some(ms(150)));
        assert!(state.next(Taker::Steady, ms(149), true).is_none());
        assert!(state.next(Taker::Steady, ms(150), true).is_some());
        // Nothing queued, nothing held: nothing to look again for.
        let state = State::default();
        assert_eq!(state.due(), None);
    }

    #[test]
    fn machine_requests_make_the_steady_thread_yield_for_a_window() {
        let traffic = Traffic::default();
        let at = traffic.epoch + Duration::from_secs(5);
        assert_eq!(traffic.yielding_until(at), None, "no request yet");
        traffic.note(at);
        let until = traffic.yielding_until(at).expect("yielding");
        assert!(until > at + YIELD_WINDOW - Duration::from_millis(1) && until <= at + YIELD_WINDOW);
        assert!(
            traffic
                .yielding_until(at + Duration::from_millis(98))
                .is_some()
        );
        assert_eq!(traffic.yielding_until(at + YIELD_WINDOW), None);
        // A later request extends it.
        traffic.note(at + Duration::from_millis(90));
        assert!(traffic.yielding_until(at + YIELD_WINDOW).is_some());
    }

    #[test]
    fn a_steady_thread_without_helpers_never_yields() {
        let (alone, helped) = (Queue::new(0), Queue::new(1));
        let now = Instant::now();
        alone.traffic().note_now();
        helped.traffic().note_now();
        assert_eq!(alone.yielding_until(now), None);
        assert!(helped.yielding_until(now).is_some());
    }

    #[test]
    fn threads_serve_the_queue_and_end_when_it_closes() {
        let q = Arc::new(Queue::new(1));
        let (tx, rx) = mpsc::channel::<String>();
        let threads: Vec<_> = [(Taker::Steady, "steady"), (Taker::Helper, "helper")]
            .into_iter()
            .map(|(who, name)| {
                let q = q.clone();
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || q.serve(who, &mut Memory::default()))
                    .unwrap()
            })
            .collect();
        // The first job holds the steady thread until released; the second goes to the helper.
        let (release, hold) = mpsc::channel::<()>();
        let (hold, started) = (Mutex::new(hold), Mutex::new(tx.clone()));
        assert!(q.push(
            Arc::new(move |_| {
                let me = std::thread::current().name().unwrap_or("").to_owned();
                let _ = started.lock().unwrap().send(me);
                let _ = hold.lock().unwrap().recv();
            }),
            Lane::Ordinary
        ));
        assert_eq!(rx.recv().unwrap(), "steady");
        let report = Mutex::new(tx);
        assert!(q.push(
            Arc::new(move |_| {
                let me = std::thread::current().name().unwrap_or("").to_owned();
                let _ = report.lock().unwrap().send(me);
            }),
            Lane::Known
        ));
        assert_eq!(rx.recv().unwrap(), "helper");
        release.send(()).unwrap();
        q.close();
        assert!(!q.push(noop(), Lane::Known), "a closed queue takes nothing");
        for t in threads {
            t.join().unwrap();
        }
    }
}
