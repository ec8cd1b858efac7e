//! Sign-in starts per client address, limited (SES-04): a client that
//! starts sign-ins in a loop is answered 429 with `Retry-After`, and the
//! provider, the app's CPU and everyone else's sign-ins are spared.
//!
//! A token bucket per address (per /64 for IPv6, which hands a client a
//! whole prefix): `SignInStartsPerMinute` starts at once, then one more every
//! `60 / SignInStartsPerMinute` seconds. The buckets are kept in memory,
//! bounded, and forgotten when idle. The client's address is the
//! connection's peer, or, when the peer is one of `Hosting:TrustedProxies`,
//! the nearest address in `X-Forwarded-For` that is not a trusted proxy
//! (anyone can write that header; only the proxies' own additions count, so
//! reading stops at the first entry that does not parse).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ipnet::IpNet;
use moka::sync::Cache;

/// Addresses whose buckets are kept at once; the least recently seen go first.
const MAX_TRACKED_ADDRESSES: u64 = 100_000;

/// A client's allowance.
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every client address seen lately.
pub(crate) struct SignInThrottle {
    per_minute: u32,
    trusted_proxies: Vec<IpNet>,
    buckets: Cache<IpAddr, Arc<Mutex<Bucket>>>,
}

impl SignInThrottle {
    /// `per_minute` starts per address (0: unlimited); `trusted_proxies` may name the client.
    pub(crate) fn new(per_minute: u32, trusted_proxies: Vec<IpNet>) -> Self {
        let buckets = Cache::builder().max_capacity(MAX_TRACKED_ADDRESSES).time_to_idle(Duration::from_secs(120)).build();
        Self { per_minute, trusted_proxies, buckets }
    }

    /// Takes one start from the client's bucket; `Err(wait)` when it is empty.
    pub(crate) fn admit(&self, client: IpAddr) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let bucket = self.buckets.get_with(bucket_of(client), || Arc::new(Mutex::new(Bucket { tokens: capacity, updated: Instant::now() })));
        let mut bucket = bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(((1.0 - bucket.tokens) / per_second).ceil()))
        }
    }

    /// The client's address: the connection's peer, or what the trusted
    /// proxies in front of it say. `None` when the server was not set up to
    /// tell the peer (`into_make_service_with_connect_info`).
    pub(crate) fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = peer?.ip().to_canonical();
        if !self.is_trusted(client) {
            return Some(client);
        }
        // Right to left: each trusted proxy appended the address it received from.
        let forwarded: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(',')).collect();
        for hop in forwarded.into_iter().rev() {
            // An entry that does not parse was not written by a proxy we know: stop believing the header there.
            let Some(address) = parse_hop(hop) else { break };
            client = address;
            if !self.is_trusted(client) {
                break;
            }
        }
        Some(client)
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|proxy| proxy.contains(&address))
    }
}

/// One `X-Forwarded-For` entry: an address, with a port or not (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let address = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).and_then(|inner| inner.parse().ok()))?;
    Some(address.to_canonical())
}

/// The bucket an address counts against: itself, or its /64 for IPv6.
fn bucket_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use axum::http::{HeaderMap, HeaderValue};

    use super::SignInThrottle;

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ses_04_a_burst_then_one_start_per_interval_per_address() {
        let throttle = SignInThrottle::new(5, Vec::new());
        for _ in 0..5 {
            assert!(throttle.admit(address("192.0.2.1")).is_ok());
        }
        let wait = throttle.admit(address("192.0.2.1")).unwrap_err();
        assert!(wait.as_secs() >= 1 && wait.as_secs() <= 12, "about 60/5 seconds: {wait:?}");
        assert!(throttle.admit(address("192.0.2.2")).is_ok(), "another address has its own bucket");
        assert!(SignInThrottle::new(0, Vec::new()).admit(address("192.0.2.1")).is_ok(), "0: no limit");
    }

    #[test]
    fn ses_04_forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy = address("10.0.0.5");
        let throttle = SignInThrottle::new(5, vec![ipnet::IpNet::from(proxy)]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.7"));
        let from_proxy = "10.0.0.5:443".parse().ok();
        assert_eq!(throttle.client(from_proxy, &headers), Some(address("198.51.100.7")), "the address the proxy received from");
        let direct = "198.51.100.50:5000".parse().ok();
        assert_eq!(throttle.client(direct, &headers), Some(address("198.51.100.50")), "a client's own header is ignored");
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 10.0.0.5"));
        assert_eq!(throttle.client(from_proxy, &headers), Some(address("203.0.113.9")), "trusted hops are skipped");
        assert_eq!(throttle.client(None, &headers), None);
        // A proxy on a dual-stack listener is seen as ::ffff:10.0.0.5; entries may carry ports.
        let mapped = "[::ffff:10.0.0.5]:443".parse().ok();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.7:51234"));
        assert_eq!(throttle.client(mapped, &headers), Some(address("198.51.100.7")));
        // What the client wrote left of an unreadable entry is not believed.
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, garbage, 10.0.0.5"));
        assert_eq!(throttle.client(from_proxy, &headers), Some(address("10.0.0.5")), "the last address read");
    }

    #[test]
    fn ses_04_trusted_proxies_may_be_ranges_and_ipv6_clients_count_per_64() {
        let throttle = SignInThrottle::new(2, vec!["10.0.0.0/16".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("2001:db8:1:2::7, 10.0.3.4"));
        assert_eq!(throttle.client("10.0.9.9:443".parse().ok(), &headers), Some(address("2001:db8:1:2::7")));
        assert!(throttle.admit(address("2001:db8:1:2::7")).is_ok());
        assert!(throttle.admit(address("2001:db8:1:2::8")).is_ok());
        assert!(throttle.admit(address("2001:db8:1:2:ffff::1")).is_err(), "the same /64 shares one bucket");
        assert!(throttle.admit(address("2001:db8:1:3::1")).is_ok(), "another /64 has its own");
    }
}
