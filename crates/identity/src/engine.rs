//! The engine without its web layer: configuration, the provider, the
//! client credential, token acquisition, Microsoft Graph, the downstream
//! APIs and the stores. [`crate::Identity`] (the web layer) wraps one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use idweb_stores::{SessionBackend, TokenCacheStore};

use crate::acquisition::TokenAcquisition;
use crate::config::{HttpConfig, IdentityConfig};
use crate::credentials::{Credentials, Loader, ManagedIdentitySource};
use crate::downstream::{ApiCaller, DownstreamApis};
use crate::error::IdentityError;
use crate::graph::GraphClient;
use crate::protocol::provider::ProviderCache;
use crate::telemetry;

/// Time limit for every call to the provider or a downstream API.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// What an [`Engine`] is built from besides its configuration: stores and
/// a managed identity source given in code instead of named by configuration.
#[derive(Default)]
pub(crate) struct EngineParts {
    pub(crate) token_cache: Option<Arc<dyn TokenCacheStore>>,
    pub(crate) sessions: Option<SessionBackend>,
    pub(crate) managed_identity: Option<ManagedIdentitySource>,
}

/// The identity engine, built once and shared by every request; reached
/// through [`crate::Identity`], which dereferences to it.
pub struct Engine {
    config: Arc<IdentityConfig>,
    provider: Arc<ProviderCache>,
    tokens: Arc<TokenAcquisition>,
    sessions: SessionBackend,
    graph: GraphClient,
    downstream: DownstreamApis,
    offered_scopes: BTreeSet<String>,
}

impl Engine {
    /// Builds the engine. The client credential is loaded now (the first
    /// configured one that loads: a Key Vault certificate, a managed identity
    /// token, a file...), so a credential that cannot work stops start-up.
    /// Nothing else is fetched yet: the provider is discovered on first use,
    /// and a shared store that is down is retried on use, so the app starts
    /// while either is down (`/readyz` says so).
    pub(crate) async fn build(config: IdentityConfig, parts: EngineParts) -> Result<Self, IdentityError> {
        let config = Arc::new(config);
        // No redirects: token and discovery calls must not be bounced to another host (SSRF).
        let mut http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(HTTP_TIMEOUT);
        for certificate in trusted_authorities(&config.http)? {
            http = http.add_root_certificate(certificate);
        }
        let http = http.build().map_err(IdentityError::HttpClient)?;
        let loader = Loader {
            http: http.clone(),
            managed_identity: match parts.managed_identity {
                Some(source) => Ok(source),
                None => ManagedIdentitySource::from_env(),
            },
            send_x5c: config.azure_ad.send_x5c,
        };
        let credentials = Arc::new(Credentials::load(config.azure_ad.credentials.clone(), loader).await?);
        let provider = Arc::new(ProviderCache::new(config.clone(), http.clone(), credentials.current().client_secret()));
        let store = match parts.token_cache {
            Some(store) => store,
            None => idweb_stores::open_token_cache(&config.token_cache.store).await?,
        };
        let sessions = match parts.sessions {
            Some(sessions) => sessions,
            None => idweb_stores::open_session_store(&config.session.store).await?,
        };
        let tokens = Arc::new(TokenAcquisition::new(provider.clone(), store, http.clone(), credentials, &config));
        let caller = Arc::new(ApiCaller::new(http.clone(), tokens.clone()));
        let graph = GraphClient::new(&config.graph, caller.clone(), config.azure_ad.profile.offers_graph());
        let downstream = DownstreamApis::new(config.downstream_apis.clone(), caller);
        let offered_scopes = offered_scopes(&config, tokens.scopes());
        Ok(Self { config, provider, tokens, sessions, graph, downstream, offered_scopes })
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

    /// The session store.
    pub(crate) fn sessions(&self) -> &SessionBackend {
        &self.sessions
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
}

/// The certificate authorities `Http:TrustedCaFiles` adds to the public ones.
fn trusted_authorities(http: &HttpConfig) -> Result<Vec<reqwest::Certificate>, IdentityError> {
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

/// The scopes a sign-in link may offer, normalised by `scopes`: Graph's
/// (configured, and what the Graph client's features need; Microsoft
/// profile only) and every downstream API's (AUTHZ-05).
fn offered_scopes(config: &IdentityConfig, scopes: &crate::scopes::ScopeNormaliser) -> BTreeSet<String> {
    let graph = config.graph.scopes.iter().map(String::as_str).chain(crate::graph::MAIL_SCOPES).filter(|_| config.azure_ad.profile.offers_graph());
    let apis = config.downstream_apis.values().flat_map(|api| api.scopes.iter().map(String::as_str));
    scopes.normalise(graph.chain(apis))
}
