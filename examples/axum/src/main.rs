//! Reads `appsettings.json` (+ `appsettings.{IDWEB_ENVIRONMENT}.json` and
//! `AzureAd__ClientSecret`-style variables) from the working directory,
//! builds the engine and serves on `LISTEN` (default 127.0.0.1:4000).

use idweb_identity::{Identity, IdentityConfig};

#[tokio::main]
async fn main() -> Result<(), String> {
    let environment = std::env::var("IDWEB_ENVIRONMENT").ok();
    let config = IdentityConfig::load(std::path::Path::new("."), environment.as_deref()).map_err(|error| error.to_string())?;
    let identity = Identity::builder(config).build().await.map_err(|error| error.report())?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:4000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|error| format!("{listen}: {error}"))?;
    println!("http://{listen}");
    // With each connection's address: the engine limits sign-in starts per client.
    let app = idweb_example_axum::app(identity).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await.map_err(|error| error.to_string())
}
