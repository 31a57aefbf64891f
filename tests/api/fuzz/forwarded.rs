//! `X-Forwarded-For`: arbitrary header values (lists of addresses, ports, brackets, mapped
//! IPv6, trusted and untrusted hops, garbage, several header lines) on a failed sign-in, from
//! a trusted proxy and from an untrusted peer. Never a 5xx; every event's `ip` is a valid IP
//! or absent; from an untrusted peer it is the peer; from a trusted one it is the peer or one
//! of the hops, and exactly the rightmost hop when that is a valid untrusted address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::{Strategy, any, prop_oneof};
use proptest::sample::select;
use reqwest::StatusCode;

use super::{Harness, ensure, no_server_error, send};
use crate::helpers::{csrf_from, read};

/// What the trusted-proxy server trusts besides the loopback peer.
const TRUSTED: &str = "127.0.0.1/32, 10.0.0.0/8, fd00::/8";

fn hop() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<Ipv4Addr>().prop_map(|ip| ip.to_string()),
        2 => any::<Ipv6Addr>().prop_map(|ip| ip.to_string()),
        1 => any::<Ipv4Addr>().prop_map(|ip| ip.to_ipv6_mapped().to_string()),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| format!("10.0.{a}.{b}")),
        1 => any::<u16>().prop_map(|n| format!("fd00::{n:x}")),
        1 => any::<Ipv4Addr>().prop_map(|ip| format!("{ip}:{}", ip.octets()[3])),
        1 => any::<Ipv6Addr>().prop_map(|ip| format!("[{ip}]:443")),
        2 => select(vec![
            "", " ", "unknown", "127.0.0.1", "::1", "0.0.0.0", "255.255.255.255", "::",
            "1.2.3", "01.2.3.4", "1.2.3.4.5", "256.1.1.1", "fe80::1%eth0", "::ffff:10.1.1.1",
            "_hidden", "for=1.2.3.4", "\t1.2.3.4\t", "1.2.3.4 5.6.7.8", "0x7f000001",
        ])
        .prop_map(str::to_owned),
        1 => "[ -~]{0,40}",
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let list = (
        proptest::collection::vec(hop(), 0..8),
        select(vec![",", ", ", " , ", ",,", ";"]),
    )
        .prop_map(|(hops, sep)| hops.join(sep).into_bytes());
    prop_oneof![
        6 => list,
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => (1usize..40_000).prop_map(|n| "1.2.3.4,".repeat(n).into_bytes()),
    ]
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_trusted(ip: IpAddr) -> bool {
    TRUSTED
        .split(',')
        .map(|n| n.trim().parse::<ipnet::IpNet>().unwrap())
        .any(|net| net.contains(&ip))
}

/// The header values reqwest can send (the rest is not a header value at all).
fn sendable(values: &[Vec<u8>]) -> Vec<reqwest::header::HeaderValue> {
    values
        .iter()
        .filter_map(|v| reqwest::header::HeaderValue::from_bytes(v).ok())
        .collect()
}

fn fuzz_forwarded_for(target: &str, trusted: bool) {
    let h = Harness::start(|v| {
        if trusted {
            v.trusted_proxies = TRUSTED
                .split(',')
                .map(|c| c.trim().parse().unwrap())
                .collect();
        }
    });
    let peer = IpAddr::from([127, 0, 0, 1]);
    let values = proptest::collection::vec(header_value(), 0..4);
    h.run(target, values, |h, values| {
        let values = sendable(&values);
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        h.block_on(async {
            let app = &h.app;
            let form = read(h.plain.get(app.url("/login")).send().await.unwrap()).await;
            assert_eq!(form.status, StatusCode::OK);
            let mut req = h
                .plain
                .post(app.url("/login"))
                .header("cookie", super::cookies_of(&form))
                .header("x-request-id", &request_id)
                .form(&[
                    ("username", "nobody@example.com"),
                    ("password", "wrong password"),
                    ("csrf_token", &csrf_from(&form.body)),
                ]);
            for v in &values {
                req = req.header("x-forwarded-for", v.clone());
            }
            // Oversized headers are refused (431) and the connection closed, possibly while
            // the client is still writing: a transport error then is a refusal, not a failure.
            let header_bytes: usize = values.iter().map(|v| v.len()).sum();
            let Some(page) = send(req, header_bytes).await? else {
                return Ok(());
            };
            no_server_error("/login", &page)?;
            // Too large a header is refused before any handler; nothing to check further.
            if page.status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
                return Ok(());
            }
            let hops: Vec<&str> = values
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect();
            let parsed: Vec<IpAddr> = hops
                .iter()
                .filter_map(|h| h.parse::<IpAddr>().ok())
                .map(canonical)
                .collect();
            let rightmost = hops
                .last()
                .and_then(|h| h.parse::<IpAddr>().ok())
                .map(canonical);
            let events = app.events().await;
            let mine: Vec<_> = events
                .iter()
                .filter(|e| e.request_id.as_deref() == Some(request_id.as_str()))
                .collect();
            ensure(!mine.is_empty(), || {
                format!("no event for the failed sign-in ({})", page.status)
            })?;
            for e in mine {
                let Some(ip) = &e.ip else { continue };
                let ip: IpAddr = ip.parse().map_err(|_| {
                    proptest::test_runner::TestCaseError::fail(format!(
                        "event ip {ip:?} is not an IP"
                    ))
                })?;
                if !trusted {
                    ensure(ip == peer, || format!("untrusted XFF believed: {ip}"))?;
                    continue;
                }
                ensure(ip == peer || parsed.contains(&ip), || {
                    format!("ip {ip} is neither the peer nor a hop of {hops:?}")
                })?;
                if let Some(r) = rightmost.filter(|r| !is_trusted(*r)) {
                    ensure(ip == r, || {
                        format!("ip {ip}, but the rightmost untrusted hop is {r} ({hops:?})")
                    })?;
                }
            }
            Ok(())
        })
    });
}

#[test]
fn fuzz_forwarded_for_from_a_trusted_proxy() {
    fuzz_forwarded_for("xff/trusted", true);
}

#[test]
fn fuzz_forwarded_for_from_an_untrusted_peer() {
    fuzz_forwarded_for("xff/untrusted", false);
}
