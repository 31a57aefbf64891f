//! The integration suite: one binary, one module per area. Every test starts the real server
//! on a random port against a fresh database (SQLite in a temp dir, or a fresh PostgreSQL
//! database when `TEST_POSTGRES_URL` is set) and talks HTTP to it.

// Test helpers panic on purpose: a failed set-up step is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin_actions;
mod admin_api;
mod admin_console;
mod admin_events;
mod admin_events_export;
mod admin_ops_api;
mod admin_ops_pages;
mod admin_overview;
mod admin_rollup;
mod admin_users_api;
mod branding;
mod captcha_once;
mod captcha_providers;
mod challenge_flow;
mod cli;
mod cli_users;
mod client_disable;
mod clients;
mod config;
mod detours;
mod email_code;
mod enumeration;
mod events;
mod factor_changes;
mod fuzz;
mod helpers;
mod links;
mod lock_record;
mod lockout;
mod login;
mod mail;
mod malformed;
mod metrics;
mod not_me;
mod oauth_code;
mod oidc;
mod oidc_step_up;
mod ops;
mod passkey_step_up;
mod passkeys;
mod password_reset;
mod rate_limits;
mod register;
mod remember;
mod revocation;
mod risk;
mod sealing;
mod security_page;
mod sessions;
mod smtp;
mod soft_passkey;
mod spool;
mod step_up;
mod token_limits;
mod tokens;
mod totp;
mod transport;
mod verify_detour;
mod waves;
