//! When to try a throttled or unavailable downstream call again (FLT-02).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};

/// The longest `Retry-After` idweb waits for; longer asks become an error at once.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// The wait when a retriable answer names none.
pub const DEFAULT_RETRY_WAIT: Duration = Duration::from_secs(1);

/// Whether a call answered `status` is worth another try after waiting.
/// 429 says the request was not served: any method may repeat it. A 503
/// may come from a gateway after the API acted, so only methods that can be
/// repeated safely (GET, HEAD, OPTIONS, PUT) are, unless the API's
/// `RetryWrites` says its writes are idempotent too.
pub fn is_retriable(status: StatusCode, method: &Method, retry_writes: bool) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::SERVICE_UNAVAILABLE => retry_writes || matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT),
        _ => false,
    }
}

/// How long `Retry-After` asks to wait: seconds, or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after(&headers("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:10 GMT"), now), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:27:00 GMT"), now), Some(Duration::ZERO), "a date in the past means now");
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn only_throttling_and_unavailability_are_retried() {
        assert!(is_retriable(StatusCode::TOO_MANY_REQUESTS, &Method::GET, false));
        assert!(is_retriable(StatusCode::SERVICE_UNAVAILABLE, &Method::GET, false));
        assert!(!is_retriable(StatusCode::INTERNAL_SERVER_ERROR, &Method::GET, false));
        assert!(!is_retriable(StatusCode::UNAUTHORIZED, &Method::GET, false));
    }

    #[test]
    fn flt_02_writes_are_repeated_after_a_503_only_when_configured_idempotent() {
        for write in [Method::POST, Method::PATCH, Method::DELETE] {
            assert!(!is_retriable(StatusCode::SERVICE_UNAVAILABLE, &write, false), "{write}");
            assert!(is_retriable(StatusCode::SERVICE_UNAVAILABLE, &write, true), "{write} with RetryWrites");
            assert!(is_retriable(StatusCode::TOO_MANY_REQUESTS, &write, false), "429: {write} was not served");
        }
    }
}
