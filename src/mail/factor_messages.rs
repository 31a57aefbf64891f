//! The mails of second factors and verification: the address's confirmation link, the
//! step-up's one-time code, and "a sign-in method was added/removed" (text + HTML each).

use askama::Template;

use crate::mail::messages::Rendered;

#[derive(Template)]
#[template(path = "mail/verify_email.txt")]
struct VerifyText<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify_email.html")]
struct VerifyHtml<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/email_code.txt")]
struct CodeText<'a> {
    code: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/email_code.html")]
struct CodeHtml<'a> {
    code: &'a str,
    minutes: i64,
}

/// Renders the step-up's code mail.
pub(super) fn code_mail(code: &str, minutes: i64) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: "Your sign-in code",
        text: CodeText { code, minutes }.render()?,
        html: CodeHtml { code, minutes }.render()?,
    })
}

#[derive(Template)]
#[template(path = "mail/method_changed.txt")]
struct MethodText<'a> {
    added: bool,
    method: &'a str,
    when: &'a str,
}

#[derive(Template)]
#[template(path = "mail/method_changed.html")]
struct MethodHtml<'a> {
    added: bool,
    method: &'a str,
    when: &'a str,
}

/// Renders the one "a new sign-in method was added" / "a sign-in method was removed" notice
/// (passkeys, the authenticator app, an operator's reset), naming the method.
pub(super) fn method_changed(
    added: bool,
    method: &str,
    when: &str,
) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: if added {
            "A sign-in method was added to your account"
        } else {
            "A sign-in method was removed from your account"
        },
        text: MethodText {
            added,
            method,
            when,
        }
        .render()?,
        html: MethodHtml {
            added,
            method,
            when,
        }
        .render()?,
    })
}

/// Renders the address-verification mail.
pub(super) fn verify_mail(link: &str) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: "Confirm your email address",
        text: VerifyText { link }.render()?,
        html: VerifyHtml { link }.render()?,
    })
}
