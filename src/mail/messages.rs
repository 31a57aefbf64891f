//! Rendering notices: `templates/mail/<kind>.txt` and `.html` (askama; the HTML part is
//! escaped, the text part is not). The attack alert and the lockout notice share the attack
//! report's fields.

use askama::Template;
use serde::Serialize;

use crate::domain::notify::{AttackReport, Notice};
use crate::mail::factor_messages::{code_mail, method_changed, verify_mail};
use crate::named;
use crate::render::{Branding, Entry, Named, RenderError, entry};

/// A rendered notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject (names the product).
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

/// Renders a mail's two parts through the brand (each may be overridden by name).
pub(super) fn pair<T: Named, H: Named>(
    brand: &Branding,
    subject: String,
    text: &T,
    html: &H,
) -> Result<Rendered, RenderError> {
    Ok(Rendered {
        subject,
        text: brand.render(text)?,
        html: brand.render(html)?,
    })
}

#[derive(Template, Serialize)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    link: &'a str,
}
named!(ResetText<'a>, "mail/password_reset.txt", [link]);

#[derive(Template, Serialize)]
#[template(path = "mail/password_reset.html")]
struct ResetHtml<'a> {
    link: &'a str,
}
named!(ResetHtml<'a>, "mail/password_reset.html", [link]);

#[derive(Template, Serialize)]
#[template(path = "mail/password_changed.txt")]
struct ChangedText<'a> {
    reset_link: &'a str,
}
named!(ChangedText<'a>, "mail/password_changed.txt", [reset_link]);

#[derive(Template, Serialize)]
#[template(path = "mail/password_changed.html")]
struct ChangedHtml<'a> {
    reset_link: &'a str,
}
named!(ChangedHtml<'a>, "mail/password_changed.html", [reset_link]);

#[derive(Template, Serialize)]
#[template(path = "mail/session_reported.txt")]
struct ReportedText<'a> {
    what: &'a str,
    place: &'a str,
    when: &'a str,
    security_link: &'a str,
    reset_link: &'a str,
}
named!(
    ReportedText<'a>,
    "mail/session_reported.txt",
    [what, place, when, security_link, reset_link]
);

#[derive(Template, Serialize)]
#[template(path = "mail/session_reported.html")]
struct ReportedHtml<'a> {
    what: &'a str,
    place: &'a str,
    when: &'a str,
    security_link: &'a str,
    reset_link: &'a str,
}
named!(
    ReportedHtml<'a>,
    "mail/session_reported.html",
    [what, place, when, security_link, reset_link]
);

/// An attack report's fields, as the attack and lockout templates show them (`not_me_link`
/// empty: nobody got in; `unlock_link` and `reset_link` empty in the attack alert).
#[derive(Clone, Copy)]
struct Report<'a> {
    unlock_link: &'a str,
    reset_link: &'a str,
    count: i64,
    minutes: i64,
    place: &'a str,
    when: &'a str,
    got_in_at: &'a str,
    not_me_link: &'a str,
}

impl<'a> Report<'a> {
    fn of(r: &'a AttackReport, unlock_link: &'a str, reset_link: &'a str) -> Self {
        let (got_in_at, not_me_link) = r
            .got_in
            .as_ref()
            .map_or(("", ""), |(at, link)| (at.as_str(), link.as_str()));
        Self {
            unlock_link,
            reset_link,
            count: r.count,
            minutes: r.minutes,
            place: &r.place,
            when: &r.when,
            got_in_at,
            not_me_link,
        }
    }
}

/// Declares a mail template struct over the attack report's fields.
macro_rules! report_mail {
    ($ty:ident, $path:literal, [$($field:ident: $t:ty),*]) => {
        #[derive(Template, Serialize)]
        #[template(path = $path)]
        struct $ty<'a> {
            $($field: $t),*
        }
        named!($ty<'a>, $path, [$($field),*]);
        impl<'a> From<Report<'a>> for $ty<'a> {
            fn from(r: Report<'a>) -> Self {
                Self { $($field: r.$field),* }
            }
        }
    };
}

report_mail!(LockoutText, "mail/lockout.txt", [unlock_link: &'a str, reset_link: &'a str,
    count: i64, minutes: i64, place: &'a str, when: &'a str, got_in_at: &'a str,
    not_me_link: &'a str]);
report_mail!(LockoutHtml, "mail/lockout.html", [unlock_link: &'a str, reset_link: &'a str,
    count: i64, minutes: i64, place: &'a str, when: &'a str, got_in_at: &'a str,
    not_me_link: &'a str]);
report_mail!(AttackText, "mail/attack.txt", [count: i64, minutes: i64, place: &'a str,
    when: &'a str, got_in_at: &'a str, not_me_link: &'a str]);
report_mail!(AttackHtml, "mail/attack.html", [count: i64, minutes: i64, place: &'a str,
    when: &'a str, got_in_at: &'a str, not_me_link: &'a str]);

#[derive(Template, Serialize)]
#[template(path = "mail/new_device.txt")]
struct NewDeviceText<'a> {
    when: &'a str,
    ip: &'a str,
    place: &'a str,
    device: &'a str,
    app: Option<&'a str>,
    not_me_link: &'a str,
}
named!(
    NewDeviceText<'a>,
    "mail/new_device.txt",
    [when, ip, place, device, app, not_me_link]
);

#[derive(Template, Serialize)]
#[template(path = "mail/new_device.html")]
struct NewDeviceHtml<'a> {
    when: &'a str,
    ip: &'a str,
    place: &'a str,
    device: &'a str,
    app: Option<&'a str>,
    not_me_link: &'a str,
}
named!(
    NewDeviceHtml<'a>,
    "mail/new_device.html",
    [when, ip, place, device, app, not_me_link]
);

/// Every mail template, with its variables (docs/branding.md).
pub(crate) const TEMPLATES: &[Entry] = &[
    entry::<ResetText<'static>>(),
    entry::<ResetHtml<'static>>(),
    entry::<ChangedText<'static>>(),
    entry::<ChangedHtml<'static>>(),
    entry::<ReportedText<'static>>(),
    entry::<ReportedHtml<'static>>(),
    entry::<LockoutText<'static>>(),
    entry::<LockoutHtml<'static>>(),
    entry::<AttackText<'static>>(),
    entry::<AttackHtml<'static>>(),
    entry::<NewDeviceText<'static>>(),
    entry::<NewDeviceHtml<'static>>(),
];

/// Renders the new-sign-in mail (`notice` is `NewDevice`).
fn new_device(brand: &Branding, notice: &Notice) -> Result<Rendered, RenderError> {
    let Notice::NewDevice {
        when,
        ip,
        place,
        device,
        app,
        not_me_link,
    } = notice
    else {
        return Err(RenderError::Override {
            name: "mail/new_device.txt",
            reason: "not a new-sign-in notice".into(),
        });
    };
    let app = app.as_deref();
    pair(
        brand,
        format!("New sign-in to your account at {}", brand.product),
        &NewDeviceText {
            when,
            ip,
            place,
            device,
            app,
            not_me_link,
        },
        &NewDeviceHtml {
            when,
            ip,
            place,
            device,
            app,
            not_me_link,
        },
    )
}

/// Renders the "this wasn't me" confirmation (`notice` is `SessionReported`).
fn reported(brand: &Branding, notice: &Notice) -> Result<Rendered, RenderError> {
    let Notice::SessionReported {
        what,
        place,
        when,
        security_link,
        reset_link,
    } = notice
    else {
        return Err(RenderError::Override {
            name: "mail/session_reported.txt",
            reason: "not a session-reported notice".into(),
        });
    };
    pair(
        brand,
        format!("We ended the sign-in you reported at {}", brand.product),
        &ReportedText {
            what,
            place,
            when,
            security_link,
            reset_link,
        },
        &ReportedHtml {
            what,
            place,
            when,
            security_link,
            reset_link,
        },
    )
}

/// Renders a notice with the product's name and the operator's overrides.
pub fn render(notice: &Notice, brand: &Branding) -> Result<Rendered, RenderError> {
    let p = &brand.product;
    match notice {
        Notice::PasswordReset { link, .. } => pair(
            brand,
            format!("Reset your password for {p}"),
            &ResetText { link },
            &ResetHtml { link },
        ),
        Notice::Lockout {
            unlock_link,
            reset_link,
            report,
        } => {
            let r = Report::of(report, unlock_link, reset_link);
            pair(
                brand,
                format!("Someone is trying to sign in to your account at {p}"),
                &LockoutText::from(r),
                &LockoutHtml::from(r),
            )
        }
        Notice::Attack { report } => {
            let r = Report::of(report, "", "");
            pair(
                brand,
                format!("Sign-in attempts on your account were blocked by {p}"),
                &AttackText::from(r),
                &AttackHtml::from(r),
            )
        }
        Notice::NewDevice { .. } => new_device(brand, notice),
        Notice::VerifyEmail { link } => verify_mail(brand, link),
        Notice::EmailCode { code, minutes, .. } => code_mail(brand, code, *minutes),
        Notice::PasswordChanged { reset_link } => pair(
            brand,
            format!("Your password was changed at {p}"),
            &ChangedText { reset_link },
            &ChangedHtml { reset_link },
        ),
        Notice::SessionReported { .. } => reported(brand, notice),
        Notice::SignInMethodAdded { method, when } => method_changed(brand, true, method, when),
        Notice::SignInMethodRemoved { method, when } => method_changed(brand, false, method, when),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_text_is_not() {
        let r = render(
            &Notice::PasswordReset {
                link: "https://x.example/r?token=a&b=<c>".into(),
                requested_from: "192.0.2.1".into(),
                familiar: false,
            },
            &Branding::default(),
        )
        .unwrap();
        assert_eq!(r.subject, "Reset your password for authd");
        assert!(r.text.contains("https://x.example/r?token=a&b=<c>"));
        assert!(!r.html.contains("<c>"), "{}", r.html);
        assert!(
            r.html.contains("&#60;c&#62;") || r.html.contains("&lt;c&gt;"),
            "{}",
            r.html
        );
    }

    #[test]
    fn the_attack_alert_says_what_happened_and_links_only_when_someone_got_in() {
        let report = AttackReport {
            count: 12,
            minutes: 15,
            place: "the network 203.0.113.0/24".into(),
            when: "Monday 30 November 2026, 10:42 UTC".into(),
            got_in: None,
        };
        let brand = Branding::default();
        let r = render(
            &Notice::Attack {
                report: report.clone(),
            },
            &brand,
        )
        .unwrap();
        assert_eq!(
            r.subject,
            "Sign-in attempts on your account were blocked by authd"
        );
        for part in [&r.text, &r.html] {
            assert!(part.contains("12 failed sign-in attempts in the last 15 minutes"));
            assert!(part.contains("the network 203.0.113.0/24"));
            assert!(part.contains("Monday 30 November 2026, 10:42 UTC"));
            assert!(part.contains("Your account is safe"));
            assert!(!part.contains("not-me"), "{part}");
        }
        let got_in = AttackReport {
            got_in: Some((
                "Monday 30 November 2026, 09:00 UTC".into(),
                "https://id.example/not-me?token=t".into(),
            )),
            ..report
        };
        let r = render(
            &Notice::Lockout {
                unlock_link: "https://id.example/unlock?token=u".into(),
                reset_link: "https://id.example/password/forgot".into(),
                report: got_in,
            },
            &brand,
        )
        .unwrap();
        for part in [&r.text, &r.html] {
            assert!(part.contains("Someone did sign in"), "{part}");
            assert!(part.contains("https://id.example/not-me?token=t"), "{part}");
            assert!(part.contains("https://id.example/unlock?token=u"), "{part}");
            assert!(part.contains("12 failed sign-in attempts"), "{part}");
            assert!(part.contains("have not got it"), "{part}");
            assert!(!part.contains("may be known"), "{part}");
        }
    }
}
