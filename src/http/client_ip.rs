//! The client's IP address: the socket's peer, unless that peer is a trusted proxy; only then
//! is the one configured forwarding header read (`X-Forwarded-For`, RFC 7239 `Forwarded`, or
//! `X-Real-IP`), right to left, skipping trusted hops. The other headers are ignored: a proxy
//! that appends to one passes a client's own copy of the others through untouched. A client
//! can put anything in those headers, so nothing left of the first untrusted hop is ever
//! believed: rotating `X-Forwarded-For` cannot dodge a per-IP limit.
//!
//! Every address is canonical: an IPv4-mapped IPv6 peer (`::ffff:10.0.0.2`, what a socket bound
//! to `[::]` reports for an IPv4 client) is the IPv4 address it carries.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::domain::ForwardedHeader;

/// The client address for a request that arrived from `peer`.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ForwardedHeader,
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = match header {
        ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
        ForwardedHeader::Forwarded => forwarded_for(headers),
        ForwardedHeader::XRealIp => x_real_ip(headers),
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            // The nearest hop a trusted proxy saw that is not a proxy itself: the client.
            Some(ip) if !is_trusted(ip) => return *ip,
            Some(ip) => client = *ip,
            // An unreadable or hidden ("unknown") hop ends the chain of trust.
            None => return client,
        }
    }
    client
}

/// `X-Real-IP`: one address; several lines, or an unreadable one, name no client.
fn x_real_ip(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut lines = headers.get_all("x-real-ip").iter();
    match (lines.next(), lines.next()) {
        (Some(line), None) => vec![line.to_str().ok().and_then(parse_node)],
        (None, _) => Vec::new(),
        _ => vec![None],
    }
}

/// Every `X-Forwarded-For` entry, in order, across all header lines.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| line.to_str().unwrap_or("?").split(','))
        .map(parse_node)
        .collect()
}

/// Every `for=` node of `Forwarded`, in order, across all header lines and elements.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for line in headers.get_all("forwarded") {
        let Ok(line) = line.to_str() else {
            hops.push(None);
            continue;
        };
        for element in line.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then_some(value)
            });
            // An element without `for=` is a hop we cannot name.
            hops.push(node.and_then(|v| parse_node(v.trim().trim_matches('"'))));
        }
    }
    hops
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    parse_address(node.trim()).map(|ip| ip.to_canonical())
}

fn parse_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            client_ip(ip("198.51.100.9"), &h, &[], XFF),
            ip("198.51.100.9")
        );
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("198.51.100.9"), &h, &trusted, XFF),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged "6.6.6.6"; the proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, XFF),
            ip("203.0.113.7")
        );
        // Two trusted proxies in a row.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.5")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, XFF),
            ip("203.0.113.7")
        );
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, XFF),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_is_parsed_with_ports_and_ipv6_when_configured() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8::1]:4711";proto=https"#,
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, FWD),
            ip("2001:db8::1")
        );
        let h = headers(&[("forwarded", "for=203.0.113.7:80;by=10.0.0.2")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, FWD),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        // nginx appends to X-Forwarded-For and passes the client's own Forwarded through.
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-real-ip", "5.5.5.5"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, XFF),
            ip("203.0.113.7")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted, FWD), ip("6.6.6.6"));
        let real = ForwardedHeader::XRealIp;
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted, real), ip("5.5.5.5"));
        // X-Real-IP is one address: two lines name nobody, so the proxy is the client.
        let h = headers(&[("x-real-ip", "5.5.5.5"), ("x-real-ip", "4.4.4.4")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, real),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_peers_and_hops_are_their_ipv4_addresses() {
        // A listener on [::] sees IPv4 proxies as ::ffff:a.b.c.d.
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]);
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), &h, &trusted, XFF),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("::ffff:192.0.2.1"), &h, &trusted, XFF),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn garbage_or_unknown_hops_stop_at_the_last_trusted_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        for h in [
            headers(&[("x-forwarded-for", "1.2.3.4, not-an-ip")]),
            headers(&[("forwarded", "for=unknown")]),
            headers(&[("forwarded", "proto=https")]),
        ] {
            assert_eq!(
                client_ip(ip("10.0.0.2"), &h, &trusted, XFF),
                ip("10.0.0.2"),
                "{h:?}"
            );
        }
        // No header at all: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted, XFF),
            ip("10.0.0.2")
        );
    }

    proptest! {
        /// Whatever a client writes into the headers, it cannot choose an address outside what
        /// the trusted proxy appended: the answer is the peer, a trusted hop, or the hop the
        /// proxy appended last.
        #[test]
        fn a_client_cannot_choose_its_address(forged in "[ -~]{0,200}", real in any::<[u8; 4]>()) {
            let trusted = nets(&["10.0.0.0/8"]);
            let real = IpAddr::from(real);
            prop_assume!(!trusted[0].contains(&real));
            let Ok(value) = HeaderValue::from_str(&format!("{forged}, {real}")) else { return Ok(()) };
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", value);
            prop_assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted, XFF), real);
            // And from an untrusted peer the headers are ignored entirely.
            prop_assert_eq!(client_ip(ip("192.0.2.1"), &h, &trusted, XFF), ip("192.0.2.1"));
        }
    }
}
