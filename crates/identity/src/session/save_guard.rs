//! A session the store could not save never ends in a bare 500.
//!
//! tower-sessions writes a changed session back after the handler has
//! answered, and answers an empty 500 when that write fails (a store outage
//! during a sign-in, or during the once-a-minute activity write). Around the
//! session manager, this guard notes the status the handler answered with
//! (the inner half) and, seeing a 500 the handler did not send (the outer
//! half), answers in its place: a browser navigating is sent to the sign-in
//! error page ("the session store is unavailable, try again"), anything
//! else gets a 503 with `Retry-After`. The outage itself is logged once by
//! the store ([`crate::outage::OutageLog`]).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::Route;
use idweb_routes::{FailureReason, SignInError};
use tower::util::BoxCloneSyncServiceLayer;
use tower::ServiceBuilder;
use tower_sessions::SessionManagerLayer;

use super::SessionBackend;

/// Seconds a client is asked to wait before trying again.
const RETRY_AFTER_SECONDS: &str = "5";

/// The status the handler answered with, as the session manager saw it.
#[derive(Default)]
struct HandlerStatus(AtomicU16);

/// The session manager between the two halves of the guard, as one layer.
pub(crate) fn guarded(manager: SessionManagerLayer<SessionBackend>) -> BoxCloneSyncServiceLayer<Route, Request, Response, Infallible> {
    let layers = ServiceBuilder::new().layer(from_fn(answer_failed_save)).layer(manager).layer(from_fn(note_handler_status));
    BoxCloneSyncServiceLayer::new(layers)
}

async fn note_handler_status(request: Request, next: Next) -> Response {
    let seen = request.extensions().get::<Arc<HandlerStatus>>().cloned();
    let response = next.run(request).await;
    if let Some(seen) = seen {
        seen.0.store(response.status().as_u16(), Ordering::Relaxed);
    }
    response
}

async fn answer_failed_save(mut request: Request, next: Next) -> Response {
    let seen = Arc::new(HandlerStatus::default());
    request.extensions_mut().insert(seen.clone());
    let navigating = accepts_html(&request);
    let response = next.run(request).await;
    let handler_status = seen.0.load(Ordering::Relaxed);
    let failed_save = response.status() == StatusCode::INTERNAL_SERVER_ERROR && handler_status != 0 && handler_status < 500;
    if !failed_save {
        return response;
    }
    tracing::debug!(handler_status, "the session could not be saved; answering \"try again\"");
    if navigating {
        let mut response = Redirect::to(&SignInError::new(FailureReason::StoreUnavailable).href()).into_response();
        response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        return response;
    }
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "The session store is unavailable; try again in a moment.").into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

/// Whether the request is a browser's navigation (it takes HTML).
fn accepts_html(request: &Request) -> bool {
    request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}
