//! Which lane of the hashing pool a job waits in (`Lane`: ordinary, or known for a caller the
//! account knows), and the signal machine requests give the pool to step aside
//! (`HashYield`). The pool itself is `password.rs`; its queue `hash_queue.rs`.

use std::sync::Arc;

use crate::domain::accounts::hash_queue::Traffic;

/// Which queue a verification waits in (`hash_queue.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Everyone else: unknown browsers, unknown names, new passwords.
    Ordinary,
    /// A browser the account already knows (its device cookie) or a signed-in session.
    Known,
}

impl Lane {
    /// `Known` for a caller with a device of the account (or a session), else `Ordinary`.
    pub fn known_if(known: bool) -> Self {
        if known { Self::Known } else { Self::Ordinary }
    }

    /// The `lane` label of `authd_hash_jobs_total`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ordinary => "ordinary",
            Self::Known => "known",
        }
    }
}

/// Notes machine requests (token, userinfo, introspection, …) for the hashing pool: for a
/// moment after each, its steady thread leaves new jobs to the idle-class helpers, whose cores
/// a request thread takes at once (`hash_queue.rs`). One reference count to clone.
#[derive(Clone, Debug)]
pub struct HashYield(pub(super) Arc<Traffic>);

impl HashYield {
    /// A machine request is being served.
    pub fn machine_request(&self) {
        self.0.note_now();
    }

    /// Whether a machine request was ever noted.
    #[cfg(test)]
    pub(crate) fn noted(&self) -> bool {
        self.0.noted()
    }
}
