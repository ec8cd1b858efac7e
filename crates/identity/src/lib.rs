//! idweb's identity engine: configuration in Microsoft's schema, OpenID
//! Connect sign-in against the Microsoft identity platform, a server-side
//! per-user token cache, token acquisition and Microsoft Graph calls.
//!
//! The app builds one [`Identity`] at start-up with [`Identity::builder`]
//! (which picks the token cache and session stores configuration names:
//! memory, or Redis / PostgreSQL shared by several instances), merges
//! [`Identity::router`] into its Axum router under
//! [`Identity::session_layer`], and asks [`Identity::user`] /
//! [`Identity::graph`] from its handlers. Tokens never leave this crate
//! except as `Authorization` headers it sends itself (and, encrypted, as
//! entries of a shared token cache).
#![warn(missing_docs)]

pub mod acquisition;
mod answer;
pub mod claims;
pub mod config;
pub mod credentials;
pub mod csrf;
pub mod downstream;
pub mod error;
pub mod extract;
pub mod graph;
pub mod logout;
pub mod provider;
pub mod session;
pub mod signin;
pub mod telemetry;
mod token_endpoint;
pub mod token_response;
pub mod user;
pub mod scopes;

/// The token cache: partitions, stores, the shared L2 (from `idweb-stores`).
pub use idweb_stores::token_cache as cache;
/// Where state is kept: the token cache and session stores (`idweb-stores`).
pub use idweb_stores as stores;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub use acquisition::TokenAcquisition;
pub use acquisition::UserTokenOptions;
pub use idweb_stores::{LayeredTokenCache, MemoryTokenCache, PartitionKey, StoreError, TokenCacheStore};
pub use config::{ConfigError, IdentityConfig};
pub use downstream::{ApiCaller, Caller, DownstreamApis};
pub use error::{IdentityError, SIGN_IN_ERROR_PATH, SIGN_IN_PATH};
pub use extract::{CurrentUser, MaybeUser};
pub use graph::{GraphClient, GraphUser};
pub use idweb_stores::SessionBackend;
pub use signin::SIGN_OUT_PATH;
pub use user::{HomeAccountId, SignedInUser};

use provider::ProviderCache;

/// Session key of the last recorded activity (seconds since the epoch).
pub(crate) const ACTIVITY_KEY: &str = "idweb.active_at";
/// How stale the recorded activity may get before a request writes it:
/// the idle timeout slides in steps this long, with one session write per
/// step instead of one per request.
pub const ACTIVITY_GRANULARITY: Duration = Duration::from_secs(60);

/// Seconds since the Unix epoch (0 if the clock is before it): the one
/// clock session and sign-in times are kept in.
pub(crate) fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0)
}

/// Time limit for every call to the provider or a downstream API.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The identity engine, built once and shared by every request.
pub struct Identity {
    config: Arc<IdentityConfig>,
    provider: Arc<ProviderCache>,
    tokens: Arc<TokenAcquisition>,
    sessions: SessionBackend,
    graph: GraphClient,
    downstream: DownstreamApis,
    offered_scopes: BTreeSet<String>,
    /// Sign-ins in flight, sealed in their browsers' cookies (SES-04).
    pending_sign_ins: signin::pending::PendingSignIns,
    /// Sign-in starts per client address (SES-04).
    sign_in_throttle: signin::throttle::SignInThrottle,
}

/// Builds an [`Identity`]: the stores come from configuration
/// (`TokenCache:Store`, `Session:Store`) unless one is given.
pub struct IdentityBuilder {
    config: IdentityConfig,
    token_cache: Option<Arc<dyn TokenCacheStore>>,
    sessions: Option<SessionBackend>,
    managed_identity: Option<credentials::ManagedIdentitySource>,
}

impl IdentityBuilder {
    /// Uses `store` for tokens instead of the one configuration names.
    pub fn token_cache(mut self, store: Arc<dyn TokenCacheStore>) -> Self {
        self.token_cache = Some(store);
        self
    }

    /// Uses `store` for sessions instead of the one configuration names.
    pub fn session_store(mut self, store: SessionBackend) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Takes managed identity tokens from `source` instead of the endpoint
    /// the environment names (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, else IMDS).
    pub fn managed_identity(mut self, source: credentials::ManagedIdentitySource) -> Self {
        self.managed_identity = Some(source);
        self
    }

    /// Builds the engine. The client credential is loaded now (the first
    /// configured one that loads: a Key Vault certificate, a managed identity
    /// token, a file...), so a credential that cannot work stops start-up.
    /// Nothing else is fetched yet: the provider is discovered on first use,
    /// and a shared store that is down is retried on use, so the app starts
    /// while either is down (`/readyz` says so).
    pub async fn build(self) -> Result<Arc<Identity>, IdentityError> {
        let config = Arc::new(self.config);
        // No redirects: token and discovery calls must not be bounced to another host (SSRF).
        let mut http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(HTTP_TIMEOUT);
        for certificate in trusted_authorities(&config.http)? {
            http = http.add_root_certificate(certificate);
        }
        let http = http.build().map_err(IdentityError::HttpClient)?;
        let loader = credentials::Loader {
            http: http.clone(),
            managed_identity: match self.managed_identity {
                Some(source) => Ok(source),
                None => credentials::ManagedIdentitySource::from_env(),
            },
            send_x5c: config.azure_ad.send_x5c,
        };
        let credentials = Arc::new(credentials::Credentials::load(config.azure_ad.credentials.clone(), loader).await?);
        let provider = Arc::new(ProviderCache::new(config.clone(), http.clone(), credentials.current().client_secret()));
        let store = match self.token_cache {
            Some(store) => store,
            None => idweb_stores::open_token_cache(&config.token_cache.store_settings()).await?,
        };
        let sessions = match self.sessions {
            Some(sessions) => sessions,
            None => idweb_stores::open_session_store(&config.session.store_settings()).await?,
        };
        let tokens = Arc::new(TokenAcquisition::new(provider.clone(), store, http.clone(), credentials, &config));
        let caller = Arc::new(ApiCaller::new(http.clone(), tokens.clone()));
        let graph = GraphClient::new(&config.graph, caller.clone(), config.azure_ad.profile == config::ProviderProfile::Microsoft);
        let downstream = DownstreamApis::new(config.downstream_apis.clone(), caller);
        let offered_scopes = offered_scopes(&config, tokens.scopes());
        let pending_sign_ins =
            signin::pending::PendingSignIns::new(config.token_cache.encryption_keys.clone(), &config.session.cookie_name, config.session.secure_cookie)?;
        let sign_in_throttle = signin::throttle::SignInThrottle::new(config.hosting.sign_in_starts_per_minute, config.hosting.trusted_proxies.clone());
        Ok(Arc::new(Identity { config, provider, tokens, sessions, graph, downstream, offered_scopes, pending_sign_ins, sign_in_throttle }))
    }
}

impl Identity {
    /// A builder over `config`.
    pub fn builder(config: IdentityConfig) -> IdentityBuilder {
        IdentityBuilder { config, token_cache: None, sessions: None, managed_identity: None }
    }

    /// Sign-in, callback and sign-out routes.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        signin::router(self.clone())
    }

    /// The session layer over the configured store, its cookie configured
    /// from the `Session` section (SES-01); a session the store cannot save
    /// answers "try again", never a bare 500 (`session::save_guard`).
    pub fn session_layer(
        &self,
    ) -> tower::util::BoxCloneSyncServiceLayer<axum::routing::Route, axum::extract::Request, axum::response::Response, std::convert::Infallible> {
        session::guarded(self.session_manager(), &self.config.session.cookie_name)
    }

    fn session_manager(&self) -> SessionManagerLayer<SessionBackend> {
        let session = &self.config.session;
        SessionManagerLayer::new(self.sessions.clone())
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

    /// The signed-in user of this session, if any (SES-02, both enforced here,
    /// on the server):
    /// - a session idle longer than `Session:IdleTimeoutMinutes` is ended;
    ///   every authenticated request counts as activity and slides the idle
    ///   timeout (the session is written, and its cookie renewed, at most once
    ///   per [`ACTIVITY_GRANULARITY`], not on every request);
    /// - a session older than `Session:AbsoluteTimeoutMinutes` since sign-in
    ///   is ended however active it was.
    pub async fn user(&self, session: &Session) -> Result<Option<SignedInUser>, IdentityError> {
        let Some(user) = session.get::<SignedInUser>(signin::USER_KEY).await? else {
            return Ok(None);
        };
        if user.signed_in_for() > self.config.session.absolute_timeout {
            session.flush().await?;
            tracing::info!("session ended: absolute lifetime reached");
            return Ok(None);
        }
        let now = unix_seconds();
        let active_at = session.get::<u64>(ACTIVITY_KEY).await?.unwrap_or(user.signed_in_at);
        let idle = now.saturating_sub(active_at);
        if idle > u64::from(self.config.session.idle_timeout_minutes) * 60 {
            session.flush().await?;
            tracing::info!("session ended: idle timeout reached");
            return Ok(None);
        }
        if idle >= ACTIVITY_GRANULARITY.as_secs() {
            // Modifying the session makes the session layer save it with a new
            // expiry and send the cookie again with a fresh Max-Age.
            session.insert(ACTIVITY_KEY, now).await?;
        }
        Ok(Some(user))
    }

    /// Sets the gauges a scrape reads: sessions held by the memory store
    /// (a shared store's sessions are counted by its engine) and the token
    /// endpoint breaker's state.
    pub async fn record_gauges(&self) {
        self.tokens.record_gauges();
        if let Some(held) = self.sessions_held() {
            metrics::gauge!(telemetry::ACTIVE_SESSIONS).set(held as f64);
        }
    }

    /// Sessions the memory session store holds now (`None` for a shared
    /// store, whose sessions its own server counts).
    pub fn sessions_held(&self) -> Option<u64> {
        self.sessions.sessions_held()
    }

    /// Whether the stores this engine needs answer (`/readyz`): the token
    /// cache and the session store, with the reason when one does not.
    pub async fn check_ready(&self) -> Result<(), IdentityError> {
        self.tokens.store().check_ready().await?;
        self.sessions.check_ready().await?;
        Ok(())
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

    /// The token cache store (diagnostics, readiness, tests).
    pub fn cache(&self) -> &Arc<dyn TokenCacheStore> {
        self.tokens.store()
    }

    /// Where to send the user so the provider grants `scopes` and answers
    /// `claims` (a challenge this server received), returning to `return_to`:
    /// the claims are kept in `session` and the link names them by id (AUTHZ-05).
    pub async fn sign_in_request(
        &self,
        session: &Session,
        return_to: &str,
        scopes: &[String],
        claims: Option<&str>,
    ) -> Result<signin::SignInRequest, IdentityError> {
        let challenge = match claims {
            Some(claims) => Some(signin::challenges::remember(session, claims).await?),
            None => None,
        };
        Ok(signin::SignInRequest { return_to: signin::safe_return_path(Some(return_to)), scopes: scopes.to_vec(), challenge, interactive: false })
    }

    /// The scopes a sign-in link may ask for (normalised): those of Graph
    /// (configured, and what the Graph client's features need) and of every
    /// API in `DownstreamApis` (AUTHZ-05).
    pub(crate) fn offered_scopes(&self) -> &BTreeSet<String> {
        &self.offered_scopes
    }

    pub(crate) fn provider(&self) -> &ProviderCache {
        &self.provider
    }

    pub(crate) fn pending_sign_ins(&self) -> &signin::pending::PendingSignIns {
        &self.pending_sign_ins
    }

    pub(crate) fn sign_in_throttle(&self) -> &signin::throttle::SignInThrottle {
        &self.sign_in_throttle
    }
}

/// The certificate authorities `Http:TrustedCaFiles` adds to the public ones.
fn trusted_authorities(http: &config::HttpConfig) -> Result<Vec<reqwest::Certificate>, IdentityError> {
    let mut trusted = Vec::new();
    for (index, file) in http.trusted_ca_files.iter().enumerate() {
        let named = |reason: String| IdentityError::Misconfigured(format!("Http:TrustedCaFiles:{index}: {}: {reason}", file.display()));
        let pem = std::fs::read(file).map_err(|error| named(error.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| named(error.to_string()))?;
        if certificates.is_empty() {
            return Err(named("no PEM certificate in it".into()));
        }
        trusted.extend(certificates);
    }
    Ok(trusted)
}

fn offered_scopes(config: &IdentityConfig, scopes: &scopes::ScopeNormaliser) -> BTreeSet<String> {
    let microsoft = config.azure_ad.profile == config::ProviderProfile::Microsoft;
    let graph = config.graph.scopes.iter().map(String::as_str).chain(graph::MAIL_SCOPES).filter(|_| microsoft);
    let apis = config.downstream_apis.values().flat_map(|api| api.scopes.iter().map(String::as_str));
    scopes.normalise(graph.chain(apis))
}
