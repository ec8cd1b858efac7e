//! `idweb-emulator`: a local stand-in for the Microsoft identity platform
//! v2.0 endpoints and Microsoft Graph, so idweb runs and tests with no
//! tenant and no internet.
//!
//! Embed it in a test with [`spawn`] on port 0 ([`testing`] shows how an
//! app of your own tests against it: register the app, read its settings,
//! sign a user in, arm a fault, count token requests), or run the
//! `idweb-emulator` binary. Endpoints, configuration and the differences
//! from Microsoft Entra ID are listed in the crate's README.
#![deny(missing_docs)]

pub mod admin;
pub mod certificates;
pub mod config;
pub mod consent;
pub mod endpoints;
pub mod error;
pub mod faults;
pub mod graph;
pub mod guard;
pub mod html;
pub mod key_vault;
pub mod keys;
pub mod managed_identity;
pub mod sample_api;
pub mod scopes;
pub mod sso;
pub mod store;
pub mod testing;
pub mod tls;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{AppRegistration, ClientSecret, EmulatorConfig, TestUser};
pub use error::EmulatorError;

/// Microsoft Graph's application id: the `aud` of Graph access tokens.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Everything the endpoints share.
pub struct EmulatorState {
    /// Tenant, apps, users, lifetimes.
    pub config: EmulatorConfig,
    /// `http://host:port/`, with the trailing slash.
    pub base_url: String,
    /// `{base}{tenant GUID}/v2.0`: the issuer of every token, as Microsoft's v2.0 endpoint.
    pub issuer: String,
    /// The published signing keys.
    pub keys: keys::KeySet,
    /// Codes and refresh tokens issued.
    pub grants: store::GrantStore,
    /// Deliberate failures armed for the next requests.
    pub faults: faults::Faults,
    /// Consent users gave apps.
    pub consent: consent::ConsentStore,
    /// Browsers signed in at the emulator.
    pub sso: sso::SsoSessions,
    /// The sample API's to-do items.
    pub todos: sample_api::TodoStore,
    /// Certificates registered per client id, for `private_key_jwt`.
    pub certificates: certificates::CertificateRegistry,
    /// The Key Vault's certificates and secrets.
    pub vault: key_vault::Vault,
    /// What the App Service managed identity endpoint expects in `X-IDENTITY-HEADER`.
    pub identity_header: config::ClientSecret,
    /// Client assertion `jti`s already used.
    pub seen_assertions: endpoints::token::assertion::SeenAssertions,
    /// POSTs to the token endpoint so far (tests assert on it).
    pub token_requests: AtomicU64,
    /// GETs of the JWKS so far (tests of key refetching assert on it).
    pub jwks_requests: AtomicU64,
    /// GETs of a discovery document so far.
    pub discovery_requests: AtomicU64,
}

impl EmulatorState {
    /// State for an emulator reachable at `base_url` (trailing slash added if missing).
    pub fn new(config: EmulatorConfig, base_url: &str) -> Result<Self, EmulatorError> {
        config.validate()?;
        let base_url = if base_url.ends_with('/') { base_url.to_owned() } else { format!("{base_url}/") };
        let registered = certificates::CertificateRegistry::default();
        for app in &config.apps {
            for source in &app.certificates {
                registered.register(&app.client_id, certificates::RegisteredCertificate::load(source)?);
            }
        }
        let identity_header = config.identity_header.clone().unwrap_or_else(|| config::ClientSecret::new(format!("{:032x}", rand::random::<u128>())));
        Ok(Self {
            vault: key_vault::Vault::new(&config.key_vault),
            identity_header,
            certificates: registered,
            seen_assertions: Default::default(),
            issuer: format!("{base_url}{}/v2.0", config.tenant_id),
            config,
            base_url,
            keys: keys::KeySet::generate()?,
            grants: store::GrantStore::default(),
            faults: faults::Faults::default(),
            consent: consent::ConsentStore::default(),
            sso: sso::SsoSessions::default(),
            todos: sample_api::TodoStore::default(),
            token_requests: AtomicU64::new(0),
            jwks_requests: AtomicU64::new(0),
            discovery_requests: AtomicU64::new(0),
        })
    }

    /// A token minter bound to this emulator's key and issuer.
    pub fn minter(&self) -> tokens::Minter<'_> {
        tokens::Minter { keys: &self.keys, issuer: &self.issuer, tenant_id: &self.config.tenant_id }
    }

    /// The workload identity issuer the emulator plays (like a Kubernetes
    /// cluster's service account issuer), for federated credentials.
    pub fn workload_issuer(&self) -> String {
        format!("{}workload-identity", self.base_url)
    }

    /// The issuer a discovery document under `scope` declares: the tenant's
    /// own, or Microsoft's `{tenantid}` template for the multi-tenant aliases.
    pub fn discovery_issuer(&self, scope: config::TenantScope) -> String {
        use config::TenantScope;
        match scope {
            TenantScope::Home => self.issuer.clone(),
            TenantScope::Common | TenantScope::Organizations => format!("{}{{tenantid}}/v2.0", self.base_url),
            TenantScope::Consumers => format!("{}{}/v2.0", self.base_url, config::CONSUMERS_TENANT_ID),
        }
    }
}

/// All endpoints.
pub fn router(state: Arc<EmulatorState>) -> Router {
    use endpoints::{authorize, discovery, logout, token};
    Router::new()
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::show_sign_in).post(authorize::complete_sign_in))
        .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(token::token))
        .route("/{tenant}/oauth2/v2.0/logout", get(logout::logout))
        .route(managed_identity::APP_SERVICE_PATH, get(managed_identity::app_service_token))
        .route(managed_identity::IMDS_PATH, get(managed_identity::imds_token))
        .merge(key_vault::router())
        .merge(graph::router())
        .merge(sample_api::router())
        .nest(admin::PREFIX, admin::router())
        .with_state(state)
}

/// An emulator serving in the background.
pub struct RunningEmulator {
    state: Arc<EmulatorState>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Binds `addr` (port 0 picks a free port) and serves until shut down or dropped.
pub async fn spawn(config: EmulatorConfig, addr: SocketAddr) -> Result<RunningEmulator, EmulatorError> {
    let (listener, addr) = bind(addr).await?;
    serve(listener, config, &format!("http://{addr}/")).await
}

/// A listener on `addr`, and the address it got.
async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), EmulatorError> {
    let failed = |error: std::io::Error| EmulatorError::Bind { address: addr.to_string(), reason: error.to_string() };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    Ok((listener, bound))
}

/// Binds `addr` (port 0 picks a free port) and serves HTTPS with a server
/// certificate `ca` signs, until shut down or dropped.
pub async fn spawn_tls(config: EmulatorConfig, addr: SocketAddr, ca: &tls::LocalCa) -> Result<RunningEmulator, EmulatorError> {
    let (listener, addr) = bind(addr).await?;
    let tls_config = ca.server_config()?;
    serve_with(listener, config, &format!("https://{addr}/"), Some(tls_config)).await
}

/// Serves on an already bound listener; `public_url` is how clients reach it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
    public_url: &str,
) -> Result<RunningEmulator, EmulatorError> {
    serve_with(listener, config, public_url, None).await
}

/// Serves on an already bound listener, over TLS when `tls_config` is given.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
    public_url: &str,
    tls_config: Option<rustls::ServerConfig>,
) -> Result<RunningEmulator, EmulatorError> {
    let addr = listener
        .local_addr()
        .map_err(|error| EmulatorError::Bind { address: public_url.to_owned(), reason: error.to_string() })?;
    // Key generation is CPU-bound: keep it off the async workers.
    let public_url = public_url.to_owned();
    let state = tokio::task::spawn_blocking(move || EmulatorState::new(config, &public_url))
        .await
        .map_err(|error| EmulatorError::Key(error.to_string()))??;
    let state = Arc::new(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state.clone());
    let task = match tls_config {
        Some(tls_config) => tokio::spawn(tls::serve(listener, app, tls_config, stopped)),
        None => tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            // The peer address lets the admin API refuse anything but loopback.
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service).with_graceful_shutdown(shutdown).await {
                tracing::error!(%error, "emulator stopped");
            }
        }),
    };
    Ok(RunningEmulator { state, addr, stop: Some(stop), task })
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT/` (`https://` over TLS): what an app sets as `AzureAd:Instance`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The tenant GUID.
    pub fn tenant_id(&self) -> &str {
        &self.state.config.tenant_id
    }

    /// `{base}{tenant}/v2.0`: the authority and issuer.
    pub fn authority(&self) -> String {
        self.state.issuer.clone()
    }

    /// `{base}v1.0`: what an app sets as `Graph:BaseUrl`.
    pub fn graph_base_url(&self) -> String {
        format!("{}v1.0", self.state.base_url)
    }

    /// What an app on this "host" finds in `IDENTITY_ENDPOINT` (App Service shape).
    pub fn identity_endpoint(&self) -> String {
        format!("{}{}", self.state.base_url, managed_identity::APP_SERVICE_PATH.trim_start_matches('/'))
    }

    /// What an app on this "host" finds in `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> &str {
        self.state.identity_header.expose()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many discovery documents were asked for (answered or refused).
    pub fn discovery_requests(&self) -> u64 {
        self.state.discovery_requests.load(Ordering::Relaxed)
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(Ordering::Relaxed)
    }

    /// How many requests reached the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::Relaxed)
    }

    /// Fault injection, for tests that drive the emulator in-process.
    pub fn faults(&self) -> &faults::Faults {
        &self.state.faults
    }

    /// The shared state (for tests that need to look inside).
    pub fn state(&self) -> &Arc<EmulatorState> {
        &self.state
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the process is interrupted (for the binary).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

// Every critical section in the emulator is one map or queue operation, so
// a lock poisoned by a panicking request still guards consistent data.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
