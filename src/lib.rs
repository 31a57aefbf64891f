//! authd: a secure, drop-in identity service.
//!
//! Layers point one way: `http` → `domain` → `storage` traits. `events`, `config` and
//! `telemetry` are shared vocabulary and plumbing; `cli` and `startup` wire everything together.

/// Command-line interface: `serve`, `migrate`, `user add`.
pub mod cli;
/// Configuration: defaults → TOML file → `AUTHD_*` environment, validated at start.
pub mod config;
/// Business rules: accounts, passwords, sessions policy, login orchestration.
pub mod domain;
/// Auth events: the vocabulary and the sink that stores and traces them.
pub mod events;
/// HTTP routes, extractors, middleware and the mapping of errors to responses.
pub mod http;
/// Mail: rendering, the durable queue, the delivery worker, SMTP and file transports.
pub mod mail;
/// Calls to third parties: CAPTCHA `siteverify`.
pub mod outbound;
/// The traffic simulator (`authd simulate`) and its figures; no server module imports it.
pub mod sim;
/// Building and running the server.
pub mod startup;
/// The shared application state handed to every handler.
pub mod state;
/// Storage traits and their SQLite and PostgreSQL implementations.
pub mod storage;
/// Logging, request ids and metrics.
pub mod telemetry;
