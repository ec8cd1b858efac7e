//! When to try a throttled or unavailable downstream call again (FLT-02);
//! how long the answer asks to wait is read by `answer::retry_after`.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
