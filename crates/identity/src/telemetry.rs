//! The engine's metrics, named in one place (docs/OPERATIONS.md explains
//! each). They go to whatever `metrics` recorder the app installs; with
//! none, recording costs next to nothing.

use std::time::Duration;

/// Tokens handed out, by `source`: `l1`, `l2`, `refresh`, `code`, `client_credentials`.
pub const TOKENS_SERVED: &str = "idweb_tokens_served_total";
/// Seconds per token endpoint request, by `grant`.
pub const TOKEN_ENDPOINT_SECONDS: &str = "idweb_token_endpoint_seconds";
/// Error codes the token endpoint answered, by `error`.
pub const PROVIDER_ERRORS: &str = "idweb_provider_errors_total";
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

pub(crate) fn token_served(source: &'static str) {
    metrics::counter!(TOKENS_SERVED, "source" => source).increment(1);
}

pub(crate) fn token_endpoint(grant: &'static str, took: Duration) {
    metrics::histogram!(TOKEN_ENDPOINT_SECONDS, "grant" => grant).record(took.as_secs_f64());
}

pub(crate) fn provider_error(code: &str) {
    // Only OAuth-shaped codes become label values: nothing from outside grows the label set freely.
    let code = if code.len() <= 40 && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') { code.to_owned() } else { "other".into() };
    metrics::counter!(PROVIDER_ERRORS, "error" => code).increment(1);
}

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
