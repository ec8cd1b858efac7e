//! Server-side wiring: the Axum router around the Leptos app and the
//! identity engine. Compiled only with the `ssr` feature.

pub mod context;
mod embedded_emulator;
pub mod headers;
mod health;
pub mod metrics;
mod owner;
mod page_head;
mod pages;
mod photo;
mod router;
pub mod shutdown;
mod site;
pub mod startup;

pub use router::{app_router, app_router_with};
pub use site::site_options;
