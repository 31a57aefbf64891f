//! authd: a secure, drop-in identity service.
//!
//! Layers point one way: `http` → `domain` → `storage` traits. `events` and `config` are shared
//! vocabulary; `outbound` holds the calls to third parties; `app` wires everything together and
//! runs it; `cli` dispatches commands. `sim` is the traffic simulator, a client of the server
//! that no server module imports.

/// Building and running the server: wiring, state, background jobs, telemetry.
pub mod app;
/// Command-line interface: `serve`, `migrate`, `user add`.
pub mod cli;
/// Configuration: defaults → TOML file → `AUTHD_*` environment → `*_FILE` secrets, validated
/// at start.
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
/// Rendering pages and mails with the brand and the operator's template overrides.
pub mod render;
/// The traffic simulator (`authd simulate`) and its figures.
pub mod sim;
/// Storage traits and their SQLite and PostgreSQL implementations.
pub mod storage;
