//! idweb's identity engine: configuration in Microsoft's schema, OpenID
//! Connect sign-in against the Microsoft identity platform, a server-side
//! per-user token cache, token acquisition and Microsoft Graph calls.
//!
//! The app builds one [`Identity`] at start-up, merges [`Identity::router`]
//! into its Axum router under [`Identity::session_layer`], and asks
//! [`Identity::user`] / [`Identity::graph`] from its handlers. Tokens never
//! leave this crate except as `Authorization` headers it sends itself.
#![warn(missing_docs)]

pub mod acquisition;
pub mod cache;
pub mod claims;
pub mod config;
pub mod credentials;
pub mod downstream;
pub mod error;
pub mod graph;
pub mod provider;
pub mod signin;
pub mod token_response;
pub mod user;

use std::sync::Arc;
use std::time::Duration;

use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, MemoryStore, Session, SessionManagerLayer};

pub use acquisition::TokenAcquisition;
pub use acquisition::UserTokenOptions;
pub use cache::{MemoryTokenCache, PartitionKey, TokenCacheStore};
pub use config::{ConfigError, IdentityConfig};
pub use downstream::{ApiCaller, Caller, DownstreamApis};
pub use error::{IdentityError, SIGN_IN_ERROR_PATH, SIGN_IN_PATH};
pub use graph::{GraphClient, GraphUser};
pub use signin::SIGN_OUT_PATH;
pub use user::{HomeAccountId, SignedInUser};

use provider::ProviderCache;

/// Time limit for every call to the provider or a downstream API.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The identity engine, built once and shared by every request.
pub struct Identity {
    config: Arc<IdentityConfig>,
    http: reqwest::Client,
    provider: Arc<ProviderCache>,
    memory_cache: Arc<MemoryTokenCache>,
    tokens: Arc<TokenAcquisition>,
    graph: GraphClient,
    downstream: DownstreamApis,
}

impl Identity {
    /// Builds the engine. Nothing is fetched yet: the provider is discovered
    /// on first use, so the app starts even while the provider is down.
    pub fn new(config: IdentityConfig) -> Result<Arc<Self>, IdentityError> {
        let config = Arc::new(config);
        // No redirects: token and discovery calls must not be bounced to another host (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|error| IdentityError::Internal(format!("cannot build HTTP client: {error}")))?;
        let provider = Arc::new(ProviderCache::new(config.clone(), http.clone()));
        let memory_cache = Arc::new(MemoryTokenCache::new(
            config.token_cache.max_partitions,
            config.token_cache.sliding_expiration,
        ));
        let tokens = Arc::new(TokenAcquisition::new(provider.clone(), memory_cache.clone(), http.clone(), &config));
        let caller = Arc::new(ApiCaller::new(http.clone(), tokens.clone()));
        let graph = GraphClient::new(&config.graph, caller.clone());
        let downstream = DownstreamApis::new(config.downstream_apis.clone(), caller);
        Ok(Arc::new(Self { config, http, provider, memory_cache, tokens, graph, downstream }))
    }

    /// Sign-in, callback and sign-out routes.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        signin::router(self.clone())
    }

    /// The session layer, configured from the `Session` section (SES-01).
    pub fn session_layer(&self) -> SessionManagerLayer<MemoryStore> {
        let session = &self.config.session;
        SessionManagerLayer::new(MemoryStore::default())
            .with_name(session.cookie_name.clone())
            .with_secure(session.secure_cookie)
            .with_http_only(true)
            // Lax, not Strict: the redirect back from the provider must carry the cookie.
            .with_same_site(SameSite::Lax)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::minutes(
                i64::from(session.idle_timeout_minutes),
            )))
    }

    /// The signed-in user of this session, if any.
    pub async fn user(session: &Session) -> Result<Option<SignedInUser>, IdentityError> {
        Ok(session.get::<SignedInUser>(signin::USER_KEY).await?)
    }

    /// The configuration the engine was built from.
    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Token acquisition for signed-in users.
    pub fn tokens(&self) -> &TokenAcquisition {
        &self.tokens
    }

    /// Microsoft Graph, acting for the user.
    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    /// The web APIs named in configuration.
    pub fn downstream(&self) -> &DownstreamApis {
        &self.downstream
    }

    /// The in-memory token cache store (for diagnostics and tests).
    pub fn cache(&self) -> &MemoryTokenCache {
        &self.memory_cache
    }

    pub(crate) fn provider(&self) -> &ProviderCache {
        &self.provider
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
