//! A session the store could not save never ends in a bare 500.
//!
//! tower-sessions writes a changed session back after the handler has
//! answered, and answers an empty 500 when that write fails (a store outage
//! during a sign-in, or during the once-a-minute activity write). Around the
//! session manager, this guard marks the server errors the handler answered
//! itself (the inner half) and, seeing a 500 without that mark (the outer
//! half), answers in its place with a 503 and `Retry-After`: a short HTML
//! page for a browser navigating (with a link that tries the same page
//! again; not a redirect, which could loop when the store reads but does not
//! write, as any page looks its user up and may write the session), plain
//! text for anything else. The outage itself is logged once by the store
//! ([`idweb_stores::outage::OutageLog`]).
//!
//! It also notes a session cookie that is not a session id at all (a
//! tampered or guessed cookie) as a security event, which tower-sessions
//! logs itself only at a level the default filter turns off.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use tower::util::BoxCloneSyncServiceLayer;
use tower::ServiceBuilder;
use tower_sessions::SessionManagerLayer;

use idweb_stores::SessionBackend;

/// Seconds a client is asked to wait before trying again.
const RETRY_AFTER_SECONDS: &str = "5";

/// Marks a server error the handler itself answered. tower-sessions passes
/// the handler's response through untouched, and answers a failed save with
/// a response of its own: a 500 without this mark is the failed save. Only
/// server errors are marked, so a request that goes well costs nothing.
#[derive(Clone, Copy)]
struct HandlerServerError;

/// The session manager (whose cookie is `cookie_name`) between the two halves of the guard, as one layer.
pub(crate) fn guarded(manager: SessionManagerLayer<SessionBackend>, cookie_name: &str) -> BoxCloneSyncServiceLayer<Route, Request, Response, Infallible> {
    let cookie_name: Arc<str> = cookie_name.into();
    let layers = ServiceBuilder::new()
        .layer(from_fn_with_state(cookie_name, answer_failed_save))
        .layer(manager)
        .layer(from_fn(mark_handler_server_errors));
    BoxCloneSyncServiceLayer::new(layers)
}

async fn mark_handler_server_errors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status().is_server_error() {
        response.extensions_mut().insert(HandlerServerError);
    }
    response
}

async fn answer_failed_save(State(cookie_name): State<Arc<str>>, request: Request, next: Next) -> Response {
    note_malformed_session_cookie(&request, &cookie_name);
    let navigating = accepts_html(&request);
    // Only a page fetched with GET is worth a "try again" link to itself (kept as the
    // request's own `Uri`, a reference count: the link is written only if it is needed).
    let again = (navigating && request.method() == Method::GET).then(|| request.uri().clone());
    let response = next.run(request).await;
    let failed_save = response.status() == StatusCode::INTERNAL_SERVER_ERROR && response.extensions().get::<HandlerServerError>().is_none();
    if !failed_save {
        return response;
    }
    tracing::debug!("the session could not be saved; answering \"try again\"");
    let mut response = if navigating {
        let link = again.map_or_else(|| "/".to_owned(), |uri| same_page(&uri));
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>Try again in a moment</title></head><body><main><h1>Try again in a moment</h1>\
             <p>The app cannot reach its session store right now, so this could not be completed.</p>\
             <p><a href=\"{}\">Try again</a></p></main></body></html>",
            html_escape(&link)
        );
        (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "The session store is unavailable; try again in a moment.").into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

/// The path and query of `uri`, as a link on this site (never another host's).
fn same_page(uri: &Uri) -> String {
    let path = uri.path_and_query().map(|path| path.as_str()).unwrap_or("/");
    // `//host/...` would leave the site.
    if path.starts_with('/') && !path.starts_with("//") {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A session cookie that does not parse as a session id: someone made it up.
fn note_malformed_session_cookie(request: &Request, cookie_name: &str) {
    let cookies = request.headers().get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok());
    let malformed = cookies.flat_map(|line| line.split(';')).filter_map(|pair| pair.trim().split_once('=')).any(|(name, value)| {
        name == cookie_name && value.parse::<tower_sessions::session::Id>().is_err()
    });
    if malformed {
        idweb_stores::telemetry::session_cookie_refused("malformed");
        tracing::warn!(target: "idweb::security", "a request carried a session cookie that is not a session id");
    }
}

/// Whether the request is a browser's navigation (it takes HTML).
fn accepts_html(request: &Request) -> bool {
    request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::{html_escape, same_page};

    #[test]
    fn the_try_again_link_stays_on_this_site_and_is_escaped() {
        assert_eq!(same_page(&"/mail?page=2".parse().unwrap()), "/mail?page=2");
        assert_eq!(same_page(&"//evil.example/x".parse().unwrap()), "/");
        assert_eq!(same_page(&"http://evil.example/x".parse().unwrap()), "/x", "only the path of an absolute-form target");
        assert_eq!(html_escape(r#"/a?b="><script>"#), "/a?b=&quot;&gt;&lt;script&gt;");
    }
}
