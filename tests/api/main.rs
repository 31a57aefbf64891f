//! The integration suite: one binary, one module per area. Every test starts the real server
//! on a random port against a fresh database (SQLite in a temp dir, or a fresh PostgreSQL
//! database when `TEST_POSTGRES_URL` is set) and talks HTTP to it.

mod cli;
mod events;
mod helpers;
mod login;
mod malformed;
mod ops;
mod register;
mod sessions;
