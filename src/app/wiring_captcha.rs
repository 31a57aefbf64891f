//! Wiring of the outbound parts: the CAPTCHA provider (with its HTTP verifier) a config names.

use std::sync::Arc;

use anyhow::Context;

use crate::config::{CaptchaKind, Config};
use crate::domain::captcha::{Captchas, Remote, RemoteKind};
use crate::outbound::siteverify::HttpVerifier;

/// The CAPTCHA provider: built-in, the fixed test answer, or a third party verified over
/// `siteverify`.
pub(super) fn captchas(config: &Config) -> anyhow::Result<Captchas> {
    let kind = match config.captcha {
        CaptchaKind::Builtin => return Ok(Captchas::Builtin),
        CaptchaKind::Test => {
            let answer = config
                .captcha_test_answer
                .clone()
                .ok_or_else(|| anyhow::anyhow!("AUTHD_CAPTCHA_TEST_ANSWER missing"))?;
            return Ok(Captchas::Test(answer));
        }
        CaptchaKind::Turnstile => RemoteKind::Turnstile,
        CaptchaKind::Hcaptcha => RemoteKind::Hcaptcha,
        CaptchaKind::Recaptcha => RemoteKind::Recaptcha,
    };
    let (Some(site_key), Some(secret)) = (
        config.captcha_site_key.clone(),
        config.captcha_secret.clone(),
    ) else {
        anyhow::bail!("AUTHD_CAPTCHA_SECRET: the provider needs a site key and a secret");
    };
    let verifier = HttpVerifier::new().context("AUTHD_CAPTCHA: HTTP client")?;
    Ok(Captchas::Remote(Remote {
        kind,
        site_key,
        secret,
        verify_url: config
            .captcha_verify_url
            .clone()
            .unwrap_or_else(|| kind.default_verify_url().to_owned()),
        verifier: Arc::new(verifier),
        hostname: config
            .issuer
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned(),
    }))
}
