//! The mails of second factors and verification: the address's confirmation link, the
//! step-up's one-time code, and "a sign-in method was added/removed" (text + HTML each).

use askama::Template;
use serde::Serialize;

use crate::mail::messages::{Rendered, pair};
use crate::named;
use crate::render::{Branding, Entry, RenderError, entry};

#[derive(Template, Serialize)]
#[template(path = "mail/verify_email.txt")]
struct VerifyText<'a> {
    link: &'a str,
}
named!(VerifyText<'a>, "mail/verify_email.txt", [link]);

#[derive(Template, Serialize)]
#[template(path = "mail/verify_email.html")]
struct VerifyHtml<'a> {
    link: &'a str,
}
named!(VerifyHtml<'a>, "mail/verify_email.html", [link]);

#[derive(Template, Serialize)]
#[template(path = "mail/email_code.txt")]
struct CodeText<'a> {
    code: &'a str,
    minutes: i64,
}
named!(CodeText<'a>, "mail/email_code.txt", [code, minutes]);

#[derive(Template, Serialize)]
#[template(path = "mail/email_code.html")]
struct CodeHtml<'a> {
    code: &'a str,
    minutes: i64,
}
named!(CodeHtml<'a>, "mail/email_code.html", [code, minutes]);

/// Renders the step-up's code mail.
pub(super) fn code_mail(
    brand: &Branding,
    code: &str,
    minutes: i64,
) -> Result<Rendered, RenderError> {
    let subject = format!("Your sign-in code for {}", brand.product);
    pair(
        brand,
        subject,
        &CodeText { code, minutes },
        &CodeHtml { code, minutes },
    )
}

#[derive(Template, Serialize)]
#[template(path = "mail/method_changed.txt")]
struct MethodText<'a> {
    added: bool,
    method: &'a str,
    when: &'a str,
}
named!(
    MethodText<'a>,
    "mail/method_changed.txt",
    [added, method, when]
);

#[derive(Template, Serialize)]
#[template(path = "mail/method_changed.html")]
struct MethodHtml<'a> {
    added: bool,
    method: &'a str,
    when: &'a str,
}
named!(
    MethodHtml<'a>,
    "mail/method_changed.html",
    [added, method, when]
);

/// Renders the "sign-in method added/removed" notice.
pub(super) fn method_changed(
    brand: &Branding,
    added: bool,
    method: &str,
    when: &str,
) -> Result<Rendered, RenderError> {
    let p = &brand.product;
    let subject = if added {
        format!("A sign-in method was added to your account at {p}")
    } else {
        format!("A sign-in method was removed from your account at {p}")
    };
    pair(
        brand,
        subject,
        &MethodText {
            added,
            method,
            when,
        },
        &MethodHtml {
            added,
            method,
            when,
        },
    )
}

/// Renders the address-verification mail.
pub(super) fn verify_mail(brand: &Branding, link: &str) -> Result<Rendered, RenderError> {
    let subject = format!("Confirm your email address for {}", brand.product);
    pair(brand, subject, &VerifyText { link }, &VerifyHtml { link })
}

/// These mails' templates, with their variables (docs/branding.md).
pub(crate) const TEMPLATES: &[Entry] = &[
    entry::<VerifyText<'static>>(),
    entry::<VerifyHtml<'static>>(),
    entry::<CodeText<'static>>(),
    entry::<CodeHtml<'static>>(),
    entry::<MethodText<'static>>(),
    entry::<MethodHtml<'static>>(),
];
