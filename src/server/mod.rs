//! Server-side wiring: the Axum router around the Leptos app and the
//! identity engine. Compiled only with the `ssr` feature.

pub mod context;
pub mod headers;
mod health;
pub mod metrics;
mod owner;
mod page_head;
mod pages;
mod photo;
mod router;
mod site;

pub use router::app_router;
pub use site::site_options;
