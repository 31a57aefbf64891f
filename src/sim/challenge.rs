//! Answering what the sign-in form asks for after the password, as each side of the simulation
//! can: the CAPTCHA (the `test` provider's answer) is answered by owners and by takeover
//! attackers alike — a person with a stolen password, or a solving service, gets past a
//! CAPTCHA — while the e-mailed code is read by the owner from their mailbox (`mailbox.rs`)
//! and only guessed by the attacker, who has no access to it (never right: `guess_besides`).
//! Nobody in the simulation enrols an authenticator app or a passkey, so those challenges end
//! the attempt.

use rand::RngExt;

use crate::sim::client::{Attempt, Sim, cookie_header, cookies_of, device_cookie_of, field};
use crate::sim::mailbox::code_in;

/// Who is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The account's owner: answers the CAPTCHA and reads the mailed code.
    Owner,
    /// An attacker with the password: answers the CAPTCHA, guesses the code.
    Attacker,
}

/// Challenges answered in a row at most: a CAPTCHA, then a step-up code, and one more code
/// when the first was refused (an owner who picked up a code mailed for an attacker's attempt
/// on the account that was delivered late, as a person would, tries the newest mail next).
const MAX_STEPS: usize = 4;

/// What answering led to.
pub(super) struct Answered {
    /// Signed in (a 303).
    pub(super) got_in: bool,
    /// The device cookie set on the way, if any.
    pub(super) device_cookie: Option<String>,
}

impl Sim {
    /// Answers the challenge in `body` (the 401 page of the sign-in) and whatever follows it,
    /// keeping the session's cookies, as `side` can; `since`: when the sign-in was posted (the
    /// owner's code is in a mail written after it).
    pub(super) async fn answer_challenges(
        &mut self,
        a: &Attempt<'_>,
        since: std::time::SystemTime,
        cookies: &mut Vec<(String, String)>,
        mut body: String,
        side: Side,
    ) -> anyhow::Result<Answered> {
        let mut device_cookie = None;
        // The challenges answered so far, for the report of an attacker who got in.
        let mut trail: Vec<String> = Vec::new();
        for _ in 0..MAX_STEPS {
            let Some(kind) = challenge_kind(&body) else {
                break;
            };
            trail.push(kind.clone());
            let csrf = field(&body, "csrf_token").unwrap_or_default();
            let answer = match (kind.as_str(), side) {
                ("captcha", _) if !self.captcha_answer.is_empty() => {
                    ("captcha_answer", self.captcha_answer.clone())
                }
                ("email", Side::Owner) => {
                    match self.mailed_code(a.email, &body, since, side).await? {
                        Some(code) => ("email_code", code),
                        None => break,
                    }
                }
                // A uniform draw, never the mailed code itself: a lucky guess has one chance
                // in a million, the factor's design limit; counted as a way in, it would make
                // whether a run sees an attacker get in a matter of luck, not of the defence.
                ("email", Side::Attacker) => {
                    let draw = self.rng.random_range(0..1_000_000u32);
                    let mailed = self.mailed_code(a.email, &body, since, side).await?;
                    ("email_code", guess_besides(draw, mailed.as_deref()))
                }
                _ => break,
            };
            let mut form = vec![
                ("username", a.email.to_owned()),
                ("csrf_token", csrf),
                (answer.0, answer.1),
            ];
            if kind == "captcha" {
                form.push(("password", a.password.to_owned()));
            } else {
                form.push(("action", "step_up".to_owned()));
            }
            let resp = self
                .http
                .post(format!("{}/login", self.base))
                .header("x-forwarded-for", a.ip)
                .header("user-agent", a.device.agent)
                .header("cookie", cookie_header(cookies))
                .form(&form)
                .send()
                .await?;
            let status = resp.status();
            if status.is_server_error() {
                anyhow::bail!("status {status} answering the {kind} challenge");
            }
            device_cookie = device_cookie_of(&resp).or(device_cookie);
            cookies.extend(cookies_of(&resp));
            if status.as_u16() == 303 {
                if side == Side::Attacker {
                    // Never expected (the step-up is one an attacker cannot pass): say on which
                    // path, so a failing run tells where to look.
                    eprintln!(
                        "simulate: an attacker with the password got in from {} after answering {}",
                        a.ip,
                        trail.join(" > ")
                    );
                }
                return Ok(Answered {
                    got_in: true,
                    device_cookie,
                });
            }
            body = resp.text().await?;
        }
        Ok(Answered {
            got_in: false,
            device_cookie,
        })
    }

    /// The code mailed for this step-up, from the owner's mailbox: read by the owner, only
    /// looked at (left unread) for the attacker's guess; `None` when the server says it cannot
    /// send more codes now, or no mailbox was given.
    async fn mailed_code(
        &mut self,
        email: &str,
        page: &str,
        since: std::time::SystemTime,
        side: Side,
    ) -> anyhow::Result<Option<String>> {
        if page.contains("cannot send more codes") {
            return Ok(None);
        }
        let Some(mailbox) = self.mailbox.as_mut() else {
            return Ok(None);
        };
        let mail = match side {
            Side::Owner => mailbox.wait_for(email, "code is:", since).await?,
            Side::Attacker => mailbox.peek(email, "code is:", since).await?,
        };
        Ok(code_in(&mail))
    }
}

/// A uniform draw from 000000–999999 as the attacker's code, moved to the next number when it
/// is the code that was mailed.
pub(super) fn guess_besides(draw: u32, mailed: Option<&str>) -> String {
    let hit = mailed.and_then(|m| m.parse::<u32>().ok()) == Some(draw);
    format!("{:06}", if hit { (draw + 1) % 1_000_000 } else { draw })
}

/// The `data-challenge` kind of a page, if it asks for one.
pub(super) fn challenge_kind(body: &str) -> Option<String> {
    let marker = "data-challenge=\"";
    let at = body.find(marker)? + marker.len();
    let rest = body.get(at..)?;
    rest.get(..rest.find('"')?).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_challenge_kind() {
        let page = r#"<div class="challenge step-up" data-challenge="email">"#;
        assert_eq!(challenge_kind(page).as_deref(), Some("email"));
        assert_eq!(challenge_kind("<form>"), None);
    }

    #[test]
    fn an_attackers_guess_is_never_the_mailed_code() {
        assert_eq!(guess_besides(41_917, Some("041917")), "041918");
        assert_eq!(guess_besides(999_999, Some("999999")), "000000");
        assert_eq!(guess_besides(41_917, Some("000001")), "041917");
        assert_eq!(guess_besides(7, None), "000007");
    }
}
