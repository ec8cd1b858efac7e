//! Leptos site settings (output name, site root, address).
//!
//! `[package.metadata.leptos]` in Cargo.toml is the only place they are
//! written. cargo-leptos reads it at build time and passes it to the server
//! as `LEPTOS_*` variables; a server started another way (tests, scripts,
//! deployment from the repository) reads the same section at run time.

use leptos::prelude::LeptosOptions;

/// Where the site settings live when cargo-leptos did not start us.
const SITE_CONFIG_FILE: &str = "Cargo.toml";

/// The Leptos options: from cargo-leptos' environment when present, else from Cargo.toml
/// (with any `LEPTOS_*` variable still overriding a key).
pub fn site_options() -> Result<LeptosOptions, String> {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some();
    let source = if from_cargo_leptos { None } else { Some(SITE_CONFIG_FILE) };
    leptos::config::get_configuration(source)
        .map(|conf| conf.leptos_options)
        .map_err(|error| format!("cannot read Leptos site settings from {}: {error}", source.unwrap_or("the environment")))
}
