//! The whole app as one Axum router, shared by `main` and tests.

use std::sync::Arc;

use axum::Router;
use idweb_identity::Identity;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use super::context::PageUser;
use super::headers::{no_store_unless_asset, security_header_layers};
use super::health::{healthz, readyz, HEALTH_PATH, READY_PATH};
use super::photo::{profile_photo, PHOTO_PATH};
use crate::app::{shell, App};

/// Leptos pages and server functions, the identity routes, the session
/// layer and security headers.
pub fn app_router(identity: Arc<Identity>, leptos_options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let context_identity = identity.clone();
    let fallback_identity = identity.clone();
    let pages = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || {
                provide_context(context_identity.clone());
                provide_context(PageUser::default());
            },
            {
                let leptos_options = leptos_options.clone();
                move || shell(leptos_options.clone())
            },
        )
        // The not-found page renders the header too, whose server function needs the engine.
        .fallback(leptos_axum::file_and_error_handler_with_context(move || provide_context(fallback_identity.clone()), shell))
        .with_state(leptos_options)
        // CSRF in depth for server functions that write (the engine's routes guard themselves).
        .layer(axum::middleware::from_fn_with_state(identity.clone(), idweb_identity::csrf::same_origin_writes));
    let headers = security_header_layers(identity.config().hosting.public_url.scheme() == "https");
    let router = Router::new()
        .route(HEALTH_PATH, axum::routing::get(healthz))
        .route(READY_PATH, axum::routing::get(readyz).with_state(identity.clone()))
        .route(PHOTO_PATH, axum::routing::get(profile_photo).with_state(identity.clone()))
        .merge(identity.router())
        .merge(pages)
        .layer(identity.session_layer())
        .layer(axum::middleware::from_fn(no_store_unless_asset));
    headers.into_iter().fold(router, |router, layer| router.layer(layer))
}
