//! Accounts: the validated value types, password hashing on a bounded pool, and the service that
//! creates and finds accounts.

/// `AccountError`: what registration, password changes and resets can answer.
pub mod error;
/// `Email`, `Password` and `Account`.
pub mod model;
/// argon2id hashing and verification on a bounded pool of hashing threads.
pub mod password;
/// The hashing threads and their reused argon2 memory.
mod hash_workers;
/// Password reset by mailed link.
pub mod reset;
/// Creating and finding accounts.
pub mod service;
