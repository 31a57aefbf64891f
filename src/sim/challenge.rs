//! What the one signing in does when the sign-in form answers with a challenge. An **owner**
//! answers it: the CAPTCHA, or the step-up's e-mailed code, read from their own mailbox (the
//! mail the server delivered, `mailbox.rs`). A takeover's **attacker** is a person with the
//! password but neither the victim's mailbox nor their devices: they answer a CAPTCHA (a
//! person, or a solving service, can), and at a step-up they guess a code — each a real
//! answer posted to the server, a `challenge_failed` there — or give up; whether they got a
//! session is then asked of the server (`GET /account` with their cookies). Campaign **bots**
//! (stuffing, brute force, spraying) give up at any challenge.

use rand::RngExt;

use crate::sim::client::{Attempt, Sim, cookie_header, cookies_of, device_cookie_of, field, merge};
use crate::sim::mailbox::sign_in_code;
use crate::sim::report::{Challenge, Outcome, Signed};

/// Who is signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The account's owner.
    Owner,
    /// A person taking the account over with its password.
    Attacker,
    /// A campaign's automation (and an owner's typo: the right password comes next).
    Bot,
}

impl Role {
    /// The role behind a scenario's attempts.
    pub(super) fn of(scenario: &str) -> Self {
        match scenario {
            "legit" | "legit_step_up" => Self::Owner,
            s if s.starts_with("takeover") => Self::Attacker,
            _ => Self::Bot,
        }
    }
}

/// A challenge shown: its kind (`data-challenge`), the form's CSRF token and the browser's
/// cookies (its pending sign-in).
pub(super) struct Met {
    /// The scenario of the attempt: its answers are tagged `answer:<scenario>`, so a victim's
    /// report (with labels) covers an attacker's session, and the scores stay the first
    /// answer's.
    pub(super) scenario: String,
    pub(super) kind: String,
    pub(super) csrf: String,
    pub(super) cookies: Vec<(String, String)>,
}

/// The `data-challenge` a page shows, if any.
pub(super) fn challenge_of(body: &str) -> Option<String> {
    let at = body.find("data-challenge=\"")? + "data-challenge=\"".len();
    let rest = body.get(at..)?;
    rest.get(..rest.find('"')?).map(str::to_owned)
}

/// Codes an attacker guesses at a step-up before giving up: none or one (a guess has one
/// chance in a million; more would only lengthen the run).
const MAX_GUESSES: u32 = 1;

impl Sim {
    /// `role` meets the challenge `met` of attempt `a`; returns how it ended and the device
    /// cookie a session brought.
    pub(super) async fn meet(
        &mut self,
        role: Role,
        a: &Attempt<'_>,
        mut met: Met,
    ) -> anyhow::Result<(Signed, Option<String>)> {
        let challenge = if met.kind == "captcha" {
            Challenge::Captcha
        } else {
            Challenge::StepUp
        };
        let mut signed = Signed {
            outcome: Outcome::Challenged,
            challenge: Some(challenge),
            session: false,
            guesses: 0,
        };
        let mut cookie = None;
        match (role, challenge) {
            (Role::Bot, _) => {}
            (_, Challenge::Captcha) => {
                if !self.captcha_answer.is_empty() {
                    let answer = self.captcha_answer.clone();
                    let fields = [
                        ("username", a.email),
                        ("password", a.password),
                        ("captcha_answer", answer.as_str()),
                    ];
                    (signed.session, cookie) = self.answer(a, &mut met, &fields).await?;
                }
            }
            (Role::Owner, Challenge::StepUp) => {
                let code = match (met.kind.as_str(), self.mailbox.as_mut()) {
                    ("email", Some(m)) => m.newest(a.email, sign_in_code).await?,
                    _ => None,
                };
                if let Some(code) = code {
                    let fields = [("username", a.email), ("email_code", code.as_str())];
                    (signed.session, cookie) = self.answer(a, &mut met, &fields).await?;
                }
            }
            (Role::Attacker, Challenge::StepUp) => {
                signed.guesses = self.guess(a, &mut met).await?;
                signed.session = self.signed_in(a, &met.cookies).await?;
            }
        }
        if role == Role::Owner {
            self.owners_challenged += 1;
            self.owners_got_in += usize::from(signed.session);
        }
        Ok((signed, cookie))
    }

    /// The attacker's guesses at a step-up's code (none for a passkey: nothing to type);
    /// returns how many were posted.
    async fn guess(&mut self, a: &Attempt<'_>, met: &mut Met) -> anyhow::Result<usize> {
        let input = match met.kind.as_str() {
            "email" => "email_code",
            "totp" => "totp_code",
            _ => return Ok(0),
        };
        let n = self.rng.random_range(0..=MAX_GUESSES);
        let mut posted = 0;
        for _ in 0..n {
            let code = format!("{:06}", self.rng.random_range(0..1_000_000u32));
            let fields = [("username", a.email), (input, code.as_str())];
            posted += 1;
            if self.answer(a, met, &fields).await?.0 {
                // A one-in-a-million guess: the caller asks the server whether it signed in.
                break;
            }
        }
        Ok(posted)
    }

    /// Posts `fields` (with the CSRF token) as the challenge's answer from the attempt's
    /// browser; returns whether it signed in (a 303) and the device cookie it set. Keeps the
    /// cookies and the next CSRF token in `met`.
    async fn answer(
        &mut self,
        a: &Attempt<'_>,
        met: &mut Met,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(bool, Option<String>)> {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", met.csrf.as_str()));
        let rid = self.request_id(&format!("answer:{}", met.scenario));
        let resp = self
            .http
            .post(format!("{}/login", self.base))
            .header("x-request-id", rid)
            .header("x-forwarded-for", a.ip)
            .header("user-agent", a.device.agent)
            .header("cookie", cookie_header(&met.cookies))
            .form(&form)
            .send()
            .await?;
        let status = resp.status();
        if status.is_server_error() {
            anyhow::bail!("status {status} answering the challenge");
        }
        let device = device_cookie_of(&resp);
        merge(&mut met.cookies, cookies_of(&resp));
        if status.as_u16() == 303 {
            return Ok((true, device));
        }
        if let Some(csrf) = field(&resp.text().await?, "csrf_token") {
            met.csrf = csrf;
        }
        Ok((false, None))
    }

    /// Whether the browser holding `cookies` is signed in (`/account` shows the account).
    async fn signed_in(
        &self,
        a: &Attempt<'_>,
        cookies: &[(String, String)],
    ) -> anyhow::Result<bool> {
        let resp = self
            .http
            .get(format!("{}/account", self.base))
            .header("x-forwarded-for", a.ip)
            .header("user-agent", a.device.agent)
            .header("cookie", cookie_header(cookies))
            .send()
            .await?;
        Ok(resp.status().is_success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_challenge_and_the_role() {
        let page =
            r#"<div class="challenge step-up" data-challenge="email"><input name="email_code">"#;
        assert_eq!(challenge_of(page).as_deref(), Some("email"));
        assert_eq!(challenge_of("<form></form>"), None);
        assert_eq!(Role::of("legit"), Role::Owner);
        assert_eq!(Role::of("takeover_exact_agent"), Role::Attacker);
        assert_eq!(Role::of("credential_stuffing"), Role::Bot);
        assert_eq!(Role::of("legit_typo"), Role::Bot);
    }
}
