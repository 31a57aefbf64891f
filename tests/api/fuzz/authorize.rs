//! The authorize query: arbitrary parameter lists (known and unknown names, duplicates, wrong
//! values, `request`/`request_uri`/`response_mode`, huge `state`) and raw query strings, from
//! an anonymous and a signed-in browser. Never a 5xx; a redirect goes to this site or to a
//! URI registered for the client named in the request, nowhere else.

use proptest::prelude::{Just, Strategy, any, prop_oneof};
use proptest::sample::select;

use super::redirects::lands_on_registered;
use super::{Harness, ensure, is_local, location, nasty, no_server_error, send};
use crate::helpers::{REDIRECT_URI, pkce};

const REGISTERED: [&str; 2] = [REDIRECT_URI, "http://127.0.0.1:7777/other?x=1"];

#[derive(Debug, Clone)]
enum Query {
    Params(Vec<(String, String)>),
    /// Appended after `?` as it is (the URL parser percent-encodes what cannot go on the wire).
    Raw(String),
}

/// Parameter values, by name: mostly plausible, sometimes anything.
fn value_for(
    name: &'static str,
    clients: &[String; 2],
    challenge: &str,
) -> proptest::strategy::BoxedStrategy<String> {
    let plausible: Vec<String> = match name {
        "client_id" => clients.to_vec(),
        "redirect_uri" => REGISTERED
            .iter()
            .map(|s| (*s).to_owned())
            .chain([
                "http://127.0.0.1:9/callback".into(),
                "https://evil.example/cb".into(),
            ])
            .collect(),
        "response_type" => ["code", "token", "id_token", "code id_token", "none", "CODE"]
            .map(str::to_owned)
            .to_vec(),
        "scope" => [
            "openid",
            "openid email",
            "admin",
            "offline_access",
            "openid admin",
            "",
        ]
        .map(str::to_owned)
        .to_vec(),
        "code_challenge" => vec![challenge.to_owned(), "x".repeat(43), "a".repeat(128)],
        "code_challenge_method" => ["S256", "plain", "s256", ""].map(str::to_owned).to_vec(),
        "prompt" => [
            "none",
            "login",
            "consent",
            "none login",
            "select_account",
            "login consent",
        ]
        .map(str::to_owned)
        .to_vec(),
        "max_age" => ["0", "-1", "300", "99999999999999999999", "1e3"]
            .map(str::to_owned)
            .to_vec(),
        "auth_after" => ["0", "-1", "9223372036854775807", "4102444800", "x"]
            .map(str::to_owned)
            .to_vec(),
        "response_mode" => ["query", "fragment", "form_post", "jwt"]
            .map(str::to_owned)
            .to_vec(),
        "request" | "request_uri" => ["eyJhbGciOiJub25lIn0.e30.", "https://evil.example/req"]
            .map(str::to_owned)
            .to_vec(),
        _ => vec!["st".into(), "n-1".into(), "user@example.com".into()],
    };
    prop_oneof![
        12 => select(plausible),
        2 => nasty(),
        1 => (1usize..3_000).prop_map(|n| "s".repeat(n)),
    ]
    .boxed()
}

const NAMES: [&str; 17] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "auth_after",
    "request",
    "request_uri",
    "response_mode",
    "acr_values",
    "claims",
];

fn query(clients: &[String; 2], challenge: &str) -> impl Strategy<Value = Query> {
    // Each known name: absent (mostly), present once, or twice.
    let known: Vec<_> = NAMES
        .iter()
        .map(|name| {
            let v = value_for(name, clients, challenge);
            let essential = matches!(*name, "client_id" | "redirect_uri" | "response_type" | "scope");
            // Duplicates are refused outright, so they are rare: the rest must get through.
            let (absent, once) = if essential { (4, 60) } else { (60, 20) };
            prop_oneof![
                absent => Just(vec![]),
                once => v.clone().prop_map(move |v| vec![(name.to_string(), v)]),
                1 => (v.clone(), v).prop_map(move |(a, b)| vec![(name.to_string(), a), (name.to_string(), b)]),
            ]
        })
        .collect();
    let unknown = proptest::collection::vec((nasty(), nasty()), 0..3);
    prop_oneof![
        6 => (known, unknown).prop_map(|(known, unknown)| {
            Query::Params(known.into_iter().flatten().chain(unknown).collect())
        }),
        1 => nasty().prop_map(Query::Raw),
        1 => "[a-z_]{1,14}=[^&#]{0,20}(&[a-z_]{1,14}=[^&#]{0,20}){0,6}".prop_map(Query::Raw),
    ]
}

#[test]
fn fuzz_authorize_query() {
    let h = Harness::start(|_| {});
    let clients = h.block_on(async {
        h.app.signed_in_user().await;
        let confidential = h.app.web_client().await;
        // A public client that is not first-party: the consent page is reachable too.
        let public = h
            .app
            .add_client(true, false, &["authorization_code"], &["openid", "email"])
            .await;
        [confidential.id, public.id]
    });
    let public_id = clients[1].clone();
    let (_, challenge) = pkce();
    let case = (query(&clients, &challenge), any::<bool>());
    h.run("authorize/query", case, |h, (query, signed_in)| {
        let qs = match &query {
            Query::Params(p) => serde_urlencoded::to_string(p).unwrap(),
            Query::Raw(r) => r.clone(),
        };
        let url = format!("{}?{qs}", h.app.url("/authorize"));
        h.block_on(async {
            let browser = if signed_in { &h.app.client } else { &h.plain };
            let Some(page) = send(browser.get(&url), 0).await? else {
                return Ok(());
            };
            no_server_error("/authorize", &page)?;
            if !page.status.is_redirection() {
                return Ok(());
            }
            let loc = &location(&page);
            if is_local(loc) {
                return Ok(());
            }
            // Off-site: only to a registered URI of a client the request named (as the server
            // read the query), and for the confidential client only with the exact
            // redirect_uri it sent.
            let sent = reqwest::Url::parse(&url).unwrap();
            let params: Vec<(String, String)> = sent.query_pairs().into_owned().collect();
            let named = |k: &str| {
                params
                    .iter()
                    .filter(|(n, _)| n == k)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
            };
            let (ids, uris) = (named("client_id"), named("redirect_uri"));
            let ([id], [uri]) = (ids.as_slice(), uris.as_slice()) else {
                return ensure(false, || {
                    format!("redirected to {loc} with client_id {ids:?}, redirect_uri {uris:?}")
                });
            };
            ensure(clients.iter().any(|c| c == id), || {
                format!("redirected to {loc} for an unknown client {id:?}")
            })?;
            let public = *id == public_id;
            ensure(lands_on_registered(loc, public), || {
                format!("redirected to an unregistered place: {loc}")
            })?;
            ensure(
                public || (REGISTERED.contains(uri) && loc.starts_with(uri)),
                || format!("redirected to {loc} for redirect_uri {uri:?}"),
            )
        })
    });
}
