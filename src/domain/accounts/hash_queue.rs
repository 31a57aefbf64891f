//! The hash threads' job queue, which gives a job to the *steady* thread first: one thread at
//! an ordinary (lowered) priority that always makes progress, and the others in Linux's idle
//! class (`hash_workers.rs`), which run only on a core nothing else wants. An idle-class thread
//! (a *helper*) takes a job only while the steady thread is busy with another; under a flood
//! every thread works.
//!
//! A helper can still be starved by a host that keeps every core busy with other work. So the
//! steady thread runs again, before anything queued, any job a helper has held for longer than
//! `rescue_after` (four of its own last hash times, at least `MIN_RESCUE`); a job answers once,
//! whichever run finishes first (`password.rs`). No sign-in waits on a starved thread for
//! longer than that.
//!
//! Two lanes (`Lane`): a verification for a browser the account already knows (its device
//! cookie) or for a signed-in session goes ahead of the ordinary queue, so a login flood of
//! unknown names cannot keep the owner waiting behind it; it yields one turn in every
//! `KNOWN_STREAK + 1` to the ordinary lane, so known browsers (an attacker's own account has
//! one too) cannot starve it either.
//!
//! Closing the queue (the pool dropped) lets the threads finish what is queued and end.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::domain::accounts::hash_workers::Memory;
use crate::domain::accounts::password::Lane;

/// A job for a hashing thread, given the thread's memory. It may run twice (a rescue): the
/// second run to finish must do nothing visible.
pub(super) type Job = Arc<dyn Fn(&mut Memory) + Send + Sync>;

/// The shortest time a helper holds a job before the steady thread runs it too.
pub(super) const MIN_RESCUE: Duration = Duration::from_millis(100);

/// How many known-lane jobs run in a row while ordinary ones wait.
const KNOWN_STREAK: u32 = 3;

/// Which kind of thread is asking for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Taker {
    /// The thread that is always allowed to take the next job.
    Steady,
    /// A thread that takes a job only while the steady one is busy.
    Helper,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// The known lane (`Lane::Known`), taken before `jobs`.
    known: VecDeque<Job>,
    /// Known-lane jobs taken in a row while `jobs` was not empty.
    known_streak: u32,
    /// Jobs running on helpers, with the time each was taken (removed when done or rescued).
    on_helpers: Vec<(Instant, Job)>,
    steady_busy: bool,
    /// The steady thread's last job time (what "too long" on a helper is measured against).
    steady_last: Duration,
    closed: bool,
}

impl State {
    fn rescue_after(&self) -> Duration {
        (self.steady_last * 4).max(MIN_RESCUE)
    }

    /// The job `who` may take now, marked as taken. For the steady thread, a starved helper's
    /// job first (it was taken before anything still queued, and a flood may keep the queue
    /// from ever emptying), then the oldest queued one; a helper takes a queued one only while
    /// the steady thread is busy.
    fn next(&mut self, who: Taker, now: Instant) -> Option<Job> {
        if who == Taker::Steady
            && let Some(job) = self.starved(now)
        {
            self.steady_busy = true;
            metrics::counter!("authd_hash_jobs_rescued_total").increment(1);
            return Some(job);
        }
        if (who == Taker::Steady || self.steady_busy)
            && let Some(job) = self.pop_front()
        {
            match who {
                Taker::Steady => self.steady_busy = true,
                Taker::Helper => self.on_helpers.push((now, job.clone())),
            }
            return Some(job);
        }
        None
    }

    /// The next queued job: the known lane's, unless it has had `KNOWN_STREAK` turns in a row
    /// while ordinary jobs waited.
    fn pop_front(&mut self) -> Option<Job> {
        let ordinary_waits = !self.jobs.is_empty();
        if (!ordinary_waits || self.known_streak < KNOWN_STREAK)
            && let Some(job) = self.known.pop_front()
        {
            self.known_streak = if ordinary_waits {
                self.known_streak + 1
            } else {
                0
            };
            return Some(job);
        }
        self.known_streak = 0;
        self.jobs.pop_front()
    }

    fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.known.is_empty()
    }

    /// `who` finished `job`, which took `took`.
    fn finished(&mut self, who: Taker, job: &Job, took: Duration) {
        match who {
            Taker::Steady => {
                self.steady_busy = false;
                self.steady_last = took;
            }
            Taker::Helper => self.on_helpers.retain(|(_, j)| !Arc::ptr_eq(j, job)),
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

/// Jobs waiting for a hashing thread.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so a poisoned lock means a panic in this file's few
        // lines: the state is still consistent; carry on.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a job to `lane`; false when the queue is closed.
    pub(super) fn push(&self, job: Job, lane: Lane) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        match lane {
            Lane::Ordinary => state.jobs.push_back(job),
            Lane::Known => state.known.push_back(job),
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
            if let Some(job) = state.next(who, now) {
                if who == Taker::Steady && !state.is_empty() {
                    // The steady thread is busy now: the helpers may take what is left.
                    self.changed.notify_all();
                }
                return Some(job);
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
            let oldest = state.on_helpers.iter().map(|(taken, _)| *taken).min();
            state = match (who, oldest) {
                // The steady thread looks again when a helper's oldest job would be starved.
                (Taker::Steady, Some(taken)) => {
                    let due = (taken + state.rescue_after()).saturating_duration_since(now);
                    let wait = self
                        .changed
                        .wait_timeout(state, due.max(Duration::from_millis(1)));
                    wait.unwrap_or_else(std::sync::PoisonError::into_inner).0
                }
                _ => self
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
            self.lock().finished(who, &job, started.elapsed());
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
        q.lock()
            .finished(Taker::Steady, &job, Duration::from_millis(1));
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
        state.jobs.extend(ordinary.iter().cloned());
        state.known.extend(known.iter().cloned());
        let mut order = Vec::new();
        while let Some(job) = state.next(Taker::Steady, now) {
            let lane = |jobs: &[Job]| jobs.iter().position(|j| Arc::ptr_eq(j, &job));
            order.push(match (lane(&known), lane(&ordinary)) {
                (Some(i), _) => format!("k{i}"),
                (_, Some(i)) => format!("o{i}"),
                _ => unreachable!("a job from neither lane"),
            });
            state.finished(Taker::Steady, &job, Duration::from_millis(13));
        }
        assert_eq!(order, ["k0", "k1", "k2", "o0", "k3", "k4", "o1"]);
        // With no ordinary job waiting the known lane runs on without a streak.
        state.known.extend((0..5).map(|_| noop()));
        for _ in 0..5 {
            let job = state.next(Taker::Steady, now).expect("known");
            state.finished(Taker::Steady, &job, Duration::from_millis(13));
        }
        assert_eq!(state.known_streak, 0);
        // A helper helps with the known lane too, only while the steady thread is busy.
        state.known.push_back(noop());
        assert!(state.next(Taker::Helper, now).is_none());
        let busy = state.next(Taker::Steady, now).expect("steady");
        state.known.push_back(noop());
        assert!(state.next(Taker::Helper, now).is_some());
        state.finished(Taker::Steady, &busy, Duration::from_millis(13));
    }

    #[test]
    fn a_helper_takes_a_job_only_while_the_steady_thread_is_busy() {
        let mut state = State::default();
        let now = Instant::now();
        state.jobs.push_back(noop());
        assert!(state.next(Taker::Helper, now).is_none(), "steady is free");
        let first = state.next(Taker::Steady, now).expect("steady takes it");
        state.jobs.push_back(noop());
        let second = state
            .next(Taker::Helper, now)
            .expect("steady busy: a helper helps");
        state.finished(Taker::Steady, &first, Duration::from_millis(13));
        state.jobs.push_back(noop());
        assert!(
            state.next(Taker::Helper, now).is_none(),
            "steady is free again"
        );
        state.finished(Taker::Helper, &second, Duration::from_millis(13));
        assert!(state.on_helpers.is_empty());
    }

    #[test]
    fn the_steady_thread_takes_over_a_job_a_helper_holds_too_long() {
        let mut state = State::default();
        let t0 = Instant::now();
        let busy = noop();
        state.steady_busy = true;
        state.jobs.push_back(noop());
        let held = state.next(Taker::Helper, t0).expect("a helper takes it");
        state.finished(Taker::Steady, &busy, Duration::from_millis(40));
        // Four of the steady thread's last job times (160 ms) have not passed yet.
        assert_eq!(state.rescue_after(), Duration::from_millis(160));
        let early = t0 + Duration::from_millis(159);
        assert!(state.next(Taker::Steady, early).is_none());
        // A job queued meanwhile comes after the starved one (a flood may never empty the queue).
        let queued = noop();
        state.jobs.push_back(queued.clone());
        let late = t0 + Duration::from_millis(160);
        let rescued = state.next(Taker::Steady, late).expect("starved: rescued");
        assert!(Arc::ptr_eq(&rescued, &held));
        assert!(state.steady_busy);
        state.finished(Taker::Steady, &rescued, Duration::from_millis(13));
        let next = state.next(Taker::Steady, late).expect("then the queue");
        assert!(Arc::ptr_eq(&next, &queued));
        state.finished(Taker::Steady, &next, Duration::from_millis(13));
        // Once only: the helper finishing later changes nothing.
        assert!(state.next(Taker::Steady, late).is_none());
        state.finished(Taker::Helper, &held, Duration::from_secs(1));
        // Never sooner than MIN_RESCUE, however fast the last hash.
        assert_eq!(state.rescue_after(), MIN_RESCUE);
    }

    #[test]
    fn threads_serve_the_queue_and_end_when_it_closes() {
        let q = Arc::new(Queue::default());
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
