//! Sign-in starts per client address, limited (SES-04): a client that
//! starts sign-ins in a loop is answered 429 with `Retry-After`, and the
//! provider, the app's CPU and everyone else's sign-ins are spared.
//!
//! A token bucket per address: `SignInStartsPerMinute` starts at once, then
//! one more every `60 / SignInStartsPerMinute` seconds. The buckets are kept
//! in memory, bounded, and forgotten when idle. The client's address is the
//! connection's peer, or, when the peer is one of `Hosting:TrustedProxies`,
//! the nearest address in `X-Forwarded-For` that is not a trusted proxy
//! (anyone can write that header; only the proxy's own addition counts).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
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
    trusted_proxies: Vec<IpAddr>,
    buckets: Cache<IpAddr, Arc<Mutex<Bucket>>>,
}

impl SignInThrottle {
    /// `per_minute` starts per address (0: unlimited); `trusted_proxies` may name the client.
    pub(crate) fn new(per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Self {
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
        let bucket = self.buckets.get_with(client, || Arc::new(Mutex::new(Bucket { tokens: capacity, updated: Instant::now() })));
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
        let peer = peer?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        // Right to left: each trusted proxy appended the address it received from.
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(','));
        let hops: Vec<IpAddr> = forwarded.filter_map(|hop| hop.trim().parse().ok()).collect();
        Some(hops.into_iter().rev().find(|hop| !self.trusted_proxies.contains(hop)).unwrap_or(peer))
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
        let throttle = SignInThrottle::new(5, vec![proxy]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.7"));
        let from_proxy = "10.0.0.5:443".parse().ok();
        assert_eq!(throttle.client(from_proxy, &headers), Some(address("198.51.100.7")), "the address the proxy received from");
        let direct = "198.51.100.50:5000".parse().ok();
        assert_eq!(throttle.client(direct, &headers), Some(address("198.51.100.50")), "a client's own header is ignored");
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 10.0.0.5"));
        assert_eq!(throttle.client(from_proxy, &headers), Some(address("203.0.113.9")), "trusted hops are skipped");
        assert_eq!(throttle.client(None, &headers), None);
    }
}
