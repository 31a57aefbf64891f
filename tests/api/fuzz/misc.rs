//! The other parsers an attacker reaches: the consent form (with a live pending request), the
//! logout and "wasn't you?" forms (and the confirmation's reset button), the `/login`,
//! `/unlock`, `/not-me` and `/end_session` queries, and the `/introspect`, `/revoke` and `/risk/evaluate` bodies. Never a 5xx; a
//! redirect stays on site or goes to a registered URI.

use proptest::prelude::{BoxedStrategy, Just, Strategy, prop_oneof};
use proptest::sample::select;

use super::forms::{FormCase, encode, form_case};
use super::redirects::lands_on_registered;
use super::{
    Harness, Verdict, cookies_of, ensure, is_local, location, nasty, no_server_error, raw_bytes,
    send,
};
use crate::helpers::{Page, csrf_from, input_value, pkce, read, urlenc};

/// Signs `email` in on a fresh cookie-less browser; returns its `Cookie` header.
async fn sign_in(h: &Harness, email: &str, password: &str) -> String {
    let form = read(h.plain.get(h.app.url("/login")).send().await.unwrap()).await;
    let cookies = cookies_of(&form);
    let resp = h
        .plain
        .post(h.app.url("/login"))
        .header("cookie", &cookies)
        .form(&[
            ("username", email),
            ("password", password),
            ("csrf_token", &csrf_from(&form.body)),
        ])
        .send()
        .await
        .unwrap();
    let page = read(resp).await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
    cookies_of(&page)
}

/// Posts `case` to `path` with `cookies` and the CSRF token `csrf`.
async fn post(
    h: &Harness,
    path: &str,
    cookies: &str,
    csrf: &str,
    case: &FormCase,
) -> Result<Option<Page>, proptest::test_runner::TestCaseError> {
    let body = encode(case, csrf);
    let len = body.len();
    let req = h
        .plain
        .post(h.app.url(path))
        .header("cookie", cookies)
        .header(
            "content-type",
            case.content_type
                .unwrap_or("application/x-www-form-urlencoded"),
        )
        .body(body);
    send(req, len).await
}

fn check_redirect(what: &str, page: &Page) -> Verdict {
    no_server_error(what, page)?;
    if !page.status.is_redirection() {
        return Ok(());
    }
    let loc = location(page);
    ensure(is_local(&loc) || lands_on_registered(&loc, true), || {
        format!("{what} redirected to {loc}")
    })
}

#[test]
fn fuzz_consent_form() {
    const FIELDS: &[&str] = &["request_id", "consent"];
    let h = Harness::start(|_| {});
    let (cookies, client) = h.block_on(async {
        let user = h.app.user().await;
        // Not first-party: its requests stop at the consent page.
        let client = h
            .app
            .add_client(true, false, &["authorization_code"], &["openid", "email"])
            .await;
        (sign_in(&h, &user.email, &user.password).await, client)
    });
    let (_, challenge) = pkce();
    let authorize = format!(
        "{}?{}",
        h.app.url("/authorize"),
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("scope", "openid email"),
            ("prompt", "consent"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );
    // "LIVE" stands for the pending request's real id, filled in per case.
    let request_id = prop_oneof![2 => Just("LIVE".to_owned()), 1 => nasty()].boxed();
    let consent = prop_oneof![
        2 => select(vec!["allow", "deny", "ALLOW", "allow "]).prop_map(str::to_owned),
        1 => nasty(),
    ]
    .boxed();
    let case = form_case(FIELDS, &[("request_id", request_id), ("consent", consent)]);
    h.run("misc/consent", case, |h, mut case| {
        h.block_on(async {
            let page = read(
                h.plain
                    .get(&authorize)
                    .header("cookie", &cookies)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            ensure(page.status == reqwest::StatusCode::OK, || {
                format!("no consent page: {} {}", page.status, location(&page))
            })?;
            let live = input_value(&page.body, "request_id");
            if let super::forms::Body::Pairs(pairs) = &mut case.body {
                for (k, v) in pairs.iter_mut() {
                    if k == "request_id" && v == "LIVE" {
                        v.clone_from(&live);
                    }
                }
            }
            let csrf = csrf_from(&page.body);
            match post(h, "/authorize/consent", &cookies, &csrf, &case).await? {
                Some(page) => check_redirect("/authorize/consent", &page),
                None => Ok(()),
            }
        })
    });
}

#[test]
fn fuzz_logout_and_not_me_forms() {
    let h = Harness::start(|_| {});
    let user = h.block_on(h.app.user());
    let case = (
        select(vec!["/logout", "/not-me", "/not-me/reset"]),
        form_case(&["token", "reset_token"], &[]),
    );
    h.run("misc/logout_not_me", case, |h, (path, case)| {
        h.block_on(async {
            // A fresh signed-in browser per case: a successful logout must not leak into the next.
            let cookies = sign_in(h, &user.email, &user.password).await;
            let account = h
                .plain
                .get(h.app.url("/account"))
                .header("cookie", &cookies);
            let account = read(account.send().await.unwrap()).await;
            let csrf = csrf_from(&account.body);
            match post(h, path, &cookies, &csrf, &case).await? {
                Some(page) => check_redirect(path, &page),
                None => Ok(()),
            }
        })
    });
}

/// A query string: known names with fuzzed values (sometimes twice), or raw text.
fn query(names: &'static [&'static str]) -> BoxedStrategy<String> {
    let pair = (
        prop_oneof![3 => select(names).prop_map(str::to_owned), 1 => nasty()],
        nasty(),
    );
    prop_oneof![
        3 => proptest::collection::vec(pair, 0..5)
            .prop_map(|p| serde_urlencoded::to_string(p).unwrap()),
        1 => nasty(),
        1 => nasty().prop_map(|s| urlenc(&s)),
    ]
    .boxed()
}

#[test]
fn fuzz_page_queries() {
    let h = Harness::start(|_| {});
    let cookies = h.block_on(async {
        let user = h.app.user().await;
        sign_in(&h, &user.email, &user.password).await
    });
    let case = (
        select(vec![
            (
                "/login",
                &["next", "registered", "reset", "reauth", "login_hint"][..],
            ),
            ("/unlock", &["token"][..]),
            ("/not-me", &["token"][..]),
            (
                "/end_session",
                &[
                    "id_token_hint",
                    "client_id",
                    "post_logout_redirect_uri",
                    "state",
                ][..],
            ),
            ("/password/reset", &["token"][..]),
            ("/account", &["x"][..]),
        ])
        .prop_flat_map(|(path, names)| (Just(path), query(names))),
        proptest::bool::ANY,
    );
    h.run("misc/queries", case, |h, ((path, query), signed_in)| {
        let url = format!("{}?{query}", h.app.url(path));
        h.block_on(async {
            let mut req = h.plain.get(url);
            if signed_in {
                req = req.header("cookie", &cookies);
            }
            match send(req, 0).await? {
                Some(page) => check_redirect(path, &page),
                None => Ok(()),
            }
        })
    });
}

#[test]
fn fuzz_token_endpoint_bodies() {
    let h = Harness::start(|_| {});
    let (client, caller) = h.block_on(async {
        let client = h
            .app
            .add_client(false, true, &["client_credentials"], &[])
            .await;
        let (_, cc) = h
            .app
            .token(&client, &[("grant_type", "client_credentials")])
            .await;
        let caller = cc["access_token"].as_str().unwrap().to_owned();
        (client, caller)
    });
    let secret = client.secret.clone().unwrap();
    let json_body = prop_oneof![
        raw_bytes(),
        (
            nasty(),
            prop_oneof![
                3 => select(vec!["203.0.113.9", "::1", "10.0.0.1", "::ffff:1.2.3.4"])
                    .prop_map(str::to_owned),
                1 => nasty(),
            ],
            nasty(),
        )
            .prop_map(|(t, ip, ua)| {
                serde_json::json!({"token": t, "ip": ip, "user_agent": ua})
                    .to_string()
                    .into_bytes()
            }),
    ];
    let case = (
        select(vec!["/introspect", "/revoke", "/risk/evaluate"]),
        form_case(&["token", "token_type_hint"], &[]),
        json_body,
    );
    h.run("misc/token_bodies", case, |h, (path, form, json)| {
        let req = h.plain.post(h.app.url(path));
        let (req, len) = if path == "/risk/evaluate" {
            let len = json.len();
            let req = req
                .bearer_auth(&caller)
                .header(
                    "content-type",
                    form.content_type.unwrap_or("application/json"),
                )
                .body(json);
            (req, len)
        } else {
            let body = encode(&form, "");
            let len = body.len();
            let req = req
                .basic_auth(&client.id, Some(&secret))
                .header(
                    "content-type",
                    form.content_type
                        .unwrap_or("application/x-www-form-urlencoded"),
                )
                .body(body);
            (req, len)
        };
        h.block_on(async {
            match send(req, len).await? {
                Some(page) => no_server_error(path, &page),
                None => Ok(()),
            }
        })
    });
}

/// A cookie value as a browser (or an attacker's script) can send it.
fn cookie_text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => "[!#-+\\--:<-\\[\\]-~]{0,80}",
        1 => "[ -~]{0,80}",
        1 => (1usize..6_000).prop_map(|n| "A".repeat(n)),
    ]
}

#[derive(Debug, Clone)]
enum Device {
    Absent,
    /// The owner's real device cookie with one character replaced.
    Mutated(f64, char),
    Real,
    Text(String),
}

#[test]
fn fuzz_cookies() {
    let h = Harness::start(|_| {});
    let user = h.block_on(h.app.user());
    // The owner's real device cookie, from a first sign-in.
    let device = h.block_on(async {
        let cookies = sign_in(&h, &user.email, &user.password).await;
        cookies
            .split("; ")
            .find_map(|c| c.strip_prefix("authd_device="))
            .map(str::to_owned)
            .unwrap_or_default()
    });
    let device_case = prop_oneof![
        1 => Just(Device::Absent),
        1 => Just(Device::Real),
        2 => (0.0..1.0f64, proptest::char::range('!', '~')).prop_map(|(a, c)| Device::Mutated(a, c)),
        2 => cookie_text().prop_map(Device::Text),
    ];
    let case = (
        proptest::option::of(cookie_text()),
        device_case,
        proptest::collection::vec((cookie_text(), cookie_text()), 0..3),
        proptest::bool::ANY,
    );
    h.run(
        "misc/cookies",
        case,
        |h, (session, device_case, extra, right_password)| {
            let device_value = match &device_case {
                Device::Absent => None,
                Device::Real => Some(device.clone()),
                Device::Text(t) => Some(t.clone()),
                Device::Mutated(at, c) => {
                    let mut chars: Vec<char> = device.chars().collect();
                    let i = ((chars.len() as f64) * at) as usize;
                    if let Some(slot) = chars.get_mut(i) {
                        *slot = *c;
                    }
                    Some(chars.into_iter().collect())
                }
            };
            h.block_on(async {
                let form = read(h.plain.get(h.app.url("/login")).send().await.unwrap()).await;
                // The real session cookie, or a forged one in its place.
                let mut cookie = match &session {
                    None => cookies_of(&form),
                    Some(s) => format!("authd_session={s}"),
                };
                if let Some(d) = &device_value {
                    cookie.push_str(&format!("; authd_device={d}"));
                }
                for (k, v) in &extra {
                    cookie.push_str(&format!("; {k}={v}"));
                }
                let Ok(cookie) = reqwest::header::HeaderValue::from_str(&cookie) else {
                    return Ok(());
                };
                let password = if right_password {
                    user.password.clone()
                } else {
                    "not the password".to_owned()
                };
                let req = h
                    .plain
                    .post(h.app.url("/login"))
                    .header("cookie", cookie.clone())
                    .form(&[
                        ("username", user.email.as_str()),
                        ("password", password.as_str()),
                        ("csrf_token", &csrf_from(&form.body)),
                    ]);
                let Some(page) = send(req, 0).await? else {
                    return Ok(());
                };
                check_redirect("/login", &page)?;
                ensure(
                    page.status != reqwest::StatusCode::SEE_OTHER || right_password,
                    || "signed in with the wrong password".into(),
                )?;
                // A forged session cookie never reaches a signed-in page.
                if session.is_some() {
                    let req = h.plain.get(h.app.url("/account")).header("cookie", cookie);
                    if let Some(page) = send(req, 0).await? {
                        no_server_error("/account", &page)?;
                        ensure(page.status != reqwest::StatusCode::OK, || {
                            format!("forged session cookie {session:?} is signed in")
                        })?;
                    }
                }
                Ok(())
            })
        },
    );
}
