//! Redirect URIs: mutations of the registered URIs (case, userinfo, ports, dot segments,
//! percent-encoding, backslashes, fragments, suffixes) and arbitrary strings as `redirect_uri`
//! to `/authorize`, as `post_logout_redirect_uri` to `/end_session`, and as `next` to
//! `/login`. A confidential client is only ever sent to a registered URI, exactly; a public
//! one to the same URI on any loopback port (RFC 8252 §7.3); everything else stays on site.

use proptest::prelude::{Just, Strategy, any, prop_oneof};
use proptest::sample::select;
use reqwest::StatusCode;

use super::{Harness, Verdict, ensure, is_local, location, nasty, no_server_error, send};
use crate::helpers::{REDIRECT_URI, TestClient, pkce, urlenc};

/// Both test clients register these (see `TestApp::add_client`).
const REGISTERED: [&str; 2] = [REDIRECT_URI, "http://127.0.0.1:7777/other?x=1"];
const POST_LOGOUT: &str = "http://127.0.0.1:7777/bye";

#[derive(Debug, Clone)]
enum Mutation {
    Insert(char),
    Delete,
    Upper,
}

/// Characters that change how a URL parses.
fn url_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => select(vec![
            '/', '\\', '@', ':', '#', '?', '&', '%', '.', ' ', '\t', '\n', '\r', '\0', 'A', '0',
            '[', ']', ';', '=', '+', '~', '\u{3002}', '\u{ff0f}', '\u{2044}',
        ]),
        1 => any::<char>(),
    ]
}

/// A registered URI, mutated.
fn mutated(base: &'static [&'static str]) -> impl Strategy<Value = String> {
    let mutation = prop_oneof![
        url_char().prop_map(Mutation::Insert),
        Just(Mutation::Delete),
        Just(Mutation::Upper),
    ];
    let affix = select(vec![
        "",
        "/",
        "/.",
        "/..",
        "/../callback",
        "#",
        "#x",
        "?",
        "?y=1",
        "&y=1",
        "%2F",
        "%00",
        "@evil.example",
        ".evil.example",
        ":80",
        ":7777",
        "\\@evil.example",
    ]);
    let prefix = select(vec![
        "",
        " ",
        "\t",
        "HTTP:",
        "https://evil.example/?",
        "//",
        "javascript:",
    ]);
    (
        select(base),
        proptest::collection::vec((0.0..1.0f64, mutation), 0..3),
        prefix,
        affix,
    )
        .prop_map(|(uri, edits, prefix, affix)| {
            let mut chars: Vec<char> = uri.chars().collect();
            for (at, m) in edits {
                let i = ((chars.len() as f64) * at) as usize;
                match m {
                    Mutation::Insert(c) => chars.insert(i.min(chars.len()), c),
                    Mutation::Delete if i < chars.len() => {
                        chars.remove(i);
                    }
                    Mutation::Upper if i < chars.len() => {
                        chars[i] = chars[i].to_ascii_uppercase();
                    }
                    _ => {}
                }
            }
            format!("{prefix}{}{affix}", chars.into_iter().collect::<String>())
        })
}

/// A URL assembled from parts, most of them close to the registered ones.
fn assembled() -> impl Strategy<Value = String> {
    (
        select(vec![
            "http",
            "HTTP",
            "https",
            "javascript",
            "data",
            "file",
            "",
        ]),
        select(vec!["", "user@", "127.0.0.1@", "a:b@", "evil.example@"]),
        select(vec![
            "127.0.0.1",
            "127.0.0.2",
            "[::1]",
            "localhost",
            "2130706433",
            "0x7f.0.0.1",
            "127.1",
            "evil.example",
            "127.0.0.1.evil.example",
        ]),
        select(vec!["", ":7777", ":7778", ":0", ":65535", ":99999", ":"]),
        select(vec![
            "/callback",
            "/other",
            "/callback/",
            "/Callback",
            "",
            "/x/../callback",
        ]),
        select(vec!["", "?x=1", "?x=1&y=2", "?x=2", "?"]),
        select(vec!["", "#", "#f"]),
    )
        .prop_map(|(s, u, h, p, path, q, f)| format!("{s}://{u}{h}{p}{path}{q}{f}"))
}

fn redirect_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => select(&REGISTERED[..]).prop_map(str::to_owned),
        4 => mutated(&REGISTERED),
        2 => assembled(),
        1 => nasty(),
    ]
}

/// Where `location` points must be a registered URI: exactly (the query may be extended with
/// the response's parameters), or for a public client the same URI on another loopback port.
pub fn lands_on_registered(location: &str, public: bool) -> bool {
    REGISTERED.iter().any(|reg| {
        let exact = location
            .strip_prefix(reg)
            .is_some_and(|rest| rest.starts_with('?') || rest.starts_with('&'));
        exact || (public && same_but_port(reg, location))
    })
}

fn same_but_port(registered: &str, location: &str) -> bool {
    let (Ok(reg), Ok(loc)) = (url::Url::parse(registered), url::Url::parse(location)) else {
        return false;
    };
    let reg_pairs: Vec<_> = reg.query_pairs().collect();
    let loc_pairs: Vec<_> = loc.query_pairs().collect();
    loc.scheme() == "http"
        && loc.host_str() == reg.host_str()
        && loc.path() == reg.path()
        && loc.username().is_empty()
        && loc.password().is_none()
        && loc.fragment().is_none()
        && loc_pairs.starts_with(&reg_pairs)
}

#[derive(Debug, Clone)]
struct AuthorizeCase {
    public: bool,
    signed_in: bool,
    prompt_none: bool,
    redirect_uri: String,
}

#[test]
fn fuzz_redirect_uri_at_authorize() {
    let h = Harness::start(|_| {});
    let (confidential, public) = h.block_on(async {
        h.app.signed_in_user().await;
        (
            h.app.web_client().await,
            h.app
                .add_client(true, true, &["authorization_code"], &["openid"])
                .await,
        )
    });
    let (_, challenge) = pkce();
    let case = (any::<bool>(), any::<bool>(), any::<bool>(), redirect_uri()).prop_map(
        |(public, signed_in, prompt_none, redirect_uri)| AuthorizeCase {
            public,
            signed_in,
            prompt_none,
            redirect_uri,
        },
    );
    h.run("redirect/authorize", case, |h, case| {
        let client: &TestClient = if case.public { &public } else { &confidential };
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", case.redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", "st"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if case.prompt_none {
            query.push(("prompt", "none"));
        }
        let url = format!(
            "{}?{}",
            h.app.url("/authorize"),
            serde_urlencoded::to_string(&query).unwrap()
        );
        h.block_on(async {
            let browser = if case.signed_in {
                h.app.client.clone()
            } else {
                h.plain.clone()
            };
            let Some(page) = send(browser.get(url), 0).await? else {
                return Ok(());
            };
            no_server_error("/authorize", &page)?;
            let registered = REGISTERED.contains(&case.redirect_uri.as_str());
            if !case.public && !registered {
                // An unregistered URI is an error page, never a redirect (RFC 6749 §4.1.2.1).
                ensure(page.status == StatusCode::BAD_REQUEST, || {
                    format!("{} to {}", page.status, location(&page))
                })?;
            }
            check_location(&page, case.public)
        })
    });
}

fn check_location(page: &crate::helpers::Page, public: bool) -> Verdict {
    if !page.status.is_redirection() {
        return Ok(());
    }
    let loc = &location(page);
    ensure(is_local(loc) || lands_on_registered(loc, public), || {
        format!("redirected to an unregistered place: {loc}")
    })
}

#[test]
fn fuzz_redirect_uri_at_end_session() {
    let h = Harness::start(|_| {});
    let client = h.block_on(h.app.web_client());
    let uri = prop_oneof![
        1 => Just(POST_LOGOUT.to_owned()),
        4 => mutated(&[POST_LOGOUT]),
        1 => assembled(),
        1 => nasty(),
    ];
    h.run(
        "redirect/end_session",
        (uri, nasty(), any::<bool>()),
        |h, (uri, state, with_client)| {
            let mut url = format!(
                "{}?post_logout_redirect_uri={}&state={}",
                h.app.url("/end_session"),
                urlenc(&uri),
                urlenc(&state)
            );
            if with_client {
                url.push_str(&format!("&client_id={}", urlenc(&client.id)));
            }
            h.block_on(async {
                let Some(page) = send(h.plain.get(url), 0).await? else {
                    return Ok(());
                };
                no_server_error("/end_session", &page)?;
                if !page.status.is_redirection() {
                    return Ok(());
                }
                let loc = &location(&page);
                let exact = loc == POST_LOGOUT
                    || loc
                        .strip_prefix(POST_LOGOUT)
                        .is_some_and(|rest| rest.starts_with('?'));
                ensure(is_local(loc) || (exact && uri == POST_LOGOUT), || {
                    format!("end_session redirected to {loc} for {uri:?}")
                })
            })
        },
    );
}

#[test]
fn fuzz_next_after_sign_in() {
    let h = Harness::start(|_| {});
    h.block_on(h.app.signed_in_user());
    let next = prop_oneof![
        2 => nasty(),
        2 => mutated(&["/account", "/authorize?client_id=a&state=b"]),
        1 => assembled(),
    ];
    h.run("redirect/next", next, |h, next| {
        let url = format!("{}?next={}", h.app.url("/login"), urlenc(&next));
        h.block_on(async {
            // A signed-in browser is sent straight to `next`.
            let Some(page) = send(h.app.client.get(url), 0).await? else {
                return Ok(());
            };
            no_server_error("/login?next", &page)?;
            ensure(page.status == StatusCode::SEE_OTHER, || {
                format!("{}", page.status)
            })?;
            ensure(is_local(&location(&page)), || {
                format!("next={next:?} sent the user to {}", location(&page))
            })
        })
    });
}
