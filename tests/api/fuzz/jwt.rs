//! JWT header and payload: random compact strings, crafted headers (`alg` none/HS256/unknown
//! or of the wrong type, huge or nested `kid`, `jku`/`jwk`/`crit`), payloads with wrong types
//! and nesting, the real token's claims re-signed with the JWKS as an HMAC key (algorithm
//! confusion), and byte edits of a real token. As a bearer to `/userinfo` and the admin API:
//! always 401; to `/introspect`: `{"active": false}`; `/revoke`, `/risk/evaluate` and
//! `/end_session`'s `id_token_hint`: never a 5xx, never "allow", never a sign-out.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use proptest::prelude::{Just, Strategy, any, prop_oneof};
use proptest::sample::select;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::{Harness, Verdict, ensure, is_local, location, no_server_error, send, truncate};
use crate::helpers::{Page, str_of};

/// Base64url as any lenient decoder would read it (padding optional, stray trailing bits
/// ignored): two tokens that decode alike here are the same token.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone)]
enum Sig {
    Empty,
    /// The real token's signature (over other content).
    Real,
    Random(Vec<u8>),
    /// HMAC-SHA256 keyed with public material: the JWKS document or one key's `x`/`n`.
    HmacWithPublic(usize),
}

#[derive(Debug, Clone)]
enum Candidate {
    /// Arbitrary text.
    Text(String),
    /// 1–5 segments of random bytes, base64url-encoded.
    Segments(Vec<Vec<u8>>),
    /// A crafted header over the real claims or a crafted payload.
    Crafted {
        header: Value,
        payload: Payload,
        sig: Sig,
    },
    /// Byte edits of the real token: (position as a fraction of its length, edit).
    Edited(Vec<(f64, Edit)>),
}

#[derive(Debug, Clone)]
enum Payload {
    /// The real claims with one claim set to a fuzzed value (`None`: removed).
    RealWith(String, Option<Value>),
    Any(Value),
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(u8),
    Insert(char),
    Delete,
}

fn short() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => "[ -~]{0,24}",
        1 => any::<String>(),
        1 => select(vec!["", "\0", "../../../../dev/null", "' OR '1'='1", "%00", "\u{202e}"])
            .prop_map(str::to_owned),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        short().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(short(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        4 => select(vec![
            "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "RS256", "PS256",
            "ES256", "ES384", "ES512", "EdDSA", "", "ES256 ", "dir", "A128KW",
        ])
        .prop_map(|s| json!(s)),
        1 => json_value(),
    ];
    let kid = prop_oneof![
        3 => Just(None),
        2 => Just(Some(json!("REAL"))),
        1 => (1usize..20_000).prop_map(|n| Some(json!("k".repeat(n)))),
        1 => json_value().prop_map(Some),
    ];
    let typ = prop_oneof![
        2 => Just(Some(json!("at+jwt"))),
        1 => Just(None),
        1 => select(vec!["JWT", "jwt", "at+JWT", "application/at+jwt", "JOSE"])
            .prop_map(|s| Some(json!(s))),
        1 => json_value().prop_map(Some),
    ];
    let extra = proptest::collection::vec(
        (
            select(vec![
                "jku", "jwk", "x5u", "x5c", "crit", "b64", "zip", "cty", "enc", "p2c",
            ]),
            prop_oneof![
                Just(json!("http://127.0.0.1:1/jwks.json")),
                Just(json!({"kty": "oct", "k": "AAAA"})),
                Just(json!(["exp"])),
                Just(json!(false)),
                Just(json!("DEF")),
                json_value(),
            ],
        ),
        0..3,
    );
    (alg, kid, typ, extra).prop_map(|(alg, kid, typ, extra)| {
        let mut h = Map::new();
        h.insert("alg".into(), alg);
        if let Some(k) = kid {
            h.insert("kid".into(), k);
        }
        if let Some(t) = typ {
            h.insert("typ".into(), t);
        }
        for (k, v) in extra {
            h.insert(k.into(), v);
        }
        Value::Object(h)
    })
}

fn payload() -> impl Strategy<Value = Payload> {
    let claim = select(vec![
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "scope",
        "client_id",
        "typ",
        "azp",
        "auth_time",
        "acr",
        "amr",
        "nonce",
    ]);
    prop_oneof![
        3 => (claim, prop_oneof![1 => Just(None), 3 => json_value().prop_map(Some)])
            .prop_map(|(c, v)| Payload::RealWith(c.to_owned(), v)),
        1 => json_value().prop_map(Payload::Any),
    ]
}

fn candidate() -> impl Strategy<Value = Candidate> {
    let sig = prop_oneof![
        Just(Sig::Empty),
        Just(Sig::Real),
        proptest::collection::vec(any::<u8>(), 0..130).prop_map(Sig::Random),
        (0usize..8).prop_map(Sig::HmacWithPublic),
    ];
    let edit = prop_oneof![
        any::<u8>().prop_map(Edit::Flip),
        any::<char>().prop_map(Edit::Insert),
        Just(Edit::Delete),
    ];
    prop_oneof![
        1 => any::<String>().prop_map(Candidate::Text),
        1 => "[A-Za-z0-9_.=+/-]{0,300}".prop_map(Candidate::Text),
        2 => proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6)
            .prop_map(Candidate::Segments),
        4 => (header(), payload(), sig).prop_map(|(header, payload, sig)| Candidate::Crafted {
            header,
            payload,
            sig,
        }),
        3 => proptest::collection::vec((0.0..1.0f64, edit), 1..4).prop_map(Candidate::Edited),
    ]
}

/// The real token, taken apart.
struct Real {
    token: String,
    header: Value,
    claims: Map<String, Value>,
    signature: Vec<u8>,
    kid: String,
    /// HMAC keys made of public material.
    public_keys: Vec<Vec<u8>>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Real {
    fn new(token: &str, jwks: &Value) -> Self {
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value = serde_json::from_slice(&LENIENT.decode(parts[0]).unwrap()).unwrap();
        let claims: Value = serde_json::from_slice(&LENIENT.decode(parts[1]).unwrap()).unwrap();
        let mut public_keys = vec![jwks.to_string().into_bytes(), Vec::new()];
        for key in jwks["keys"].as_array().unwrap() {
            public_keys.push(key.to_string().into_bytes());
            for field in ["x", "y", "n", "e"] {
                if let Some(v) = key.get(field).and_then(Value::as_str) {
                    public_keys.push(v.as_bytes().to_vec());
                    public_keys.push(LENIENT.decode(v).unwrap_or_default());
                }
            }
        }
        Self {
            token: token.to_owned(),
            kid: header["kid"].as_str().unwrap_or("").to_owned(),
            header,
            claims: claims.as_object().unwrap().clone(),
            signature: LENIENT.decode(parts[2]).unwrap(),
            public_keys,
        }
    }

    fn render(&self, c: &Candidate) -> String {
        match c {
            Candidate::Text(t) => t.clone(),
            Candidate::Segments(segs) => segs.iter().map(|s| b64(s)).collect::<Vec<_>>().join("."),
            Candidate::Crafted {
                header,
                payload,
                sig,
            } => {
                let mut header = header.clone();
                if header.get("kid") == Some(&json!("REAL")) {
                    header["kid"] = json!(self.kid);
                }
                let payload = match payload {
                    Payload::Any(v) => v.clone(),
                    Payload::RealWith(claim, v) => {
                        let mut claims = self.claims.clone();
                        match v {
                            Some(v) => claims.insert(claim.clone(), v.clone()),
                            None => claims.remove(claim),
                        };
                        Value::Object(claims)
                    }
                };
                let signing_input = format!(
                    "{}.{}",
                    b64(header.to_string().as_bytes()),
                    b64(payload.to_string().as_bytes())
                );
                let sig = match sig {
                    Sig::Empty => Vec::new(),
                    Sig::Real => self.signature.clone(),
                    Sig::Random(b) => b.clone(),
                    Sig::HmacWithPublic(i) => {
                        let key = &self.public_keys[i % self.public_keys.len()];
                        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
                        aws_lc_rs::hmac::sign(&key, signing_input.as_bytes())
                            .as_ref()
                            .to_vec()
                    }
                };
                format!("{signing_input}.{}", b64(&sig))
            }
            Candidate::Edited(edits) => {
                let mut chars: Vec<char> = self.token.chars().collect();
                for (at, edit) in edits {
                    let i = ((chars.len() as f64) * at) as usize;
                    match edit {
                        Edit::Flip(b) if i < chars.len() => {
                            chars[i] = char::from((chars[i] as u8) ^ b.max(&1));
                        }
                        Edit::Insert(ch) => chars.insert(i.min(chars.len()), *ch),
                        Edit::Delete if i < chars.len() => {
                            chars.remove(i);
                        }
                        _ => {}
                    }
                }
                chars.into_iter().collect()
            }
        }
    }

    /// `candidate` is the real token in another spelling (same bytes in every segment).
    fn same_token(&self, candidate: &str) -> bool {
        let decode = |t: &str| -> Option<Vec<Vec<u8>>> {
            t.trim()
                .split('.')
                .map(|s| LENIENT.decode(s).ok())
                .collect()
        };
        decode(candidate).is_some() && decode(candidate) == decode(&self.token)
    }
}

fn bearer(token: &str) -> Option<reqwest::header::HeaderValue> {
    reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).ok()
}

/// The header fits and is well-formed: the server must judge the token itself.
fn judged(page: &Page) -> bool {
    page.status != StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
}

async fn check(h: &Harness, real: &Real, ctx: &Ctx, token: &str) -> Verdict {
    let app = &h.app;
    let valid = real.same_token(token);
    if let Some(auth) = bearer(token) {
        for path in ["/userinfo", "/admin/api/events"] {
            let req = h
                .plain
                .get(app.url(path))
                .header("authorization", auth.clone());
            let Some(page) = send(req, 0).await? else {
                continue;
            };
            no_server_error(path, &page)?;
            ensure(
                valid || !judged(&page) || page.status == StatusCode::UNAUTHORIZED,
                || format!("{path} answered {} to a forged token", page.status),
            )?;
        }
    }
    // Form-encoding can triple the token's size.
    let form_len = 3 * token.len() + 16;
    let form = |path: &str| {
        h.plain
            .post(app.url(path))
            .basic_auth(&ctx.client_id, Some(&ctx.client_secret))
            .form(&[("token", token)])
    };
    if let Some(page) = send(form("/introspect"), form_len).await? {
        no_server_error("/introspect", &page)?;
        ensure(
            valid
                || page.status == StatusCode::PAYLOAD_TOO_LARGE
                || (page.status == StatusCode::OK && page.body.trim() == r#"{"active":false}"#),
            || {
                format!(
                    "/introspect of a forged token: {} {}",
                    page.status,
                    truncate(&page.body)
                )
            },
        )?;
    }
    let risk = h
        .plain
        .post(app.url("/risk/evaluate"))
        .bearer_auth(&ctx.caller_token)
        .json(&json!({"token": token, "ip": "203.0.113.9", "user_agent": "fuzz"}));
    if let Some(page) = send(risk, form_len).await? {
        no_server_error("/risk/evaluate", &page)?;
        if !valid && page.status == StatusCode::OK {
            let v: Value = serde_json::from_str(&page.body).unwrap_or_default();
            ensure(v["decision"] == "block", || {
                format!("/risk/evaluate of a forged token: {}", page.body)
            })?;
        }
    }
    // The signed-in browser offers the string as id_token_hint: no sign-out, no off-site hop.
    let hint = format!(
        "{}?id_token_hint={}",
        app.url("/end_session"),
        crate::helpers::urlenc(token)
    );
    if let Some(page) = send(app.client.get(hint), 0).await? {
        no_server_error("/end_session", &page)?;
        ensure(
            !page.status.is_redirection() || is_local(&location(&page)),
            || format!("/end_session redirected to {}", location(&page)),
        )?;
        let account = app.get("/account").await;
        ensure(account.status == StatusCode::OK, || {
            format!(
                "id_token_hint signed the user out (/end_session answered {})",
                page.status
            )
        })?;
    }
    // Revocation of anything is 200 (RFC 7009) and must not fail; done last, after the checks
    // that need the real token alive (a same-token spelling would revoke it).
    if !valid && let Some(page) = send(form("/revoke"), form_len).await? {
        no_server_error("/revoke", &page)?;
    }
    Ok(())
}

struct Ctx {
    client_id: String,
    client_secret: String,
    /// A client-credentials token of the same client, for `/risk/evaluate`.
    caller_token: String,
}

#[test]
fn fuzz_jwt_header_and_payload() {
    let h = Harness::start(|_| {});
    let (real, ctx) = h.block_on(async {
        let app = &h.app;
        let client = app
            .add_client(
                false,
                true,
                &["authorization_code", "refresh_token", "client_credentials"],
                &["openid", "email"],
            )
            .await;
        let user = app.signed_in_user().await;
        let tokens = app.tokens_for(&client, &user, "openid email").await;
        let access = str_of(&tokens, "access_token").to_owned();
        let (status, cc) = app
            .token(&client, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(status, StatusCode::OK, "{cc}");
        let jwks = app.get_json("/jwks.json").await;
        let ctx = Ctx {
            client_id: client.id.clone(),
            client_secret: client.secret.clone().unwrap(),
            caller_token: str_of(&cc, "access_token").to_owned(),
        };
        // Baseline: the real token passes every check that forgeries must fail.
        assert_eq!(app.userinfo(&access).await.0, StatusCode::OK);
        assert_eq!(app.introspect(&client, &access).await["active"], true);
        (Real::new(&access, &jwks), ctx)
    });
    let header_alg = real.header["alg"].clone();
    h.run("jwt", candidate(), |h, c| {
        let token = real.render(&c);
        h.block_on(check(h, &real, &ctx, &token))
    });
    // Still valid after hundreds of forgeries.
    h.block_on(async {
        assert_eq!(
            h.app.userinfo(&real.token).await.0,
            StatusCode::OK,
            "{header_alg}"
        );
    });
}
