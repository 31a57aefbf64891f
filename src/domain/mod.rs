//! The business rules of authd. Never imports axum, sqlx, askama or lettre: it sees storage
//! only through the traits in `storage`, and the outside world only through injected services.

/// Accounts: emails, passwords, creation and lookup.
pub mod accounts;
/// What the admin API does: event search, training labels, training.
pub mod admin;
/// CAPTCHA challenges.
pub mod captcha;
/// OAuth clients: registration, redirect URIs, authentication.
pub mod clients;
/// Injected clock and randomness.
pub mod clock;
/// The request context every domain call carries (ip, user agent, request id).
pub mod context;
/// What the areas' error enums share: `Unexpected` (each area's enum sits next to its code).
pub mod error;
/// What the domain asks to be mailed.
pub mod notify;
/// The OAuth 2.0 / OIDC provider.
pub mod oauth;
/// Local redirect targets (`next`).
pub mod redirect;
/// The risk engine: features, scores, the learned model.
pub mod risk;
/// Session lifetime policy (idle timeout, absolute lifetime).
pub mod sessions;
/// Sign-in: the one path every sign-in takes, a file per step (counters, challenges, blocks,
/// locks, known devices, links, outcomes).
pub mod signin;
/// After-the-answer work, tracked so it can be waited for.
pub mod tasks;
/// Per-instance rate limits.
pub mod throttle;
/// Signing keys and JWTs.
pub mod tokens;
