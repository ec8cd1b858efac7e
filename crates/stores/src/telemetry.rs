//! The stores' metrics, named in one place (the engine's `telemetry`
//! re-exports them beside its own), and how their failures read in logs.

use std::time::Duration;

/// Failed calls to the shared token cache store, by `store`.
pub const L2_ERRORS: &str = "idweb_token_cache_l2_errors_total";
/// Seconds per shared token cache store call, by `op`.
pub const L2_SECONDS: &str = "idweb_token_cache_l2_seconds";
/// L1 copies dropped because another instance changed the partition.
pub const L1_INVALIDATIONS: &str = "idweb_token_cache_l1_invalidations_total";
/// Shared entries that failed authentication (dropped, never used).
pub const DECRYPT_FAILURES: &str = "idweb_token_cache_decrypt_failures_total";
/// Sessions in the session store (memory store only; shared stores are counted by their engine).
pub const ACTIVE_SESSIONS: &str = "idweb_sessions_active";

pub(crate) fn l2_error(store: &'static str) {
    metrics::counter!(L2_ERRORS, "store" => store).increment(1);
}

pub(crate) fn l2_latency(op: &'static str, took: Duration) {
    metrics::histogram!(L2_SECONDS, "op" => op).record(took.as_secs_f64());
}

pub(crate) fn l1_invalidation() {
    metrics::counter!(L1_INVALIDATIONS).increment(1);
}

pub(crate) fn decrypt_failure() {
    metrics::counter!(DECRYPT_FAILURES).increment(1);
}

/// Session cookies that name no session, by `reason`: `malformed` (not a
/// session id at all) or `unknown` (a well-formed id the store does not
/// hold: expired, ended, or guessed).
pub const SESSION_COOKIES_REFUSED: &str = "idweb_session_cookies_refused_total";

/// Counts a refused session cookie (`reason`: `malformed`, `unknown`).
pub fn session_cookie_refused(reason: &'static str) {
    metrics::counter!(SESSION_COOKIES_REFUSED, "reason" => reason).increment(1);
}

/// An error and its sources on one line, for logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
