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

#[derive(Template)]
#[template(path = "mail/factor.txt")]
struct FactorText<'a> {
    method: &'a str,
    added: bool,
}

#[derive(Template)]
#[template(path = "mail/factor.html")]
struct FactorHtml<'a> {
    method: &'a str,
    added: bool,
}

/// Renders the step-up's code mail.
pub(super) fn code_mail(code: &str, minutes: i64) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: "Your sign-in code",
        text: CodeText { code, minutes }.render()?,
        html: CodeHtml { code, minutes }.render()?,
    })
}

/// Renders "a new sign-in method was added" (or "was removed").
pub(super) fn factor_mail(method: &str, added: bool) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: if added {
            "A new sign-in method was added"
        } else {
            "A sign-in method was removed"
        },
        text: FactorText { method, added }.render()?,
        html: FactorHtml { method, added }.render()?,
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

/// Renders the "sign-in method added/removed" notice.
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
