//! Starts idweb: reads configuration, builds the identity engine and the
//! router, serves until Ctrl-C or SIGTERM (what container runtimes send),
//! then drains as a load balancer expects (`server::shutdown`).
//!
//! Configuration: `appsettings.json` (+ `appsettings.{IDWEB_ENVIRONMENT}.json`)
//! from `IDWEB_CONFIG_DIR` (default: the working directory), overridden by
//! `AzureAd__ClientSecret`-style environment variables. A debug build that
//! `cargo leptos watch` starts with no `IDWEB_ENVIRONMENT` runs as
//! Development with the emulator inside (`server::startup`). Leptos site settings
//! come from `LEPTOS_*` variables when cargo-leptos starts us, else from
//! `[package.metadata.leptos]` in `Cargo.toml` (the one source of truth).

/// jemalloc instead of the system allocator (see `tikv-jemallocator` in Cargo.toml for why).
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use std::process::ExitCode;

    use idweb_identity::Identity;
    use tracing_subscriber::EnvFilter;

    // LOG-02: every line leaves with its control characters escaped (no forged lines, no terminal escapes).
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(idweb_identity::telemetry::DEFAULT_LOG_FILTER)))
        .with_writer(idweb_identity::telemetry::Escaped(std::io::stdout))
        .with_ansi(false)
        .init();

    let surroundings = idweb::server::startup::Surroundings::from_process();
    let prepared = match idweb::server::startup::prepare(&surroundings, None).await {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("idweb cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    if surroundings.environment.is_none() && prepared.environment.is_some() {
        tracing::info!("no IDWEB_ENVIRONMENT: a debug build under `cargo leptos watch` runs as Development");
    }
    let leptos_options = match idweb::server::site_options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("idweb cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut builder = Identity::builder(prepared.config);
    if let Some(source) = prepared.managed_identity {
        builder = builder.managed_identity(source);
    }
    // Serves as long as the app does (development only; see server::embedded_emulator).
    #[cfg(all(feature = "embedded-emulator", debug_assertions))]
    let _emulator = prepared.emulator;
    let identity = match builder.build().await {
        Ok(identity) => identity,
        Err(error) => {
            eprintln!("idweb cannot start: {}", error.report());
            return ExitCode::FAILURE;
        }
    };
    if let Some(metrics_address) = identity.config().hosting.metrics_address {
        if let Some(handle) = idweb::server::metrics::install() {
            match tokio::net::TcpListener::bind(metrics_address).await {
                Ok(listener) => idweb::server::metrics::serve(listener, handle, identity.clone()),
                Err(error) => {
                    eprintln!("idweb cannot serve metrics on {metrics_address}: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let address = leptos_options.site_addr;
    let times = idweb::server::shutdown::ShutdownTimes::from_config(&identity.config().hosting);
    let lifecycle = idweb::server::shutdown::Lifecycle::default();
    let app = idweb::server::app_router_with(identity, leptos_options, &lifecycle);
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("idweb cannot listen on {address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("idweb listening on http://{address}");
    let signal = async {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut terminate) => {
                    terminate.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C still stops idweb");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => {}
            _ = terminate => {}
        }
    };
    // With each connection's peer address: sign-in starts are limited per client address (SES-04).
    if let Err(error) = idweb::server::shutdown::serve_until(listener, app, lifecycle, times, signal).await {
        eprintln!("idweb stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The binary needs the server; the WASM bundle is built from the library.
}
