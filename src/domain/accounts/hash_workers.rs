//! The password-hashing threads: `n` long-lived OS threads, each owning one argon2 memory area
//! (19 MiB at the default cost) that it reuses for every hash and verification. What a hash
//! leaves in the area is derived from the password (the first blocks would let an attacker who
//! reads the memory test guesses without argon2's cost), so the area is wiped before the thread
//! goes idle and when it is dropped; while jobs are queued the next hash overwrites every block
//! the last one wrote, and a wipe between them would spend a twentieth of the hash time for
//! nothing (docs/benchmarks.md). The blocking pool that ran hashes before allocated a fresh
//! area per hash on whichever thread ran it, and the allocator kept those areas per thread:
//! resident memory grew with the number of threads a login flood had touched. Here it is
//! bounded by `n` areas, taken on first use (an idle server holds none beyond the start-up
//! hash's).
//!
//! Priorities (Linux): when a sign-in flood keeps every thread busy, the request threads
//! (tokens, userinfo, introspection, pages) must still get a core at once. The first thread,
//! the *steady* one, runs at nice `HASH_NICE`; the others run in the idle scheduling class
//! (`SCHED_IDLE`): they use only a core no other thread wants, and the scheduler counts a core
//! running only such threads as free, so a waking request thread takes it without waiting for a
//! time slice to end (at nice 10 that wait was the tail of introspection and userinfo under a
//! flood: docs/benchmarks.md). An idle-class thread could be starved by a host that keeps every
//! core busy, so it mostly helps: the queue (`hash_queue.rs`) gives a job to the steady thread
//! first and to a helper only while the steady one is busy, except while machine requests are
//! coming, when the steady thread leaves new jobs to the helpers and only takes over stalled or
//! starved ones. With no other work every thread runs at full speed. Where the idle class is
//! refused, a helper runs at `HASH_NICE` too.
//!
//! A job whose caller went away (the request was dropped) is skipped rather than run for nobody.

use std::sync::Arc;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The hash threads' nice value (0 is a request thread's; 10 gives a request thread about ten
/// times a hash thread's share of a contended core).
pub(super) const HASH_NICE: i32 = 10;

/// Lowers the calling thread's priority to `HASH_NICE` (best effort: a refusal is logged). Also
/// for the CAPTCHA image thread (`domain/captcha_image.rs`): attacker-driven CPU work, like a
/// flood's hashes.
pub(crate) fn lower_own_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASH_NICE)
    {
        tracing::warn!(error = %e, "could not lower a worker thread's priority");
    }
}

pub(super) use crate::domain::accounts::hash_queue::Job;
use crate::domain::accounts::hash_queue::{Queue, Taker, Traffic};
use crate::domain::accounts::password::Lane;

/// Puts the calling thread in the idle scheduling class (`SCHED_IDLE`); where that is refused,
/// at `HASH_NICE`. True when the idle class was taken.
fn idle_class() -> bool {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            Ok(()) => return true,
            Err(e) => tracing::warn!(error = ?e, "could not put a hash thread in the idle class"),
        }
    }
    lower_own_priority();
    false
}

/// One thread's argon2 memory, grown to the largest cost it has met (a stored hash may have
/// been made with other parameters than today's), and how many of its first blocks still hold
/// what a hash left there.
#[derive(Default)]
pub(super) struct Memory {
    area: Vec<Block>,
    dirty: usize,
    /// Wipes of a dirty area so far.
    #[cfg(test)]
    wipes: usize,
}

impl Memory {
    /// The first `n` blocks, growing the area when it is smaller; a hash fills all `n`. Growing
    /// moves the blocks to a new allocation and frees the old one unwiped, so what a hash left
    /// there is wiped first.
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        if self.area.len() < n {
            self.clear();
            self.area.resize(n, Block::default());
        }
        self.dirty = self.dirty.max(n);
        let (head, _) = self.area.split_at_mut(n);
        head
    }

    /// Whether a hash's leftovers are still in the area.
    pub(super) fn is_dirty(&self) -> bool {
        self.dirty > 0
    }

    /// Wipes what the hashes since the last wipe left in the area.
    pub(super) fn clear(&mut self) {
        if let Some(dirty) = self.area.get_mut(..self.dirty) {
            dirty.fill(Block::default());
        }
        #[cfg(test)]
        {
            self.wipes += usize::from(self.dirty > 0);
        }
        std::hint::black_box(&mut self.area);
        self.dirty = 0;
    }

    /// Hashes `password` with `salt` into a PHC string (`$argon2id$v=19$m=…`).
    pub(super) fn hash(
        &mut self,
        params: &Params,
        password: &[u8],
        salt: &[u8],
    ) -> Result<String, String> {
        let salt = Salt::new(salt).map_err(|e| e.to_string())?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let out = buffer.get_mut(..len).ok_or("argon2 output too long")?;
        let done = argon.hash_password_into_with_memory(
            password,
            &salt,
            &mut *out,
            self.blocks(params.block_count()),
        );
        done.map_err(|e| e.to_string())?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
            salt: Some(salt),
            hash: Some(Output::new(out).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `stored`, with the stored hash's own
    /// algorithm, version and cost; the outputs are compared in constant time.
    pub(super) fn verify(&mut self, password: &[u8], stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let Some(out) = buffer.get_mut(..expected.len()) else {
            return false;
        };
        let done = argon.hash_password_into_with_memory(
            password,
            salt,
            &mut *out,
            self.blocks(params.block_count()),
        );
        // `Output`'s equality is constant-time.
        done.is_ok() && Output::new(out).is_ok_and(|computed| &computed == expected)
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The threads and the queue that feeds them. Dropping the last handle ends the threads.
pub(super) struct Workers {
    queue: Arc<Queue>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `n` threads named `authd-hash-<i>`: the steady one (0) and `n - 1` helpers.
    pub(super) fn start(n: usize) -> std::io::Result<Self> {
        let n = n.max(1);
        let queue = Arc::new(Queue::new(n - 1));
        for i in 0..n {
            let queue = queue.clone();
            let who = if i == 0 { Taker::Steady } else { Taker::Helper };
            std::thread::Builder::new()
                .name(format!("authd-hash-{i}"))
                .spawn(move || {
                    match who {
                        Taker::Steady => lower_own_priority(),
                        Taker::Helper => {
                            idle_class();
                        }
                    }
                    queue.serve(who, &mut Memory::default());
                })?;
        }
        Ok(Self { queue })
    }

    /// Where machine requests are noted for this pool (`hash_queue.rs`).
    pub(super) fn traffic(&self) -> Arc<Traffic> {
        self.queue.traffic()
    }

    /// Queues a job; false when the threads are gone.
    pub(super) fn submit(&self, job: Job, lane: Lane) -> bool {
        self.queue.push(job, lane)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.queue.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[cfg(target_os = "linux")]
    #[test]
    fn an_area_is_wiped_before_it_grows() {
        let mut m = Memory::default();
        m.blocks(8);
        assert!(m.is_dirty());
        m.blocks(4);
        assert_eq!(m.wipes, 0, "a smaller hash reuses the area as it is");
        m.blocks(16);
        assert_eq!(m.wipes, 1, "the old allocation is wiped before it is freed");
        assert_eq!(m.area.len(), 16);
        m.clear();
        m.blocks(32);
        assert_eq!(
            m.wipes, 2,
            "nothing dirty to wipe when growing a clean area"
        );
    }

    #[test]
    fn hash_threads_run_below_request_threads() {
        let workers = Workers::start(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(workers.submit(
            Arc::new(move |_: &mut Memory| {
                let me = rustix::thread::gettid();
                let _ = tx.send(rustix::process::getpriority_process(Some(me)));
            }),
            Lane::Ordinary
        ));
        let nice = rx.recv().unwrap().unwrap();
        // At least HASH_NICE: a test runner already niced further keeps its own value.
        assert!(nice >= HASH_NICE, "{nice}");
        let caller = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert!(
            caller < HASH_NICE,
            "the caller's own priority is untouched ({caller})"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn helpers_run_in_the_idle_class_and_the_steady_thread_does_not() {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let workers = Workers::start(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = std::sync::Mutex::new(hold);
        let report = |tx: &std::sync::mpsc::Sender<_>| {
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send((name, thread_priority::thread_schedule_policy().ok()));
        };
        // The first job holds the steady thread until released, so the second finds it busy
        // and goes to the helper.
        let first = tx.clone();
        assert!(workers.submit(
            Arc::new(move |_: &mut Memory| {
                report(&first);
                let _ = hold.lock().unwrap().recv();
            }),
            Lane::Ordinary
        ));
        let steady = rx.recv().unwrap();
        assert!(workers.submit(Arc::new(move |_: &mut Memory| report(&tx)), Lane::Ordinary));
        let helper = rx.recv().unwrap();
        release.send(()).unwrap();
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        assert_eq!(steady.0.as_deref(), Some("authd-hash-0"));
        assert_ne!(
            steady.1,
            Some(idle),
            "the steady thread keeps the normal class"
        );
        assert_eq!(helper.0.as_deref(), Some("authd-hash-1"));
        // A sandbox may refuse the class change (the helper then runs at nice 10).
        if idle_class_allowed() {
            assert_eq!(helper.1, Some(idle));
        }
    }

    /// Whether this process may put a thread in the idle class (checked on a scratch thread).
    #[cfg(target_os = "linux")]
    fn idle_class_allowed() -> bool {
        std::thread::spawn(idle_class).join().unwrap()
    }

    fn cheap() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    #[test]
    fn hashes_verify_with_the_crate_and_the_crate_s_with_ours() {
        let mut memory = Memory::default();
        let ours = memory
            .hash(&cheap(), b"correct horse", b"saltsaltsalt")
            .unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap());
        assert!(
            argon
                .verify_password(b"correct horse", ours.as_str())
                .is_ok()
        );
        assert!(memory.verify(b"correct horse", &ours));
        assert!(!memory.verify(b"correct horsf", &ours));
        // A hash made elsewhere with other costs (bigger memory): the area grows to fit.
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2048, 2, 1, None).unwrap(),
        );
        let theirs =
            argon2::password_hash::PasswordHasher::hash_password(&theirs, b"battery staple")
                .unwrap()
                .to_string();
        assert!(memory.verify(b"battery staple", &theirs));
        assert!(!memory.verify(b"battery stapler", &theirs));
        assert_eq!(memory.area.len(), 2048);
    }

    fn wiped(memory: &Memory) -> bool {
        memory
            .area
            .iter()
            .all(|b| b.as_ref().iter().all(|w| *w == 0))
    }

    #[test]
    fn the_area_holds_a_hash_s_leftovers_until_it_is_cleared() {
        let mut memory = Memory::default();
        let big = Params::new(2048, 1, 1, None).unwrap();
        memory
            .hash(&big, b"correct horse", b"saltsaltsalt")
            .unwrap();
        assert!(memory.is_dirty() && !wiped(&memory));
        // A smaller hash after a bigger one: the bigger one's tail is still there.
        let stored = memory
            .hash(&cheap(), b"battery staple", b"saltsaltsalt")
            .unwrap();
        assert_eq!(memory.dirty, 2048);
        assert!(
            memory
                .area
                .get(1024..)
                .unwrap()
                .iter()
                .any(|b| b.as_ref().iter().any(|w| *w != 0))
        );
        memory.clear();
        assert!(!memory.is_dirty() && wiped(&memory));
        // A failed verification leaves its blocks too.
        assert!(!memory.verify(b"wrong", &stored));
        assert_eq!(memory.dirty, 1024);
        memory.clear();
        assert!(wiped(&memory));
    }

    #[test]
    fn garbage_never_verifies() {
        let mut memory = Memory::default();
        for stored in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA",
            "plain",
        ] {
            assert!(!memory.verify(b"x", stored), "{stored}");
        }
    }
}
