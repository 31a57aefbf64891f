//! `ClientContext`: the request's client as the domain sees it — the address resolved against
//! the trusted proxies (`client_ip`), the user agent and the request id.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::app::state::AppState;
use crate::domain::context::RequestContext;
use crate::http::error::HttpError;

/// The resolved client context of a request.
#[derive(Debug, Clone)]
pub struct ClientContext(pub RequestContext);

impl FromRequestParts<AppState> for ClientContext {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        let ua = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(Self(RequestContext::new(ip, ua, request_id)))
    }
}

/// The client IP: the socket peer, unless the peer is a trusted proxy, in which case
/// `X-Forwarded-For` is walked from the right, skipping trusted hops; the first untrusted
/// address is the client. Anyone else's `X-Forwarded-For` is ignored, so it cannot be spoofed.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(*ip, trusted);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            // An unparsable hop: stop trusting the chain here.
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// Whether `peer` is one of the trusted proxies (whose `X-Forwarded-For` is believed).
pub fn is_trusted_proxy(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = canonical(peer);
    trusted.iter().any(|net| net.contains(&peer))
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is; others as given.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_ignored_from_untrusted_peers() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers("1.2.3.4"), &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_for_walked_from_the_right_through_trusted_hops() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        // The client forged a leftmost entry; the rightmost untrusted one is believed.
        let h = headers("6.6.6.6, 198.51.100.7, 10.1.1.1");
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("198.51.100.7"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers("garbage"), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn v4_mapped_v6_is_canonicalised() {
        assert_eq!(
            client_ip(ip("::ffff:192.0.2.1"), &HeaderMap::new(), &[]),
            ip("192.0.2.1")
        );
    }
}
