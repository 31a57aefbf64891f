//! Rendering notices: `templates/mail/<kind>.txt` and `.html` (askama; the HTML part is
//! escaped, the text part is not). The attack alert and the lockout notice share the attack
//! report's fields.

use askama::Template;

use crate::domain::notify::{AttackReport, Notice};
use crate::mail::factor_messages::{code_mail, method_changed, verify_mail};

/// A rendered notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject.
    pub subject: &'static str,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct ResetHtml<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_changed.txt")]
struct ChangedText<'a> {
    reset_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_changed.html")]
struct ChangedHtml<'a> {
    reset_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/session_reported.txt")]
struct ReportedText<'a> {
    what: &'a str,
    place: &'a str,
    when: &'a str,
    security_link: &'a str,
    reset_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/session_reported.html")]
struct ReportedHtml<'a> {
    what: &'a str,
    place: &'a str,
    when: &'a str,
    security_link: &'a str,
    reset_link: &'a str,
}

/// An attack report's fields, as the attack and lockout templates show them (`not_me_link`
/// empty: nobody got in).
struct Report<'a> {
    count: i64,
    minutes: i64,
    place: &'a str,
    when: &'a str,
    got_in_at: &'a str,
    not_me_link: &'a str,
}

impl<'a> Report<'a> {
    fn of(r: &'a AttackReport) -> Self {
        let (got_in_at, not_me_link) = r
            .got_in
            .as_ref()
            .map_or(("", ""), |(at, link)| (at.as_str(), link.as_str()));
        Self {
            count: r.count,
            minutes: r.minutes,
            place: &r.place,
            when: &r.when,
            got_in_at,
            not_me_link,
        }
    }
}

#[derive(Template)]
#[template(path = "mail/lockout.txt")]
struct LockoutText<'a> {
    unlock_link: &'a str,
    reset_link: &'a str,
    count: i64,
    minutes: i64,
    place: &'a str,
    when: &'a str,
    got_in_at: &'a str,
    not_me_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/lockout.html")]
struct LockoutHtml<'a> {
    unlock_link: &'a str,
    reset_link: &'a str,
    count: i64,
    minutes: i64,
    place: &'a str,
    when: &'a str,
    got_in_at: &'a str,
    not_me_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/attack.txt")]
struct AttackText<'a> {
    count: i64,
    minutes: i64,
    place: &'a str,
    when: &'a str,
    got_in_at: &'a str,
    not_me_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/attack.html")]
struct AttackHtml<'a> {
    count: i64,
    minutes: i64,
    place: &'a str,
    when: &'a str,
    got_in_at: &'a str,
    not_me_link: &'a str,
}

/// Renders the lockout notice.
fn lockout(
    unlock_link: &str,
    reset_link: &str,
    r: &AttackReport,
) -> Result<Rendered, askama::Error> {
    let Report {
        count,
        minutes,
        place,
        when,
        got_in_at,
        not_me_link,
    } = Report::of(r);
    Ok(Rendered {
        subject: "Someone is trying to sign in to your account",
        text: LockoutText {
            unlock_link,
            reset_link,
            count,
            minutes,
            place,
            when,
            got_in_at,
            not_me_link,
        }
        .render()?,
        html: LockoutHtml {
            unlock_link,
            reset_link,
            count,
            minutes,
            place,
            when,
            got_in_at,
            not_me_link,
        }
        .render()?,
    })
}

/// Renders the attack alert.
fn attack(r: &AttackReport) -> Result<Rendered, askama::Error> {
    let Report {
        count,
        minutes,
        place,
        when,
        got_in_at,
        not_me_link,
    } = Report::of(r);
    Ok(Rendered {
        subject: "Sign-in attempts on your account were blocked",
        text: AttackText {
            count,
            minutes,
            place,
            when,
            got_in_at,
            not_me_link,
        }
        .render()?,
        html: AttackHtml {
            count,
            minutes,
            place,
            when,
            got_in_at,
            not_me_link,
        }
        .render()?,
    })
}

#[derive(Template)]
#[template(path = "mail/new_device.txt")]
struct NewDeviceText<'a> {
    when: &'a str,
    ip: &'a str,
    device: &'a str,
    not_me_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/new_device.html")]
struct NewDeviceHtml<'a> {
    when: &'a str,
    ip: &'a str,
    device: &'a str,
    not_me_link: &'a str,
}

/// Renders a notice.
pub fn render(notice: &Notice) -> Result<Rendered, askama::Error> {
    Ok(match notice {
        Notice::PasswordReset { link, .. } => Rendered {
            subject: "Reset your password",
            text: ResetText { link }.render()?,
            html: ResetHtml { link }.render()?,
        },
        Notice::Lockout {
            unlock_link,
            reset_link,
            report,
        } => lockout(unlock_link, reset_link, report)?,
        Notice::Attack { report } => attack(report)?,
        Notice::NewDevice {
            when,
            ip,
            device,
            not_me_link,
        } => Rendered {
            subject: "New sign-in to your account",
            text: NewDeviceText {
                when,
                ip,
                device,
                not_me_link,
            }
            .render()?,
            html: NewDeviceHtml {
                when,
                ip,
                device,
                not_me_link,
            }
            .render()?,
        },
        Notice::VerifyEmail { link } => verify_mail(link)?,
        Notice::EmailCode { code, minutes } => code_mail(code, *minutes)?,
        Notice::PasswordChanged { reset_link } => Rendered {
            subject: "Your password was changed",
            text: ChangedText { reset_link }.render()?,
            html: ChangedHtml { reset_link }.render()?,
        },
        Notice::SessionReported {
            what,
            place,
            when,
            security_link,
            reset_link,
        } => Rendered {
            subject: "You reported a sign-in that was not you",
            text: ReportedText {
                what,
                place,
                when,
                security_link,
                reset_link,
            }
            .render()?,
            html: ReportedHtml {
                what,
                place,
                when,
                security_link,
                reset_link,
            }
            .render()?,
        },
        Notice::SignInMethodAdded { method, when } => method_changed(true, method, when)?,
        Notice::SignInMethodRemoved { method, when } => method_changed(false, method, when)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_text_is_not() {
        let r = render(&Notice::PasswordReset {
            link: "https://x.example/r?token=a&b=<c>".into(),
            requested_from: "192.0.2.1".into(),
        })
        .unwrap();
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
        let r = render(&Notice::Attack {
            report: report.clone(),
        })
        .unwrap();
        assert_eq!(r.subject, "Sign-in attempts on your account were blocked");
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
        let r = render(&Notice::Lockout {
            unlock_link: "https://id.example/unlock?token=u".into(),
            reset_link: "https://id.example/password/forgot".into(),
            report: got_in,
        })
        .unwrap();
        for part in [&r.text, &r.html] {
            assert!(part.contains("Someone did sign in"), "{part}");
            assert!(part.contains("https://id.example/not-me?token=t"), "{part}");
            assert!(part.contains("https://id.example/unlock?token=u"), "{part}");
            assert!(part.contains("12 failed sign-in attempts"), "{part}");
        }
    }
}
