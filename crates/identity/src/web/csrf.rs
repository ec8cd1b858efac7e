//! CSRF in depth: state-changing requests (POST, PUT, PATCH, DELETE) must
//! come from this site. SameSite=Lax already keeps the session cookie off
//! cross-site POSTs; this refuses them outright, and also covers what Lax
//! does not (a sibling subdomain is "same-site").
//!
//! The browser says where a request comes from: `Sec-Fetch-Site` (all
//! current browsers) is trusted first; `same-origin` and `none` (typed or
//! bookmarked) pass, anything else is refused. Without it, `Origin` must be
//! the public origin. A request with neither comes from no browser (curl, the
//! provider's back-channel logout) and carries no ambient cookie to abuse.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Identity;

/// Axum middleware: refuses cross-site state-changing requests with 403.
pub async fn same_origin_writes(State(identity): State<Arc<Identity>>, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes {
        let public_origin = identity.config().hosting.public_url.origin().ascii_serialization();
        if let Err(refusal) = check(request.headers().get("sec-fetch-site"), request.headers().get(header::ORIGIN), &public_origin) {
            tracing::warn!(target: "idweb::security", path = %crate::telemetry::outside_text(request.uri().path()), refusal, "cross-site write refused");
            let mut response = (StatusCode::FORBIDDEN, "This request did not come from this site.").into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return response;
        }
    }
    next.run(request).await
}

/// Whether a write with these headers may proceed; the refusal names which header refused it.
fn check(fetch_site: Option<&HeaderValue>, origin: Option<&HeaderValue>, public_origin: &str) -> Result<(), &'static str> {
    if let Some(site) = fetch_site {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err("Sec-Fetch-Site"),
        };
    }
    match origin {
        Some(origin) if origin.as_bytes() == public_origin.as_bytes() => Ok(()),
        Some(_) => Err("Origin"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn browsers_say_where_a_write_comes_from() {
        let site = "https://app.example";
        assert!(check(Some(&value("same-origin")), Some(&value("https://elsewhere")), site).is_ok(), "Sec-Fetch-Site wins");
        assert!(check(Some(&value("none")), None, site).is_ok());
        assert_eq!(check(Some(&value("cross-site")), Some(&value(site)), site), Err("Sec-Fetch-Site"));
        assert_eq!(check(Some(&value("same-site")), None, site), Err("Sec-Fetch-Site"), "a sibling subdomain is refused too");
        assert!(check(None, Some(&value(site)), site).is_ok());
        assert_eq!(check(None, Some(&value("https://evil.example")), site), Err("Origin"));
        assert_eq!(check(None, Some(&value("null")), site), Err("Origin"), "an opaque origin (sandboxed frame, data: URL)");
        assert!(check(None, None, site).is_ok(), "no browser, no ambient cookie");
    }
}
