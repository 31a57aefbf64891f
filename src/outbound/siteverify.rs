//! The outbound `siteverify` call for third-party CAPTCHA providers (Turnstile, hCaptcha,
//! reCAPTCHA) over reqwest: 5 s timeout, no redirects, fail closed (an unreachable provider
//! means the challenge is not passed). Implements the domain's `Verifier`: it reads the
//! answer's `success`, `hostname` and `action`; the domain decides (`Remote::accepts`).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::captcha::{SiteAnswer, Verifier};

/// `siteverify` over HTTPS (or whatever URL is configured).
#[derive(Debug, Clone)]
pub struct HttpVerifier {
    client: reqwest::Client,
}

impl HttpVerifier {
    /// A verifier with its own client.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client })
    }
}

#[derive(serde::Deserialize)]
struct VerifyResponse {
    success: bool,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    action: Option<String>,
}

#[async_trait]
impl Verifier for HttpVerifier {
    async fn verify(
        &self,
        url: &str,
        secret: &SecretString,
        token: &str,
        remote_ip: &str,
    ) -> Option<SiteAnswer> {
        let form = [
            ("secret", secret.expose_secret()),
            ("response", token),
            ("remoteip", remote_ip),
        ];
        let response = match self.client.post(url).form(&form).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::warn!(status = %r.status(), "captcha verification refused");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "captcha provider unreachable");
                return None;
            }
        };
        let v = response.json::<VerifyResponse>().await.ok()?;
        Some(SiteAnswer {
            success: v.success,
            hostname: v.hostname,
            action: v.action,
        })
    }
}
