//! idweb: a Leptos full-stack app that signs users in with the Microsoft
//! identity platform and shows Microsoft Graph data.
//!
//! Everything that touches the server (identity engine, Axum wiring) is
//! behind the `ssr` feature, so the WASM bundle never links it.

pub mod app;
pub mod auth_links;
pub mod error;
pub mod json_text;
pub mod pages;
pub mod session_user;

#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point: hydrates the page's islands (the `#[island]`
/// components); the rest of the page stays the server's HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
