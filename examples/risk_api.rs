//! A JSON API behind authd: it validates authd's access tokens against the JWKS (signature,
//! issuer, audience, expiry) and then, from its "token validated" hook, asks authd's risk API
//! how risky *this use* of the token is (the caller's address and browser), refusing or asking
//! for a step-up on the answer — the pattern of ASP.NET's `OnTokenValidated`, in Rust.
//!
//! Run it next to authd (see `docs/quickstart.md`):
//!
//! ```text
//! AUTHD_URL=http://127.0.0.1:8080 API_CLIENT_ID=shop API_CLIENT_SECRET=… \
//!   cargo run --example risk_api
//! ```
//!
//! `API_CLIENT_ID`/`API_CLIENT_SECRET` are a confidential client holding the
//! `client_credentials` grant **and** in the audience of the tokens the API accepts (authd
//! answers `/risk/evaluate` only to a client in the token's audience): typically the app's own
//! client, the API being the app's back end. `API_BIND` (default `127.0.0.1:8090`) is where it
//! listens; `API_TRUSTED_PROXY` (an IP, e.g. the app server's) is the one peer whose
//! `X-Forwarded-For` is believed — from anyone else the peer address is the caller's.
//!
//! Answers of `GET /orders`:
//! - `200` with the orders when the token is valid and the risk API allows its use;
//! - `401` + `WWW-Authenticate: Bearer error="invalid_token"` for a missing, forged, expired or
//!   foreign token;
//! - `401` + `WWW-Authenticate: Bearer error="insufficient_user_authentication",
//!   acr_values="…"` (RFC 9470) when the risk API asks for a step-up: the app sends the user
//!   through authd's `/authorize` with that `acr_values` and retries with the new token;
//! - `403` when the risk API says `block`;
//! - `503` when the risk API cannot be asked (the API fails closed).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// What the API is configured with.
struct Config {
    issuer: String,
    client_id: String,
    client_secret: String,
    trusted_proxy: Option<IpAddr>,
}

/// The endpoints found by discovery.
#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
    token_endpoint: String,
}

/// The API's state: configuration, an HTTP client, the cached key set and service token.
struct Api {
    config: Config,
    discovery: Discovery,
    http: reqwest::Client,
    /// The key set and when it was fetched (refetched for an unknown `kid`, at most every 30 s).
    jwks: Mutex<(JwkSet, Instant)>,
    /// The API's own client-credentials token for `/risk/evaluate`, and when it expires.
    service_token: Mutex<Option<(String, Instant)>>,
}

/// The claims the API reads (signature, `iss`, `aud` and `exp` are checked by `Validation`).
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    acr: Option<String>,
}

/// How a request was refused.
enum Refusal {
    InvalidToken(&'static str),
    StepUp { acr: String, reasons: Value },
    Blocked(Value),
    RiskUnavailable,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let challenge =
            |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("Bearer"));
        match self {
            Self::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    challenge(format!(
                        "Bearer error=\"invalid_token\", error_description=\"{why}\""
                    )),
                )],
                Json(json!({ "error": "invalid_token", "error_description": why })),
            )
                .into_response(),
            Self::StepUp { acr, reasons } => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    challenge(format!(
                        "Bearer error=\"insufficient_user_authentication\", \
                         error_description=\"a stronger sign-in is required\", acr_values=\"{acr}\""
                    )),
                )],
                Json(json!({
                    "error": "insufficient_user_authentication",
                    "acr_values": acr,
                    "reasons": reasons,
                })),
            )
                .into_response(),
            Self::Blocked(reasons) => (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": "access_denied", "reasons": reasons })),
            )
                .into_response(),
            Self::RiskUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
                Json(json!({ "error": "temporarily_unavailable" })),
            )
                .into_response(),
        }
    }
}

impl Api {
    /// Checks the token's signature, issuer, audience and expiry against authd's JWKS.
    async fn validate(&self, token: &str) -> Result<Claims, Refusal> {
        let head = decode_header(token).map_err(|_| Refusal::InvalidToken("malformed token"))?;
        if !matches!(
            head.alg,
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
        ) {
            return Err(Refusal::InvalidToken("unexpected algorithm"));
        }
        let kid = head.kid.ok_or(Refusal::InvalidToken("no key id"))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(head.alg);
        validation.set_issuer(&[self.config.issuer.as_str()]);
        validation.set_audience(&[self.config.client_id.as_str()]);
        decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|_| Refusal::InvalidToken("the token is not valid"))
    }

    /// The key for `kid`, refetching the key set (at most every 30 s) when it is unknown.
    async fn key(&self, kid: &str) -> Result<DecodingKey, Refusal> {
        let mut cached = self.jwks.lock().await;
        if cached.0.find(kid).is_none()
            && cached.1.elapsed() > Duration::from_secs(30)
            && let Ok(fresh) = self.fetch_jwks().await
        {
            *cached = (fresh, Instant::now());
        }
        let jwk = cached
            .0
            .find(kid)
            .ok_or(Refusal::InvalidToken("unknown key"))?;
        DecodingKey::from_jwk(jwk).map_err(|_| Refusal::InvalidToken("unusable key"))
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, reqwest::Error> {
        self.http
            .get(&self.discovery.jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    /// The API's own client-credentials token (cached until shortly before it expires).
    async fn service_token(&self) -> Result<String, reqwest::Error> {
        let mut cached = self.service_token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let answer: Value = self
            .http
            .post(&self.discovery.token_endpoint)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = answer
            .get("access_token")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let life = answer
            .get("expires_in")
            .unwrap_or(&Value::Null)
            .as_u64()
            .unwrap_or(60)
            .saturating_sub(30);
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(life)));
        Ok(token)
    }

    /// The hook after a valid token: how risky is this use of it, from `ip` with `user_agent`?
    async fn evaluate(&self, token: &str, ip: IpAddr, user_agent: &str) -> Result<(), Refusal> {
        let answer = self
            .ask_risk(token, ip, user_agent)
            .await
            .map_err(|_| Refusal::RiskUnavailable)?;
        let field = |name: &str| answer.get(name).cloned().unwrap_or(Value::Null);
        let reasons = field("reasons");
        match field("decision").as_str() {
            Some("allow") => Ok(()),
            Some("step_up" | "challenge") => Err(Refusal::StepUp {
                acr: field("acr")
                    .as_str()
                    .unwrap_or("urn:authd:acr:mfa")
                    .to_owned(),
                reasons,
            }),
            Some("block") => Err(Refusal::Blocked(reasons)),
            _ => Err(Refusal::RiskUnavailable),
        }
    }

    async fn ask_risk(&self, token: &str, ip: IpAddr, ua: &str) -> Result<Value, reqwest::Error> {
        let service = self.service_token().await?;
        self.http
            .post(format!("{}/risk/evaluate", self.config.issuer))
            .bearer_auth(service)
            .json(&json!({ "token": token, "ip": ip.to_string(), "user_agent": ua }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    /// The caller's address: the peer, or the last `X-Forwarded-For` hop when the peer is the
    /// trusted proxy.
    fn caller_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if Some(peer) != self.config.trusted_proxy {
            return peer;
        }
        headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(peer)
    }
}

/// `GET /orders`: the protected resource.
async fn orders(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Refusal::InvalidToken("a bearer token is required"))?;
    let claims = api.validate(token).await?;
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    api.evaluate(token, api.caller_ip(peer.ip(), &headers), ua)
        .await?;
    Ok(Json(json!({
        "user": claims.sub,
        "acr": claims.acr,
        "orders": [{ "id": 1, "item": "a pot of tea" }],
    })))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = env("AUTHD_URL")?.trim_end_matches('/').to_owned();
    let config = Config {
        client_id: env("API_CLIENT_ID")?,
        client_secret: env("API_CLIENT_SECRET")?,
        trusted_proxy: match std::env::var("API_TRUSTED_PROXY") {
            Ok(ip) if !ip.is_empty() => Some(ip.parse()?),
            _ => None,
        },
        issuer,
    };
    let bind = std::env::var("API_BIND").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let discovery: Discovery = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            config.issuer
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let jwks: JwkSet = http
        .get(&discovery.jwks_uri)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let api = Arc::new(Api {
        config,
        discovery,
        http,
        jwks: Mutex::new((jwks, Instant::now())),
        service_token: Mutex::new(None),
    });
    let app = Router::new().route("/orders", get(orders)).with_state(api);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("risk_api listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
