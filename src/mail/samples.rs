//! Sample mails: one of every kind, rendered through `messages::render` (the code that renders
//! real mail) with realistic data, kept as `docs/screens/mail/<kind>.html`; the browser tests
//! screenshot them (`npm run screenshot` in tests/browser: `docs/screens/mail-<kind>.png`).
//! `UPDATE_MAIL_SAMPLES=1 cargo test --lib mail_samples` rewrites them; otherwise the test
//! fails when they are stale, when a file has no sample, or when a mail template has none.

use std::collections::BTreeSet;

use crate::domain::notify::{AttackReport, Notice};
use crate::mail::messages::render;
use crate::render::Branding;

const ISSUER: &str = "https://id.example.com";

/// A link as the mails carry it (sample tokens, never real ones).
fn link(path: &str) -> String {
    format!("{ISSUER}{path}")
}

/// Every kind of notice, with what a real one would hold.
fn samples() -> Vec<Notice> {
    let report = AttackReport {
        count: 14,
        minutes: 15,
        place: "a network in NL (203.0.113.0/24)".into(),
        when: "today at 14:05 UTC".into(),
        got_in: None,
    };
    vec![
        Notice::PasswordReset {
            link: link("/password/reset?token=sAmPlE-rEsEt-ToKeN"),
            requested_from: "198.51.100.7".into(),
            familiar: false,
        },
        Notice::NewDevice {
            when: "today at 14:05 UTC".into(),
            ip: "198.51.100.7".into(),
            place: "a network in FR (198.51.100.0/24)".into(),
            device: "Firefox on Linux".into(),
            app: Some("Tea shop".into()),
            not_me_link: link("/not-me?token=u1.1767225600.sAmPlE"),
        },
        Notice::Lockout {
            unlock_link: link("/unlock?token=u1.1767225600.sAmPlE"),
            reset_link: link("/password/forgot"),
            report: report.clone(),
        },
        Notice::Attack { report },
        Notice::PasswordChanged {
            reset_link: link("/password/forgot"),
        },
        Notice::SessionReported {
            what: "Chrome on Android".into(),
            place: "a network in BR (192.0.2.0/24)".into(),
            when: "yesterday at 22:47 UTC".into(),
            security_link: link("/account/security"),
            reset_link: link("/password/forgot"),
        },
        Notice::VerifyEmail {
            link: link("/verify-email?token=u1.1767225600.sAmPlE"),
        },
        Notice::EmailCode {
            code: "428 913".into(),
            minutes: 10,
            requested_from: "192.0.2.0/24".into(),
            familiar: false,
            device: None,
        },
        Notice::SignInMethodAdded {
            method: "passkey “Laptop”".into(),
            when: "Monday 30 November 2026, 14:05 UTC".into(),
        },
        Notice::SignInMethodRemoved {
            method: "an authenticator app".into(),
            when: "Monday 30 November 2026, 14:07 UTC".into(),
        },
    ]
}

/// The template a notice renders with. Exhaustive on purpose: a new kind of notice does not
/// compile until it is named here — then give it a sample in `samples()`.
fn template_of(notice: &Notice) -> &'static str {
    match notice {
        Notice::PasswordReset { .. } => "mail/password_reset.html",
        Notice::NewDevice { .. } => "mail/new_device.html",
        Notice::Lockout { .. } => "mail/lockout.html",
        Notice::Attack { .. } => "mail/attack.html",
        Notice::PasswordChanged { .. } => "mail/password_changed.html",
        Notice::SessionReported { .. } => "mail/session_reported.html",
        Notice::VerifyEmail { .. } => "mail/verify_email.html",
        Notice::EmailCode { .. } => "mail/email_code.html",
        Notice::SignInMethodAdded { .. } | Notice::SignInMethodRemoved { .. } => {
            "mail/method_changed.html"
        }
    }
}

const HOW: &str = "run UPDATE_MAIL_SAMPLES=1 cargo test --lib mail_samples, then \
                   `npm run screenshot` in tests/browser";

#[test]
fn mail_samples_are_current_and_cover_every_template() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens/mail");
    let update = std::env::var("UPDATE_MAIL_SAMPLES").is_ok();
    let brand = Branding::default();
    let mut kinds = BTreeSet::new();
    let mut covered = BTreeSet::new();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for notice in samples() {
        let kind = notice.kind();
        assert!(kinds.insert(kind), "two samples of {kind}");
        covered.insert(template_of(&notice));
        let html = render(&notice, &brand).unwrap().html;
        let path = dir.join(format!("{kind}.html"));
        if update {
            std::fs::write(&path, &html).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == html, "{} is stale: {HOW}", path.display());
    }
    // Every HTML mail template has a sample (a new kind of mail needs one).
    for (name, _) in crate::mail::templates() {
        if name.ends_with(".html") {
            assert!(
                covered.contains(name),
                "{name} has no sample in src/mail/samples.rs"
            );
        }
    }
    // No file is left from a kind that is gone.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "html") && !kinds.contains(stem) {
            if update {
                std::fs::remove_file(&path).unwrap();
            } else {
                panic!("{} has no sample: {HOW}", path.display());
            }
        }
    }
}
