//! Security headers (HDR-01).
//!
//! - Pages: a Content-Security-Policy with a fresh nonce per response,
//!   `script-src 'self' 'nonce-…' 'wasm-unsafe-eval'` (the hydration script
//!   is inline and carries the nonce; the bundle is same-origin; WASM needs
//!   `wasm-unsafe-eval`) and `connect-src 'self'` (server functions only).
//! - Every other response: a policy that allows nothing to run or frame it,
//!   unless the handler set its own (the front-channel logout page).
//! - `Cache-Control: no-store` on every response that did not choose its
//!   own caching: pages name the signed-in user and server functions return
//!   their data. The build's files choose `no-cache` (`server::pages`):
//!   cached, but checked again, as their names do not change between builds.
//! - HSTS when the public URL is https; `nosniff`; a referrer policy.

use axum::http::{header, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// One year, as HSTS preload lists expect.
const HSTS: &str = "max-age=31536000";
/// The policy of responses that are not pages.
const DEFAULT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'";

/// Layers that add headers no response of ours should lack; HSTS when the
/// public URL is `https`.
pub fn security_header_layers(https: bool) -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    let mut layers = vec![
        SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin")),
        SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_POLICY)),
        SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    if https {
        layers.push(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS)));
    }
    layers
}

/// The policy of a page whose inline script carries `nonce`. `provider_origin`
/// is the identity provider's origin (sign-out posts a form that redirects
/// there, and browsers apply `form-action` to the redirect).
pub fn page_policy(nonce: &str, provider_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; \
         style-src 'self'; form-action 'self' {provider_origin}; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::page_policy;

    #[test]
    fn hdr_01_the_page_policy_allows_only_nonced_and_same_origin_script() {
        let policy = page_policy("abc123", "https://login.microsoftonline.com");
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"), "{policy}");
        assert!(policy.contains("connect-src 'self';") && policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("form-action 'self' https://login.microsoftonline.com;"), "{policy}");
    }
}
