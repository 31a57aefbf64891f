//! Form bodies: arbitrary key/value pairs (duplicates, unknown keys, control characters, huge
//! values, invalid UTF-8) and arbitrary bytes to every form an attacker can post, with and
//! without a valid CSRF token. Never a 5xx; `/login` never signs garbage in; `/token` never
//! issues a token without the client's real credentials.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::{BoxedStrategy, Just, Strategy, any, prop_oneof};
use proptest::sample::select;
use reqwest::StatusCode;

use proptest::test_runner::TestCaseError;

use super::{Harness, Verdict, cookies_of, ensure, nasty, no_server_error, raw_bytes, send};
use crate::helpers::{Page, TestClient, csrf_from, query_param, read};
use crate::smtp::reset_link;

#[derive(Debug, Clone)]
pub(super) enum Csrf {
    Valid,
    Missing,
    Garbage(String),
    /// The valid token and a second, different one.
    Twice,
}

#[derive(Debug, Clone)]
pub(super) enum Body {
    Pairs(Vec<(String, String)>),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
pub(super) struct FormCase {
    pub csrf: Csrf,
    pub body: Body,
    /// `None`: `application/x-www-form-urlencoded`.
    pub content_type: Option<&'static str>,
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        12 => Just(None),
        1 => select(vec![
            "application/x-www-form-urlencoded; charset=utf-8",
            "application/x-www-form-urlencoded; charset=latin1",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded\t;",
            "",
            ";;;",
        ])
        .prop_map(Some),
    ]
}

/// A form for `fields`: mostly each field once (so the handler reads it), in any order, plus
/// now and then a duplicate or an unknown key; or arbitrary bytes. A field named in `special`
/// takes its values from that strategy instead of [`nasty`].
pub(super) fn form_case(
    fields: &'static [&'static str],
    special: &[(&'static str, BoxedStrategy<String>)],
) -> impl Strategy<Value = FormCase> + use<> {
    let values: Vec<BoxedStrategy<Option<String>>> = fields
        .iter()
        .map(|f| {
            let value = special
                .iter()
                .find(|(name, _)| name == f)
                .map_or_else(|| nasty().boxed(), |(_, s)| s.clone());
            prop_oneof![1 => Just(None), 6 => value.prop_map(Some)].boxed()
        })
        .collect();
    let present = values.prop_map(move |values| {
        fields
            .iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v)))
            .collect::<Vec<_>>()
    });
    let extra_key = prop_oneof![
        1 => select(fields).prop_map(str::to_owned),
        2 => nasty(),
    ];
    let extras = prop_oneof![
        3 => Just(vec![]),
        1 => proptest::collection::vec((extra_key, nasty()), 1..4),
    ];
    let pairs = (present, extras, any::<bool>()).prop_map(|(mut pairs, extras, reverse)| {
        if reverse {
            pairs.reverse();
        }
        pairs.extend(extras);
        Body::Pairs(pairs)
    });
    let csrf = prop_oneof![
        12 => Just(Csrf::Valid),
        1 => Just(Csrf::Missing),
        1 => nasty().prop_map(Csrf::Garbage),
        1 => Just(Csrf::Twice),
    ];
    let body = prop_oneof![
        6 => pairs,
        1 => raw_bytes().prop_map(Body::Raw),
    ];
    (csrf, body, content_type()).prop_map(|(csrf, body, content_type)| FormCase {
        csrf,
        body,
        content_type,
    })
}

/// The request body for `case`, given the session's real CSRF token.
pub(super) fn encode(case: &FormCase, token: &str) -> Vec<u8> {
    let csrf: Vec<(String, String)> = match &case.csrf {
        Csrf::Valid => vec![("csrf_token".into(), token.into())],
        Csrf::Missing => vec![],
        Csrf::Garbage(g) => vec![("csrf_token".into(), g.clone())],
        Csrf::Twice => vec![
            ("csrf_token".into(), token.into()),
            ("csrf_token".into(), format!("{token}x")),
        ],
    };
    match &case.body {
        Body::Pairs(pairs) => {
            let all: Vec<_> = csrf.iter().chain(pairs).cloned().collect();
            serde_urlencoded::to_string(&all).unwrap().into_bytes()
        }
        Body::Raw(bytes) => {
            let mut out = serde_urlencoded::to_string(&csrf).unwrap().into_bytes();
            if !out.is_empty() {
                out.push(b'&');
            }
            out.extend_from_slice(bytes);
            out
        }
    }
}

/// Posts `case` to `path` from a fresh browser whose CSRF token comes from `form_page`;
/// returns the response (`None`: an over-limit body was cut off) and that browser's cookies.
async fn post_case(
    h: &Harness,
    form_page: &str,
    path: &str,
    case: &FormCase,
) -> Result<(Option<Page>, String), TestCaseError> {
    let page = read(h.plain.get(h.app.url(form_page)).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "{form_page}");
    let token = csrf_from(&page.body);
    let cookies = cookies_of(&page);
    let body = encode(case, &token);
    let len = body.len();
    let req = h
        .plain
        .post(h.app.url(path))
        .header("cookie", &cookies)
        .header(
            "content-type",
            case.content_type
                .unwrap_or("application/x-www-form-urlencoded"),
        )
        .body(body);
    let page = send(req, len).await?;
    let after = match page.as_ref().map(cookies_of) {
        // A cycled session id replaces the old cookie.
        Some(c) if !c.is_empty() => c,
        _ => cookies,
    };
    Ok((page, after))
}

fn fuzz_page_form(target: &str, form_page: &str, path: &str, fields: &'static [&'static str]) {
    let h = Harness::start(|_| {});
    h.run(target, form_case(fields, &[]), |h, case| {
        h.block_on(async {
            let (page, _) = post_case(h, form_page, path, &case).await?;
            page.map_or(Ok(()), |page| no_server_error(path, &page))
        })
    });
    h.block_on(still_healthy(&h));
}

async fn still_healthy(h: &Harness) {
    assert_eq!(h.app.get("/readyz").await.status, StatusCode::OK);
}

const CHALLENGE_FIELDS: [&str; 4] = [
    "captcha_answer",
    "cf-turnstile-response",
    "h-captcha-response",
    "g-recaptcha-response",
];

#[test]
fn fuzz_form_bodies_login() {
    const FIELDS: &[&str] = &[
        "username",
        "password",
        CHALLENGE_FIELDS[0],
        CHALLENGE_FIELDS[1],
        CHALLENGE_FIELDS[2],
        CHALLENGE_FIELDS[3],
    ];
    let h = Harness::start(|_| {});
    let owner = h.block_on(h.app.user());
    // Half the usernames are the real account's email (with any password).
    let username = prop_oneof![Just(owner.email.clone()), nasty()].boxed();
    let case = form_case(FIELDS, &[("username", username)]);
    h.run("form/login", case, |h, case| {
        h.block_on(async {
            let (page, cookies) = post_case(h, "/login", "/login", &case).await?;
            let status = page.as_ref().map(|p| p.status);
            if let Some(page) = &page {
                no_server_error("/login", page)?;
            }
            let account = h.plain.get(h.app.url("/account")).header("cookie", cookies);
            let account = read(account.send().await.unwrap()).await;
            ensure(account.status != StatusCode::OK, || {
                format!("garbage signed in: POST answered {status:?}")
            })
        })
    });
    // The owner still signs in after all that.
    h.block_on(async {
        let page = h.app.post_login(&owner.email, &owner.password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    });
}

#[test]
fn fuzz_form_bodies_register() {
    const FIELDS: &[&str] = &["email", "password", CHALLENGE_FIELDS[0]];
    fuzz_page_form("form/register", "/register", "/register", FIELDS);
}

#[test]
fn fuzz_form_bodies_password_forgot() {
    const FIELDS: &[&str] = &["email", CHALLENGE_FIELDS[0], CHALLENGE_FIELDS[1]];
    fuzz_page_form(
        "form/password_forgot",
        "/password/forgot",
        "/password/forgot",
        FIELDS,
    );
}

#[test]
fn fuzz_form_bodies_password_reset() {
    const FIELDS: &[&str] = &["token", "password"];
    let h = Harness::start(|_| {});
    // A live reset link, so fuzzed passwords reach the reset itself, not only the token check.
    let live = h.block_on(async {
        let user = h.app.user().await;
        let csrf = h.app.get("/password/forgot").await.csrf();
        let sent = h
            .app
            .post_form(
                "/password/forgot",
                &[("email", &user.email), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        let mail = h.app.outbox(1).await;
        let link = reset_link(&mail[0]).expect("a reset link");
        query_param(&link, "token").expect("a token")
    });
    let token = prop_oneof![
        2 => Just(live.clone()),
        1 => nasty().prop_map(move |s| format!("{live}{s}")),
        2 => nasty(),
    ]
    .boxed();
    h.run(
        "form/password_reset",
        form_case(FIELDS, &[("token", token)]),
        |h, case| {
            h.block_on(async {
                let (page, _) = post_case(h, "/password/forgot", "/password/reset", &case).await?;
                page.map_or(Ok(()), |page| no_server_error("/password/reset", &page))
            })
        },
    );
    // The reset page's query is read too.
    h.run("query/password_reset", nasty(), |h, token| {
        h.block_on(async {
            let url = format!(
                "{}?token={}",
                h.app.url("/password/reset"),
                crate::helpers::urlenc(&token)
            );
            let page = send(h.plain.get(url), 0).await?;
            page.map_or(Ok(()), |page| no_server_error("GET /password/reset", &page))
        })
    });
    h.block_on(still_healthy(&h));
}

/// How a fuzzed token request authenticates its client.
#[derive(Debug, Clone)]
enum ClientAuth {
    None,
    /// The real id and secret in a Basic header.
    RealBasic,
    /// A Basic header carrying arbitrary bytes, base64-encoded (or not encoded at all).
    Basic(Vec<u8>, bool),
    /// `client_id` / `client_secret` form fields with arbitrary values.
    Post(String, String),
    /// The real id with a wrong secret.
    WrongSecret(String),
}

fn client_auth() -> impl Strategy<Value = ClientAuth> {
    prop_oneof![
        1 => Just(ClientAuth::None),
        2 => Just(ClientAuth::RealBasic),
        2 => (raw_bytes(), any::<bool>()).prop_map(|(b, enc)| ClientAuth::Basic(b, enc)),
        1 => (nasty(), nasty()).prop_map(|(i, s)| ClientAuth::Post(i, s)),
        2 => nasty().prop_map(ClientAuth::WrongSecret),
    ]
}

const TOKEN_FIELDS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
];

fn token_case() -> impl Strategy<Value = (Vec<(String, String)>, ClientAuth, Option<&'static str>)>
{
    let grant = prop_oneof![
        3 => select(vec![
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "urn:ietf:params:oauth:grant-type:device_code",
        ])
        .prop_map(str::to_owned),
        1 => nasty(),
    ];
    let field = prop_oneof![
        4 => (select(TOKEN_FIELDS).prop_map(str::to_owned), nasty()),
        1 => (nasty(), nasty()),
    ];
    (
        grant,
        proptest::collection::vec(field, 0..6),
        client_auth(),
        content_type(),
    )
        .prop_map(|(grant, mut fields, auth, ct)| {
            fields.insert(0, ("grant_type".into(), grant));
            (fields, auth, ct)
        })
}

#[test]
fn fuzz_form_bodies_token() {
    let h = Harness::start(|_| {});
    let client: TestClient = h.block_on(h.app.add_client(
        false,
        true,
        &["authorization_code", "refresh_token", "client_credentials"],
        &["openid", "email"],
    ));
    let secret = client.secret.clone().unwrap();
    h.run("form/token", token_case(), |h, (fields, auth, ct)| {
        let mut req = h.plain.post(h.app.url("/token"));
        let mut fields = fields.clone();
        match &auth {
            ClientAuth::None => {}
            ClientAuth::RealBasic => req = req.basic_auth(&client.id, Some(&secret)),
            ClientAuth::Basic(bytes, encode) => {
                let value = if *encode {
                    format!("Basic {}", STANDARD.encode(bytes))
                } else {
                    format!("Basic {}", String::from_utf8_lossy(bytes))
                };
                if let Ok(v) = reqwest::header::HeaderValue::from_str(&value) {
                    req = req.header("authorization", v);
                }
            }
            ClientAuth::Post(id, s) => {
                fields.push(("client_id".into(), id.clone()));
                fields.push(("client_secret".into(), s.clone()));
            }
            ClientAuth::WrongSecret(s) => {
                let wrong = if *s == secret {
                    format!("{s}x")
                } else {
                    s.clone()
                };
                req = req.basic_auth(&client.id, Some(wrong));
            }
        }
        let body = serde_urlencoded::to_string(&fields).unwrap();
        let len = body.len();
        let req = req
            .header(
                "content-type",
                ct.unwrap_or("application/x-www-form-urlencoded"),
            )
            .body(body);
        h.block_on(async {
            let Some(page) = send(req, len).await? else {
                return Ok(());
            };
            no_server_error("/token", &page)?;
            if page.status == StatusCode::OK {
                // Only the real client, authenticated, with a grant it may use and no
                // authorization code or refresh token (none was ever issued here).
                ensure(matches!(auth, ClientAuth::RealBasic), || {
                    format!("token issued with {auth:?}: {}", page.body)
                })?;
                let json: serde_json::Value = serde_json::from_str(&page.body).unwrap();
                ensure(json.get("access_token").is_some(), || page.body.clone())?;
            }
            Verdict::Ok(())
        })
    });
    h.block_on(still_healthy(&h));
}
