//! The whole app as one Axum router, shared by `main` and tests.

use std::sync::Arc;

use axum::Router;
use idweb_identity::Identity;
use leptos::prelude::*;

use super::headers::security_header_layers;
use super::health::{healthz, readyz, HEALTH_PATH, READY_PATH};
use super::pages::{page_routes, server_function_routes};
use super::photo::{profile_photo, PHOTO_PATH};
use super::shutdown::{close_connections_while_draining, Lifecycle};

/// The largest body a server function reads (a to-do title is 200 characters).
const SERVER_FUNCTION_BODY_LIMIT: usize = 64 * 1024;

/// Pages and server functions, the identity routes, the session layer and
/// security headers, for an instance that is never drained.
pub fn app_router(identity: Arc<Identity>, leptos_options: LeptosOptions) -> Router {
    app_router_with(identity, leptos_options, &Lifecycle::default())
}

/// [`app_router`] whose `/readyz` and connections follow `lifecycle`
/// (what [`super::shutdown::serve_until`] drains).
pub fn app_router_with(identity: Arc<Identity>, leptos_options: LeptosOptions, lifecycle: &Lifecycle) -> Router {
    let same_origin_writes = || axum::middleware::from_fn_with_state(identity.clone(), idweb_identity::web::csrf::same_origin_writes);
    // CSRF in depth for server functions and the forms pages take without JavaScript
    // (the engine's routes guard themselves).
    // Server functions read their whole body before any check of the session: bounded, a
    // stranger cannot make one buffer more than a form of this app ever sends.
    let server_functions = server_function_routes(identity.clone())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(SERVER_FUNCTION_BODY_LIMIT))
        .layer(same_origin_writes());
    let pages = page_routes(identity.clone(), leptos_options).layer(same_origin_writes());
    let headers = security_header_layers(identity.config().hosting.public_url.scheme() == "https");
    let routes = Router::new()
        .route(HEALTH_PATH, axum::routing::get(healthz))
        .route(READY_PATH, axum::routing::get(readyz).with_state((identity.clone(), lifecycle.clone())))
        .route(PHOTO_PATH, axum::routing::get(profile_photo).with_state(identity.clone()))
        .merge(identity.router())
        .merge(server_functions)
        .merge(pages);
    // Each group of layers wraps a router seen as one service, not each of its routes:
    // `Router::layer` wraps every route, and each middleware clones the whole stack
    // inside it per request (axum's `from_fn` and the session manager both do), so
    // per-route layers cost every request a deep copy of the stack (about 1% of a
    // Profile request's instructions, docs/BENCHMARKS.md). A router clones as one
    // reference count.
    let with_sessions = Router::new().fallback_service(routes).layer(identity.session_layer());
    let with_headers = headers.into_iter().fold(Router::new().fallback_service(with_sessions), |router, layer| router.layer(layer));
    Router::new()
        .fallback_service(with_headers)
        .layer(axum::middleware::from_fn_with_state(lifecycle.clone(), close_connections_while_draining))
}
