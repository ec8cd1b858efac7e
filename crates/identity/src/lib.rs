//! idweb's identity engine: configuration in Microsoft's schema, OpenID
//! Connect sign-in against the Microsoft identity platform, a server-side
//! per-user token cache, token acquisition and Microsoft Graph calls.
//!
//! The app builds one [`Identity`] at start-up with [`Identity::builder`]
//! (which picks the token cache and session stores configuration names:
//! memory, or Redis / PostgreSQL shared by several instances), merges
//! [`Identity::router`] into its Axum router under
//! [`Identity::session_layer`], and asks [`Identity::user`] /
//! [`Engine::graph`] from its handlers. Tokens never leave this crate
//! except as `Authorization` headers it sends itself (and, encrypted, as
//! entries of a shared token cache).
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::extract::State;
//! use axum::routing::get;
//! use axum::Router;
//! use idweb_identity::{CurrentUser, Identity, IdentityConfig, IdentityError};
//!
//! async fn hello(State(identity): State<Arc<Identity>>, CurrentUser(user): CurrentUser) -> Result<String, IdentityError> {
//!     let me = identity.graph().me(&user).await?;
//!     Ok(format!("Hello, {}", me.display_name.unwrap_or_default()))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Usually `IdentityConfig::load(dir, environment)`: appsettings.json, as Microsoft.Identity.Web reads it.
//! let config = IdentityConfig::from_json(&serde_json::json!({
//!     "AzureAd": { "Instance": "https://login.microsoftonline.com/", "TenantId": "contoso.onmicrosoft.com",
//!                  "ClientId": "00000000-0000-0000-0000-000000000001", "ClientSecret": "from the environment, never the file" },
//!     "Graph": { "BaseUrl": "https://graph.microsoft.com/v1.0", "Scopes": ["User.Read"] },
//!     "Hosting": { "PublicUrl": "https://app.contoso.example" },
//! }))?;
//! // Nothing is fetched yet: the provider is discovered on first use.
//! let identity = Identity::builder(config).build().await?;
//! let app: Router = Router::new()
//!     .route("/", get(hello))
//!     .with_state(identity.clone())
//!     .merge(identity.router())
//!     .layer(identity.session_layer());
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Layers, each importing only those below it: [`web`] (the only importer
//! of axum) over [`Engine`] over Graph, the downstream APIs and token
//! acquisition, over the protocol, configuration and credentials; state is
//! kept by `idweb-stores`.
#![deny(missing_docs)]

pub mod acquisition;
mod answer;
mod clock;
pub mod config;
pub mod credentials;
pub mod downstream;
mod engine;
pub mod error;
pub mod graph;
pub(crate) mod protocol;
pub mod scopes;
pub mod telemetry;
pub mod user;
pub mod web;

/// The token cache: partitions, stores, the shared L2 (from `idweb-stores`).
pub use idweb_stores::token_cache as cache;
/// Where state is kept: the token cache and session stores (`idweb-stores`).
pub use idweb_stores as stores;

pub use acquisition::{TokenAcquisition, UserTokenOptions};
pub use config::{ConfigError, IdentityConfig};
pub use downstream::{ApiCaller, Caller, DownstreamApis};
pub use engine::Engine;
pub use error::{ErrorClass, IdentityError, SIGN_IN_ERROR_PATH, SIGN_IN_PATH};
pub use graph::{GraphClient, GraphUser};
pub use idweb_stores::{LayeredTokenCache, MemoryTokenCache, PartitionKey, SessionBackend, StoreError, TokenCacheStore};
pub use user::{HomeAccountId, SignedInUser};
pub use web::extract::{CurrentUser, MaybeUser};
pub use web::session::ACTIVITY_GRANULARITY;
pub use web::signin::SIGN_OUT_PATH;
pub use web::{Identity, IdentityBuilder};
