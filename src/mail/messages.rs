//! Rendering notices: `templates/mail/<kind>.txt` and `.html` (askama; the HTML part is
//! escaped, the text part is not).

use askama::Template;

use crate::domain::notify::Notice;

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
#[template(path = "mail/lockout.txt")]
struct LockoutText<'a> {
    unlock_link: &'a str,
    reset_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/lockout.html")]
struct LockoutHtml<'a> {
    unlock_link: &'a str,
    reset_link: &'a str,
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
        } => Rendered {
            subject: "Someone is trying to sign in to your account",
            text: LockoutText {
                unlock_link,
                reset_link,
            }
            .render()?,
            html: LockoutHtml {
                unlock_link,
                reset_link,
            }
            .render()?,
        },
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
        Notice::PasswordChanged { reset_link } => Rendered {
            subject: "Your password was changed",
            text: ChangedText { reset_link }.render()?,
            html: ChangedHtml { reset_link }.render()?,
        },
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
}
