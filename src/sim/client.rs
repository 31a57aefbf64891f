//! The simulator's HTTP driver: one seeded generator, the simulated time, the ground truth
//! (request id → scenario), and the two browser flows it drives through the real forms,
//! sign-in and registration. Everything goes over HTTP (reqwest); nothing calls the server's code.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::sim::Advance;
use crate::sim::challenge::Side;
use crate::sim::mailbox::{Mailbox, verify_token_in};
use crate::sim::population::{Countries, Device, User};
use crate::sim::report::Outcome;

/// The running simulation: the client, the generator and what it has done so far.
pub(super) struct Sim {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) rng: ChaCha8Rng,
    pub(super) captcha_answer: String,
    pub(super) next_request: u64,
    /// request id → scenario.
    pub(super) truth: HashMap<String, String>,
    /// Simulated seconds since the start (drives the hours of day).
    pub(super) elapsed: i64,
    pub(super) advance: Option<Advance>,
    pub(super) geo: Option<Arc<Countries>>,
    /// The cookies after the last sign-in (its session, for the token flow).
    pub(super) last_cookies: Vec<(String, String)>,
    /// Legitimate sign-ins that met a challenge, and of them the ones that answered it and
    /// got in.
    pub(super) owners_challenged: usize,
    pub(super) owners_got_in: usize,
    /// The ids of the `attack_detected` events already reported.
    pub(super) seen_waves: std::collections::HashSet<String>,
    /// The owners' mail (`--mail-dir`): with it they verify their address and answer the
    /// e-mailed code.
    pub(super) mailbox: Option<Mailbox>,
    /// The challenge the last sign-in met first (`captcha`, `email`, …), if any.
    pub(super) last_challenge: Option<String>,
    /// Every legitimate sign-in that met friction: behaviour, challenge, whether it got in.
    pub(super) friction_log: Vec<String>,
}

/// The `value` of the input named `name` in a page.
pub(super) fn field(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let rest = body.get(at..)?;
    let v = rest.find("value=\"")? + 7;
    let end = rest.get(v..)?.find('"')?;
    rest.get(v..v + end).map(str::to_owned)
}

/// The `name=value` pairs a response sets.
pub(super) fn cookies_of(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| {
            let pair = c.split(';').next()?;
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// A `Cookie` header value.
pub(super) fn cookie_header(c: &[(String, String)]) -> String {
    c.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The device cookie a response sets, if any.
pub(super) fn device_cookie_of(resp: &reqwest::Response) -> Option<String> {
    cookies_of(resp)
        .into_iter()
        .find(|(k, _)| k.ends_with("authd_device"))
        .map(|(_, v)| v)
}

/// Who signs in, from where, with what (for answering a challenge).
pub(super) struct Attempt<'a> {
    pub(super) ip: &'a str,
    pub(super) device: &'a Device,
    pub(super) email: &'a str,
    pub(super) password: &'a str,
}

/// Who answers the challenges of a scenario's attempts: owners, and the attackers who hold
/// the right password (takeovers, the stuffing list); the campaigns' bots do not.
fn side_of(scenario: &str) -> Option<Side> {
    match scenario {
        "legit" => Some(Side::Owner),
        "credential_stuffing" => Some(Side::Attacker),
        s if s.starts_with("takeover") => Some(Side::Attacker),
        _ => None,
    }
}

impl Sim {
    /// A host in the /24 `net`.
    pub(super) fn ip(&mut self, net: [u8; 3]) -> String {
        let host = self.rng.random_range(2..250u8);
        format!("{}.{}.{}.{host}", net[0], net[1], net[2])
    }

    /// A fresh request id, remembered as belonging to `scenario`.
    fn request_id(&mut self, scenario: &str) -> String {
        self.next_request += 1;
        let id = format!("sim-{}-{}", self.next_request, self.rng.random::<u32>());
        self.truth.insert(id.clone(), scenario.to_owned());
        id
    }

    /// Moves simulated time (and, in tests, the server's clock) on.
    pub(super) fn pass_time(&mut self, secs: i64) {
        self.elapsed += secs;
        if let Some(a) = &self.advance {
            a(secs);
        }
    }

    /// One sign-in through the form; returns the outcome and the device cookie to keep.
    pub(super) async fn sign_in(
        &mut self,
        scenario: &str,
        ip: &str,
        device: &Device,
        email: &str,
        password: &str,
    ) -> anyhow::Result<(Outcome, Option<String>)> {
        let a = Attempt {
            ip,
            device,
            email,
            password,
        };
        let mut cookies: Vec<(String, String)> = device
            .cookie
            .as_ref()
            .map(|c| vec![("authd_device".to_owned(), c.clone())])
            .unwrap_or_default();
        let csrf = self.login_form(ip, device, &mut cookies).await?;
        let rid = self.request_id(scenario);
        // Files carry the kernel's coarse time: a little margin before the request.
        #[allow(
            clippy::disallowed_methods,
            reason = "the simulator is a client: it compares with the outbox files' real mtimes"
        )]
        let posted = std::time::SystemTime::now() - std::time::Duration::from_millis(50);
        let resp = self
            .http
            .post(format!("{}/login", self.base))
            .header("x-forwarded-for", ip)
            .header("user-agent", device.agent)
            .header("x-request-id", &rid)
            .header("cookie", cookie_header(&cookies))
            .form(&[
                ("username", email),
                ("password", password),
                ("csrf_token", &csrf),
            ])
            .send()
            .await?;
        let status = resp.status();
        let set = cookies_of(&resp);
        let device_cookie = set
            .iter()
            .find(|(k, _)| k.ends_with("authd_device"))
            .map(|(_, v)| v.clone())
            .or_else(|| device.cookie.clone());
        cookies.extend(set);
        self.last_cookies.clone_from(&cookies);
        self.last_challenge = None;
        let outcome = match status.as_u16() {
            303 => Outcome::Allowed,
            429 => Outcome::Blocked,
            401 => {
                let body = resp.text().await?;
                self.last_challenge = crate::sim::challenge::challenge_kind(&body);
                match side_of(scenario) {
                    _ if !body.contains("data-challenge") => Outcome::Failed,
                    Some(side) => {
                        // The friction (or the stop) is counted; the attempt goes on as far as
                        // its side can take it.
                        let answered = self
                            .answer_challenges(&a, posted, &mut cookies, body, side)
                            .await?;
                        self.last_cookies.clone_from(&cookies);
                        if side == Side::Owner {
                            self.owners_challenged += 1;
                            self.owners_got_in += usize::from(answered.got_in);
                        }
                        let kept = answered.device_cookie.or(device_cookie);
                        let o = if answered.got_in {
                            Outcome::Passed
                        } else {
                            Outcome::Challenged
                        };
                        return Ok((o, kept));
                    }
                    None => Outcome::Challenged,
                }
            }
            other => bail!("unexpected status {other} from POST /login"),
        };
        Ok((outcome, device_cookie))
    }

    /// Opens the sign-in form (keeping the cookies it sets); returns its CSRF token.
    async fn login_form(
        &self,
        ip: &str,
        device: &Device,
        cookies: &mut Vec<(String, String)>,
    ) -> anyhow::Result<String> {
        let page = self
            .http
            .get(format!("{}/login", self.base))
            .header("x-forwarded-for", ip)
            .header("user-agent", device.agent)
            .header("cookie", cookie_header(cookies))
            .send()
            .await?;
        cookies.extend(cookies_of(&page));
        let body = page.text().await?;
        field(&body, "csrf_token").context("no csrf_token on /login")
    }

    /// Registers `user` through the form, from their home network.
    pub(super) async fn register(&mut self, user: &User) -> anyhow::Result<()> {
        let page = self
            .http
            .get(format!("{}/register", self.base))
            .header("x-forwarded-for", "198.18.255.1")
            .send()
            .await?;
        let cookies = cookie_header(&cookies_of(&page));
        let csrf = field(&page.text().await?, "csrf_token").context("no csrf on /register")?;
        // Registrations come from many networks (one per user), as in real life.
        let ip = format!("{}.{}.{}.1", user.home[0], user.home[1], user.home[2]);
        let resp = self
            .http
            .post(format!("{}/register", self.base))
            .header("x-forwarded-for", ip)
            .header("cookie", cookies)
            .form(&[
                ("email", user.email.as_str()),
                ("password", user.password.as_str()),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await?;
        if !resp.status().is_redirection() {
            bail!("registering {} gave {}", user.email, resp.status());
        }
        Ok(())
    }

    /// With a mailbox: `user` follows the registration mail's link and confirms, from home.
    pub(super) async fn verify_address(&mut self, user: &User) -> anyhow::Result<()> {
        let Some(mailbox) = self.mailbox.as_mut() else {
            return Ok(());
        };
        let mail = mailbox
            .wait_for(&user.email, "/verify-email?token=", std::time::UNIX_EPOCH)
            .await?;
        let token = verify_token_in(&mail).context("no link in the verification mail")?;
        let ip = format!("{}.{}.{}.1", user.home[0], user.home[1], user.home[2]);
        let page = self
            .http
            .get(format!("{}/verify-email?token={token}", self.base))
            .header("x-forwarded-for", &ip)
            .send()
            .await?;
        let cookies = cookie_header(&cookies_of(&page));
        let csrf = field(&page.text().await?, "csrf_token").context("no csrf on /verify-email")?;
        let done = self
            .http
            .post(format!("{}/verify-email", self.base))
            .header("x-forwarded-for", ip)
            .header("cookie", cookies)
            .form(&[("token", token.as_str()), ("csrf_token", csrf.as_str())])
            .send()
            .await?;
        if !done.status().is_success() {
            bail!("verifying {} gave {}", user.email, done.status());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_input_value() {
        let body = r#"<input type="hidden" name="csrf_token" value="abc123">"#;
        assert_eq!(field(body, "csrf_token").as_deref(), Some("abc123"));
        assert_eq!(field(body, "other"), None);
        assert_eq!(
            field(r#"name="csrf_token" value="open"#, "csrf_token"),
            None
        );
    }

    #[test]
    fn builds_a_cookie_header() {
        let c = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ];
        assert_eq!(cookie_header(&c), "a=1; b=2");
        assert_eq!(cookie_header(&[]), "");
    }
}
