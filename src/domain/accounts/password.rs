//! argon2id hashing and verification on a bounded pool of long-lived hashing threads
//! (`hash_workers.rs`: one reused argon2 memory area per thread).
//!
//! At most `workers` hashes run at once (default: one per core) and at most `queue` more wait;
//! beyond that the caller gets `HashError::Busy` at once, so a login flood cannot pile up
//! memory or starve the async runtime that serves token traffic. An ordinary check that has
//! not started within `max_wait` gives up with `Busy` too (its job, still queued, is skipped
//! when a thread reaches it): under a flood on a busy host the hash threads, which yield to
//! every request thread, may drain the queue slowly, and the flood's excess is then answered
//! `503` within about `max_wait`, not after seconds in the queue. And a check that, at the pace
//! the queue is measured to move (`hash_pace.rs`), would not start within `max_wait` is
//! answered `Busy` at once instead of after waiting for nothing. An unknown user is verified
//! against a dummy hash with the same parameters, so its timing matches a wrong password.
//!
//! A verification for a browser the account knows, or for a signed-in session, runs in the
//! known lane (`Lane::Known`): ahead of the ordinary queue (`hash_queue.rs`) and admitted by a
//! bound of its own, so a flood that fills the ordinary queue neither delays the owner behind
//! it nor answers the owner `Busy`. Only a caller holding that proof gets the lane, so its
//! speed tells nobody anything they did not know.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use argon2::Params;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::domain::accounts::hash_job::{
    DepthGuard, Paced, Place, WAITING, answering_once, give_up,
};
use crate::domain::accounts::hash_pace::Pace;
use crate::domain::accounts::hash_workers::{Memory, Workers};
use crate::domain::accounts::known_lane::KnownHolds;
pub use crate::domain::accounts::lanes::{HashYield, Lane};
use crate::domain::clock::{OsRandom, Random};
use crate::domain::error::{Unexpected, unexpected_from};

/// What the hashing pool can answer besides a result. Shared by the areas that hash or verify
/// (accounts, sign-in); each turns it into its own enum's `Busy` and `Unexpected`.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The pool is saturated (every worker busy, the queue full); try again shortly.
    #[error("password hashing is saturated")]
    Busy {
        /// Seconds after which a retry is sensible.
        retry_after: u64,
    },
    /// The pool was closed or a hashing thread failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(HashError);

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (default 19456).
    pub memory_kib: u32,
    /// Iterations (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The hashing pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
    workers: Arc<Workers>,
    admission: Arc<Semaphore>,
    /// The known lane's own bound (as many as the ordinary one's).
    known_admission: Arc<Semaphore>,
    depth: Arc<AtomicI64>,
    dummy_hash: Arc<str>,
    /// How long an ordinary-lane job may wait for a thread before its caller gets `Busy`.
    max_wait: Option<Duration>,
    /// How fast queued places move (what an ordinary-lane job is refused at once on).
    pace: Arc<Pace>,
    /// The accounts holding a known-lane place (one each: `known_lane.rs`).
    known_holds: Arc<KnownHolds>,
    /// The hashing threads (places beyond them wait).
    threads: u64,
    /// Where salts come from (injected).
    random: Arc<dyn Random>,
}

impl PasswordHasher {
    /// Builds a pool; computes the dummy hash once (one hash's worth of start-up time).
    pub fn new(params: HashParams, workers: usize, queue: usize) -> Result<Self, Unexpected> {
        Self::with_random(params, workers, queue, Arc::new(OsRandom))
    }

    /// [`PasswordHasher::new`], its salts drawn from `random`.
    pub fn with_random(
        params: HashParams,
        workers: usize,
        queue: usize,
        random: Arc<dyn Random>,
    ) -> Result<Self, Unexpected> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| Unexpected(anyhow::anyhow!("invalid argon2 parameters: {e}")))?;
        let workers = workers.max(1);
        let mut dummy_salt = [0u8; 16];
        random.fill(&mut dummy_salt);
        let dummy_hash = Memory::default()
            .hash(
                &params,
                b"authd dummy password for unknown users",
                &dummy_salt,
            )
            .map_err(|e| Unexpected(anyhow::anyhow!("argon2 hashing failed: {e}")))?;
        Ok(Self {
            params,
            workers: Arc::new(
                Workers::start(workers).map_err(|e| {
                    Unexpected(anyhow::anyhow!("cannot start hashing threads: {e}"))
                })?,
            ),
            admission: Arc::new(Semaphore::new(workers + queue)),
            known_admission: Arc::new(Semaphore::new(workers + queue)),
            depth: Arc::new(AtomicI64::new(0)),
            dummy_hash: dummy_hash.into(),
            max_wait: None,
            pace: Arc::new(Pace::default()),
            known_holds: Arc::new(KnownHolds::default()),
            threads: u64::try_from(workers).unwrap_or(u64::MAX),
            random,
        })
    }

    /// The handle the OAuth and risk-evaluation endpoints note their requests through
    /// (`HashYield`).
    pub fn yield_handle(&self) -> HashYield {
        HashYield(self.workers.traffic())
    }

    /// The pool whose ordinary-lane jobs wait at most `max_wait` for a thread (`None`: as long
    /// as the queue takes). The known lane never gives up: the owner is not answered `Busy`.
    #[must_use]
    pub fn with_max_wait(mut self, max_wait: Option<Duration>) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, HashError> {
        self.hash_in(Lane::Ordinary, password).await
    }

    /// `hash` of a new password for `account_id` whose holder proved the right to set it (a
    /// signed-in session, a live reset link): in the known lane, so a sign-in flood filling
    /// the ordinary queue does not answer the owner's change `Busy`, unless another job of the
    /// same account holds a known place on this instance (`known_lane.rs`: one account cannot
    /// fill the lane): then in the ordinary one.
    pub async fn hash_known(
        &self,
        account_id: &str,
        password: &SecretString,
    ) -> Result<String, HashError> {
        let hold = self.known_holds.take(account_id);
        let lane = Lane::known_if(hold.is_some());
        let hashed = self.hash_in(lane, password).await;
        drop(hold);
        hashed
    }

    /// `hash`, waiting in `lane`.
    async fn hash_in(&self, lane: Lane, password: &SecretString) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.clone();
        let mut salt = [0u8; 16];
        self.random.fill(&mut salt);
        let job = move |memory: &mut Memory| {
            memory.hash(&params, password.expose_secret().as_bytes(), &salt)
        };
        self.run(lane, job)
            .await?
            .map_err(|e| HashError::Unexpected(anyhow::anyhow!("argon2 hashing failed: {e}")))
    }

    /// Verifies a password against a stored hash, or against the dummy hash when `stored` is
    /// `None` (unknown user) — in which case the answer is always `false`.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, HashError> {
        self.verify_in(Lane::Ordinary, password, stored).await
    }

    /// `verify` for a source `account_id` knows (its device cookie, or a signed-in session), in
    /// the known lane — unless another check of the same account holds a known place on this
    /// instance: then in the ordinary lane (`known_lane.rs`).
    pub async fn verify_known(
        &self,
        account_id: &str,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, HashError> {
        let hold = self.known_holds.take(account_id);
        let lane = Lane::known_if(hold.is_some());
        let ok = self.verify_in(lane, password, stored).await;
        drop(hold);
        ok
    }

    /// `verify`, waiting in `lane`.
    pub async fn verify_in(
        &self,
        lane: Lane,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, HashError> {
        let known = stored.is_some();
        let hash: String = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.clone();
        // Verified with the stored hash's own parameters (it may predate a config change).
        let ok = self
            .run(lane, move |memory| {
                memory.verify(password.expose_secret().as_bytes(), &hash)
            })
            .await?;
        Ok(ok && known)
    }

    /// Whether `stored` (a PHC string) was made otherwise than a hash made now would be: another
    /// algorithm, version or cost (the operator changed `AUTHD_ARGON2_*` since). Such a hash
    /// verifies at its own cost, so its account would answer a wrong password in another time
    /// than an unknown name (checked against the dummy hash, made at today's cost): after a
    /// successful sign-in it is hashed again (`AccountService::upgrade_hash_later`). Unparseable: no.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(stored) else {
            return false;
        };
        let current = (
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
        );
        parsed.algorithm.as_str() != argon2::Algorithm::Argon2id.ident().as_str()
            || parsed.version != Some(argon2::Version::V0x13.into())
            || argon2::Params::try_from(&parsed)
                .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) != current)
    }

    /// Hashes and verifies holding a place: running, waiting, or given up on by their caller
    /// and not yet skipped by a thread (they still hold the password and count against the
    /// bound). The `authd_hash_queue_depth` gauge shows the same.
    pub fn depth(&self) -> i64 {
        self.depth.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        job: impl Fn(&mut Memory) -> T + Send + Sync + 'static,
    ) -> Result<T, HashError> {
        // Admission first, without waiting: a full queue answers Busy immediately. A known
        // caller whose lane is full waits in the ordinary one if it has room.
        // A place the measured pace would not reach within `max_wait` is not taken either.
        let ahead = self.ahead();
        let admitted = self
            .admit(lane)
            .filter(|(_, lane)| *lane == Lane::Known || !self.too_slow(ahead));
        let Some((admitted, lane)) = admitted else {
            metrics::counter!("authd_hash_jobs_refused_total").increment(1);
            return Err(HashError::Busy { retry_after: 1 });
        };
        metrics::counter!("authd_hash_jobs_total", "lane" => lane.label()).increment(1);
        // Counted in the depth for as long as it holds its place (till run or skipped).
        let place = Place {
            _depth: DepthGuard::enter(&self.depth),
            _permit: admitted,
        };
        let (reply, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(WAITING));
        // The ordinary lane's jobs measure the pace it is judged by.
        let paced = (lane == Lane::Ordinary).then(|| Paced {
            pace: self.pace.clone(),
            ahead,
            queued: Instant::now(),
        });
        let job = answering_once(job, reply, state.clone(), Some(place), paced);
        let queued = self.workers.submit(job, lane);
        if !queued {
            return Err(anyhow::anyhow!("hash pool closed").into());
        }
        let out = match self.max_wait.filter(|_| lane == Lane::Ordinary) {
            None => answer.await,
            Some(wait) => tokio::select! {
                out = &mut answer => out,
                () = tokio::time::sleep(wait) => {
                    if give_up(&state) {
                        metrics::counter!("authd_hash_jobs_given_up_total").increment(1);
                        // It did not start within `wait`: the pace is at least that slow.
                        self.pace.gave_up(ahead, wait, Instant::now());
                        return Err(HashError::Busy { retry_after: 1 });
                    }
                    answer.await
                }
            },
        }
        .map_err(|e| anyhow::Error::new(e).context("hash task failed"))?;
        Ok(out)
    }

    /// `Busy` at once (counted as a refused job) when a job of `lane` would be refused now:
    /// for a caller that would otherwise do a sign-in's database work first and then be
    /// refused by `run` anyway. Only a hint: `run` admits again, so a place taken meanwhile
    /// still answers `Busy` there.
    pub fn check_room(&self, lane: Lane) -> Result<(), HashError> {
        let room = |s: &Semaphore| s.available_permits() > 0;
        let known = lane == Lane::Known && room(&self.known_admission);
        if known || (room(&self.admission) && !self.too_slow(self.ahead())) {
            return Ok(());
        }
        metrics::counter!("authd_hash_jobs_refused_total").increment(1);
        Err(HashError::Busy { retry_after: 1 })
    }

    /// Places held beyond the threads (running or waiting): what a job admitted now waits for.
    fn ahead(&self) -> u64 {
        u64::try_from(self.depth.load(Ordering::Relaxed))
            .unwrap_or(0)
            .saturating_sub(self.threads)
    }

    /// Whether an ordinary-lane job with `ahead` places before it would, at the measured pace,
    /// not start within `max_wait` (never without a `max_wait`).
    fn too_slow(&self, ahead: u64) -> bool {
        self.max_wait
            .is_some_and(|wait| self.pace.too_slow_for(ahead, wait, Instant::now()))
    }

    /// A place in `lane`, or in the ordinary lane when the known one is full.
    fn admit(&self, lane: Lane) -> Option<(OwnedSemaphorePermit, Lane)> {
        if lane == Lane::Known
            && let Ok(permit) = self.known_admission.clone().try_acquire_owned()
        {
            return Some((permit, Lane::Known));
        }
        let permit = self.admission.clone().try_acquire_owned().ok()?;
        Some((permit, Lane::Ordinary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::hash_workers::Job;
    use futures_util::FutureExt;

    fn cheap() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn salts_are_drawn_from_the_injected_randomness() {
        let zeros = Arc::new(crate::domain::clock::ZeroRandom);
        let h = PasswordHasher::with_random(cheap(), 1, 1, zeros).unwrap();
        let password = SecretString::from("correct horse");
        let stored = h.hash(&password).await.unwrap();
        // Sixteen zero bytes, in the PHC string's unpadded base64.
        assert!(stored.contains("$AAAAAAAAAAAAAAAAAAAAAA$"), "{stored}");
        assert_eq!(
            stored,
            h.hash(&password).await.unwrap(),
            "same salt, same hash"
        );
        assert!(h.verify(&password, Some(&stored)).await.unwrap());
        let os = PasswordHasher::new(cheap(), 1, 1).unwrap();
        assert_ne!(
            os.hash(&password).await.unwrap(),
            os.hash(&password).await.unwrap()
        );
    }

    #[test]
    fn a_job_run_twice_answers_once_and_a_caller_gone_is_not_hashed_for() {
        use std::sync::atomic::AtomicUsize;
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = || {
            let runs = runs.clone();
            move |_: &mut Memory| runs.fetch_add(1, Ordering::SeqCst)
        };
        let waiting = || Arc::new(AtomicU8::new(WAITING));
        let (reply, mut answer) = oneshot::channel();
        let state = waiting();
        let job = answering_once(counted(), reply, state.clone(), None, None);
        job(&mut Memory::default());
        // The rescue's second run finds the answer given: nothing runs, nothing changes.
        job(&mut Memory::default());
        assert_eq!(answer.try_recv(), Ok(0), "the first run's answer");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!give_up(&state), "a started job is not given up on");
        // The caller went away before any run: not hashed at all.
        let (reply, answer) = oneshot::channel::<usize>();
        drop(answer);
        answering_once(counted(), reply, waiting(), None, None)(&mut Memory::default());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // The caller gave up before any run: not hashed either.
        let (reply, _answer) = oneshot::channel::<usize>();
        let state = waiting();
        let job = answering_once(counted(), reply, state.clone(), None, None);
        assert!(give_up(&state));
        job(&mut Memory::default());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ordinary_check_gives_up_waiting_and_a_known_one_does_not() {
        let h = PasswordHasher::new(cheap(), 1, 8)
            .unwrap()
            .with_max_wait(Some(Duration::from_millis(20)));
        // The one thread is kept busy until released (as by a hash that takes long).
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Mutex::new(held);
        let (began, started) = oneshot::channel();
        let began = std::sync::Mutex::new(Some(began));
        let blocker = {
            let h = h.clone();
            tokio::spawn(async move {
                h.run(Lane::Known, move |_| {
                    if let Some(b) = began.lock().unwrap().take() {
                        let _ = b.send(());
                    }
                    let _ = held.lock().unwrap().recv();
                })
                .await
            })
        };
        started.await.unwrap();
        let pw: SecretString = "password".into();
        // (Bounded here so that a pool ignoring its wait fails the test instead of hanging it.)
        let answered = |f| tokio::time::timeout(Duration::from_secs(10), f);
        let stored = answered(h.hash(&pw)).await.expect("answered while held");
        assert!(
            matches!(stored, Err(HashError::Busy { .. })),
            "an ordinary job not started within the wait: {stored:?}"
        );
        let known = {
            let (h, pw) = (h.clone(), pw.clone());
            tokio::spawn(async move { h.verify_in(Lane::Known, &pw, None).await })
        };
        let ordinary = tokio::time::timeout(Duration::from_secs(10), h.verify(&pw, None))
            .await
            .expect("answered while held");
        assert!(matches!(ordinary, Err(HashError::Busy { .. })));
        assert!(!known.is_finished(), "the known lane waits on");
        // The second gave up behind one place: the pace is measured from it (a job that never
        // started still says how slow the queue was), not only from the jobs that made it.
        assert!(h.pace.measured());
        // The two given-up jobs still hold their places (and their passwords) in the queue,
        // so they still count against the bound (workers + queue = 9).
        assert_eq!(h.admission.available_permits(), 7);
        // ...and in the depth: the running one, the waiting known one and the two given up.
        assert_eq!(h.depth(), 4);
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert!(!known.await.unwrap().unwrap(), "answered, no account");
        // A thread reaches them, skips them, and frees their places.
        let freed = async {
            while h.admission.available_permits() < 9 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), freed)
            .await
            .expect("the skipped jobs' places come back");
        assert_eq!(h.depth(), 0, "nothing held");
    }

    #[test]
    fn two_runs_at_once_answer_and_time_once() {
        use std::sync::OnceLock;
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let job: Arc<OnceLock<Job>> = Arc::new(OnceLock::new());
        let inner = job.clone();
        let (reply, mut answer) = oneshot::channel();
        let nested = std::sync::atomic::AtomicBool::new(false);
        // The first run starts the second (the rescue) before it finishes itself.
        let hashing = move |memory: &mut Memory| {
            if !nested.swap(true, Ordering::SeqCst)
                && let Some(again) = inner.get()
            {
                again(memory);
                return "rescued run's twin";
            }
            "second run, finished first"
        };
        let _ = job.set(answering_once(
            hashing,
            reply,
            Arc::new(AtomicU8::new(WAITING)),
            None,
            None,
        ));
        metrics::with_local_recorder(&recorder, || {
            if let Some(run) = job.get() {
                run(&mut Memory::default());
            }
        });
        assert_eq!(answer.try_recv(), Ok("second run, finished first"));
        let text = handle.render();
        assert!(
            text.contains("authd_password_hash_seconds_count 1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = PasswordHasher::new(cheap(), 2, 4).unwrap();
        let pw: SecretString = "correct horse".into();
        let stored = h.hash(&pw).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(h.verify(&pw, Some(&stored)).await.unwrap());
        assert!(!h.verify(&"wrong".into(), Some(&stored)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let h = PasswordHasher::new(cheap(), 1, 1).unwrap();
        let dummy = "authd dummy password for unknown users".into();
        assert!(!h.verify(&dummy, None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_run_on_the_pool_s_own_threads_only() {
        let h = PasswordHasher::new(cheap(), 2, 64).unwrap();
        let mut jobs = Vec::new();
        for _ in 0..16 {
            let h = h.clone();
            jobs.push(tokio::spawn(async move {
                h.run(Lane::Ordinary, |_| {
                    std::thread::current().name().map(str::to_owned)
                })
                .await
            }));
        }
        let mut names = std::collections::BTreeSet::new();
        for j in jobs {
            names.insert(j.await.unwrap().unwrap().unwrap());
        }
        assert!(names.len() <= 2, "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("authd-hash-")),
            "{names:?}"
        );
    }

    #[test]
    fn default_params_are_owasp() {
        let h = PasswordHasher::new(HashParams::default(), 1, 0).unwrap();
        assert!(h.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_answers_busy_at_once() {
        let h = PasswordHasher::new(HashParams::default(), 1, 1).unwrap();
        let pw: SecretString = "password".into();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = h.clone();
            let pw = pw.clone();
            tasks.push(tokio::spawn(async move { h.verify(&pw, None).await }));
        }
        let mut busy = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Err(HashError::Busy { .. })) {
                busy += 1;
            }
        }
        assert!(
            busy >= 5,
            "only {busy} of 8 were refused with 1 worker + 1 queued"
        );
        assert_eq!(h.depth(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_ordinary_queue_still_admits_the_known_lane() {
        let h = PasswordHasher::new(cheap(), 1, 1).unwrap();
        // Both ordinary places taken (held here, as a flood's jobs would hold them).
        let held: Vec<_> = (0..2).map(|_| h.admit(Lane::Ordinary).unwrap()).collect();
        assert!(held.iter().all(|(_, lane)| *lane == Lane::Ordinary));
        let pw: SecretString = "password".into();
        assert!(matches!(
            h.verify(&pw, None).await,
            Err(HashError::Busy { .. })
        ));
        let stored = h.hash(&pw).await;
        assert!(matches!(stored, Err(HashError::Busy { .. })));
        // The known lane has places of its own, and verifies.
        drop(held);
        let stored = h.hash(&pw).await.unwrap();
        let held: Vec<_> = (0..2).map(|_| h.admit(Lane::Ordinary).unwrap()).collect();
        assert!(h.verify_in(Lane::Known, &pw, Some(&stored)).await.unwrap());
        // When the known lane is full too, a known caller is refused like anyone else.
        let known: Vec<_> = (0..2).map(|_| h.admit(Lane::Known).unwrap()).collect();
        assert!(known.iter().all(|(_, lane)| *lane == Lane::Known));
        assert!(matches!(
            h.verify_in(Lane::Known, &pw, Some(&stored)).await,
            Err(HashError::Busy { .. })
        ));
        drop((held, known));
        // A known caller whose lane is full takes an ordinary place when there is one.
        let known: Vec<_> = (0..2).map(|_| h.admit(Lane::Known).unwrap()).collect();
        assert_eq!(
            h.admit(Lane::Known).map(|(_, lane)| lane),
            Some(Lane::Ordinary)
        );
        drop(known);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_account_holds_one_known_place_at_a_time() {
        // One thread, three places per lane.
        let h = PasswordHasher::new(cheap(), 1, 2).unwrap();
        let pw: SecretString = "password".into();
        let stored = h.hash(&pw).await.unwrap();
        let (release, blocker) = held_pool(&h).await;
        // Account a's first check takes a known place and waits behind the blocker.
        let first = {
            let (h, pw, stored) = (h.clone(), pw.clone(), stored.clone());
            tokio::spawn(async move { h.verify_known("a", &pw, Some(&stored)).await })
        };
        while h.depth() < 2 {
            tokio::task::yield_now().await;
        }
        // A flood holds every ordinary place.
        let flood: Vec<_> = (0..3).map(|_| h.admit(Lane::Ordinary).unwrap()).collect();
        // A second check of a waits in the ordinary lane, which is full: refused at once,
        // though the known lane has a place left.
        assert!(matches!(
            h.verify_known("a", &pw, Some(&stored)).now_or_never(),
            Some(Err(HashError::Busy { .. }))
        ));
        // Another account's owner takes that place.
        let other = {
            let (h, pw, stored) = (h.clone(), pw.clone(), stored.clone());
            tokio::spawn(async move { h.verify_known("b", &pw, Some(&stored)).await })
        };
        while h.depth() < 3 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        blocker.await.unwrap();
        assert!(first.await.unwrap().unwrap());
        assert!(other.await.unwrap().unwrap());
        drop(flood);
    }

    /// A pool of one thread that `hold` keeps busy until the returned sender is used (or
    /// dropped): the known-lane job holding it has started when this returns.
    async fn held_pool(
        h: &PasswordHasher,
    ) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Mutex::new(held);
        let (began, started) = oneshot::channel();
        let began = std::sync::Mutex::new(Some(began));
        let h = h.clone();
        let blocker = tokio::spawn(async move {
            h.run(Lane::Known, move |_| {
                if let Some(b) = began.lock().unwrap().take() {
                    let _ = b.send(());
                }
                let _ = held.lock().unwrap().recv();
            })
            .await
            .unwrap();
        });
        started.await.unwrap();
        (release, blocker)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ordinary_check_the_pace_would_not_start_in_time_is_refused_at_once() {
        let h = PasswordHasher::new(cheap(), 1, 8)
            .unwrap()
            .with_max_wait(Some(Duration::from_secs(60)));
        let (release, blocker) = held_pool(&h).await;
        let pw: SecretString = "password".into();
        // Nothing measured yet: a job behind the running one is let in (and waits).
        let first = {
            let (h, pw) = (h.clone(), pw.clone());
            tokio::spawn(async move { h.verify(&pw, None).await })
        };
        while h.depth() < 2 {
            tokio::task::yield_now().await;
        }
        assert!(h.check_room(Lane::Ordinary).is_ok());
        // Measured: five seconds a place. One place ahead: 10 s expected, within 60 s.
        // (Reported as if from an hour ahead: still fresh however slow this machine runs.)
        let fresh = Instant::now() + Duration::from_secs(3600);
        h.pace.started(1, Duration::from_secs(10), fresh);
        assert!(h.check_room(Lane::Ordinary).is_ok());
        // The queue slows to 100 s a place: within a few jobs the same place expects more than
        // the 60 s bound, and is refused on the first poll (not after waiting the 60 s).
        for _ in 0..4 {
            h.pace.started(1, Duration::from_secs(200), fresh);
        }
        let refused = h.verify(&pw, None).now_or_never();
        assert!(
            matches!(refused, Some(Err(HashError::Busy { retry_after: 1 }))),
            "{refused:?}"
        );
        assert!(h.check_room(Lane::Ordinary).is_err());
        // Nothing was queued for it; the known lane is not judged by the pace.
        assert_eq!(h.depth(), 2);
        assert!(h.check_room(Lane::Known).is_ok());
        let known = {
            let (h, pw) = (h.clone(), pw.clone());
            tokio::spawn(async move { h.verify_in(Lane::Known, &pw, None).await })
        };
        while h.depth() < 3 {
            tokio::task::yield_now().await;
        }
        // A pool without a wait bound waits as long as the queue takes, whatever the pace.
        let unbounded = h.clone().with_max_wait(None);
        assert!(unbounded.check_room(Lane::Ordinary).is_ok());
        release.send(()).unwrap();
        blocker.await.unwrap();
        assert!(!first.await.unwrap().unwrap());
        assert!(!known.await.unwrap().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ordinary_job_that_waited_behind_another_measures_the_pace() {
        let h = PasswordHasher::new(cheap(), 1, 8).unwrap();
        let (release, blocker) = held_pool(&h).await;
        let pw: SecretString = "password".into();
        let mut jobs = Vec::new();
        for queued in 2..=3 {
            let (h2, pw) = (h.clone(), pw.clone());
            jobs.push(tokio::spawn(async move { h2.verify(&pw, None).await }));
            while h.depth() < queued {
                tokio::task::yield_now().await;
            }
        }
        assert!(!h.pace.measured(), "nothing started after waiting yet");
        release.send(()).unwrap();
        blocker.await.unwrap();
        for job in jobs {
            assert!(!job.await.unwrap().unwrap());
        }
        // The second waited behind the first (one place ahead of it beyond the thread).
        assert!(h.pace.measured());
    }

    #[test]
    fn check_room_refuses_exactly_when_run_would() {
        let h = PasswordHasher::new(cheap(), 1, 1).unwrap();
        assert!(h.check_room(Lane::Ordinary).is_ok());
        let held: Vec<_> = (0..2).map(|_| h.admit(Lane::Ordinary).unwrap()).collect();
        assert!(matches!(
            h.check_room(Lane::Ordinary),
            Err(HashError::Busy { retry_after: 1 })
        ));
        // A known caller still has its own lane.
        assert!(h.check_room(Lane::Known).is_ok());
        let known: Vec<_> = (0..2).map(|_| h.admit(Lane::Known).unwrap()).collect();
        assert!(h.check_room(Lane::Known).is_err());
        // With the known lane full, an ordinary place is room for a known caller too.
        drop(held);
        assert!(h.check_room(Lane::Known).is_ok());
        assert!(h.check_room(Lane::Ordinary).is_ok());
        drop(known);
    }
}
