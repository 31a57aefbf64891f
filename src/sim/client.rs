//! The simulator's HTTP driver: one seeded generator, the simulated time, the ground truth
//! (request id → scenario), and the two browser flows it drives through the real forms,
//! sign-in and registration. Everything goes over HTTP (reqwest); nothing calls the server's code.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::sim::Advance;
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
}

/// The `value` of the input named `name` in a page.
fn field(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let rest = body.get(at..)?;
    let v = rest.find("value=\"")? + 7;
    let end = rest.get(v..)?.find('"')?;
    rest.get(v..v + end).map(str::to_owned)
}

/// The `name=value` pairs a response sets.
fn cookies_of(resp: &reqwest::Response) -> Vec<(String, String)> {
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
fn device_cookie_of(resp: &reqwest::Response) -> Option<String> {
    cookies_of(resp)
        .into_iter()
        .find(|(k, _)| k.ends_with("authd_device"))
        .map(|(_, v)| v)
}

/// Who signs in, from where, with what (for answering a challenge).
struct Attempt<'a> {
    ip: &'a str,
    device: &'a Device,
    email: &'a str,
    password: &'a str,
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
        let outcome = match status.as_u16() {
            303 => Outcome::Allowed,
            429 => Outcome::Blocked,
            401 => {
                let body = resp.text().await?;
                if !body.contains("data-challenge") {
                    Outcome::Failed
                } else if scenario == "legit" && !self.captcha_answer.is_empty() {
                    // A legitimate user answers the challenge and goes on (the friction is
                    // already counted); attackers stop here.
                    let csrf = field(&body, "csrf_token").unwrap_or(csrf);
                    let (got_in, kept) = self.answer_challenge(&a, &cookies, &csrf).await?;
                    self.owners_challenged += 1;
                    self.owners_got_in += usize::from(got_in);
                    return Ok((Outcome::Challenged, kept.or(device_cookie)));
                } else {
                    Outcome::Challenged
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

    /// Posts the form again with the CAPTCHA answer; returns whether it signed in (a 303) and
    /// the device cookie it sets.
    async fn answer_challenge(
        &self,
        a: &Attempt<'_>,
        cookies: &[(String, String)],
        csrf: &str,
    ) -> anyhow::Result<(bool, Option<String>)> {
        let again = self
            .http
            .post(format!("{}/login", self.base))
            .header("x-forwarded-for", a.ip)
            .header("user-agent", a.device.agent)
            .header("cookie", cookie_header(cookies))
            .form(&[
                ("username", a.email),
                ("password", a.password),
                ("csrf_token", csrf),
                ("captcha_answer", self.captcha_answer.as_str()),
            ])
            .send()
            .await?;
        if again.status().is_server_error() {
            bail!("status {} answering the challenge", again.status());
        }
        Ok((again.status().as_u16() == 303, device_cookie_of(&again)))
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
