//! The business rules of authd. Never imports axum, sqlx, askama or lettre: it sees storage
//! only through the traits in `storage`, and the outside world only through injected services.

/// The account security page: re-authentication, sessions and devices, password change.
pub mod account_security;
/// Accounts: emails, passwords, creation and lookup.
pub mod accounts;
/// What the admin API does: event search, training labels, training.
pub mod admin;
/// The admin console (`/admin`): its gate and its pages' calls.
pub mod admin_console;
/// An operator's acts on clients, signing keys and the risk model (console and admin API).
pub mod admin_ops;
/// CAPTCHA challenges.
pub mod captcha;
/// The built-in CAPTCHA's image, drawn on a low-priority thread of its own.
pub mod captcha_image;
/// The builtin CAPTCHA's proof of work and its levels.
pub mod captcha_pow;
/// The challenges one session holds (a few open tabs).
pub mod captcha_shown;
/// A client's name and logo, as the pages show them.
pub mod client_profile;
/// The clients' wire rules: scopes, registrable redirect URIs, loopback matching.
pub mod client_rules;
/// OAuth clients: registration, redirect URIs, authentication.
pub mod clients;
/// Injected clock and randomness.
pub mod clock;
/// The request context every domain call carries (ip, user agent, request id).
pub mod context;
/// The public clients' browser origins (CORS), cached.
pub mod cors;
/// Stateless CSRF tokens for the forms shown before sign-in.
pub mod csrf;
/// What the areas' error enums share: `Unexpected` (each area's enum sits next to its code).
pub mod error;
/// Second factors and the sign-in's step-up (`Factor`, the pending step-up, e-mailed codes).
pub mod mfa;
/// What the domain asks to be mailed.
pub mod notify;
/// The OAuth 2.0 / OIDC provider.
pub mod oauth;
/// Who performs an operator's act (command line, console admin, admin API client).
pub mod operator;
/// Passkeys (WebAuthn): registration, passwordless sign-in, the step-up assertion.
pub mod passkeys;
/// Local redirect targets (`next`).
pub mod redirect;
/// Retention: pruning what nothing reads any more.
pub mod retention;
/// The risk engine: features, scores, the learned model.
pub mod risk;
/// Sealing secrets at rest under the master key.
pub mod seal;
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The domain decides; it never sees HTTP, SQL, templates, SMTP or OpenAPI (issue #14,
    /// STYLE G0): wire types and schemas belong to `http/`, SQL to `storage/`.
    #[test]
    fn the_domain_imports_no_infrastructure_crate() {
        let domain = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut files = Vec::new();
        rust_files(&domain, &mut files);
        let banned = [
            "axum",
            "sqlx",
            "askama",
            "lettre",
            "reqwest",
            "tower",
            "tower_http",
            "tower_sessions",
            "utoipa",
        ];
        let mut offenders = Vec::new();
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for crate_name in banned {
                    let used = code.contains(&format!("{crate_name}::"))
                        || code.contains(&format!("use {crate_name}"));
                    if used {
                        offenders.push(format!("{}:{}: {crate_name}", path.display(), n + 1));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
