//! Accounts: the validated value types (and the one rule of a disabled account,
//! `Account::may_sign_in`), password hashing on a bounded pool, the service that creates and
//! finds accounts, and the operator's acts on them (`admin.rs`).

/// The operator's acts: list, show, disable, enable, delete.
pub mod admin;
/// `AccountError`: what registration, password changes and resets can answer.
pub mod error;
/// A queued hash job: its state, its one answer, its place.
mod hash_job;
/// How fast the hash queue moves: an ordinary check that would not start in time is refused.
mod hash_pace;
/// The hash threads' job queue: the steady thread first.
mod hash_queue;
/// The hashing threads and their reused argon2 memory.
pub(crate) mod hash_workers;
/// One known-lane place per account at a time.
mod known_lane;
/// The pool's lanes and the machine requests' yield signal.
mod lanes;
/// `Email`, `Password` and `Account`.
pub mod model;
/// argon2id hashing and verification on a bounded pool of hashing threads.
pub mod password;
/// Password reset by mailed link.
pub mod reset;
/// Creating and finding accounts.
pub mod service;
