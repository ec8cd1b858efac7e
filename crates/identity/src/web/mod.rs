//! The web layer: the engine as an Axum app sees it. [`Identity`] (the
//! engine with its sign-in state), the sign-in, callback and sign-out
//! routes, the session layer and the policy that ends sessions, the
//! extractors of the signed-in user, the same-origin check on writes, and
//! the one place an engine error becomes an HTTP answer. Nothing outside
//! this folder knows about HTTP servers: the engine below it could serve
//! another framework.

pub mod csrf;
pub mod extract;
mod failure;
pub(crate) mod logout;
mod save_guard;
pub(crate) mod session;
pub(crate) mod signin;

use std::sync::Arc;

use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::IdentityConfig;
use crate::credentials::ManagedIdentitySource;
use crate::engine::{Engine, EngineParts};
use crate::error::IdentityError;
use idweb_stores::{SessionBackend, TokenCacheStore};

/// The identity engine of a web app, built once at start-up and shared by
/// every request: the [`Engine`] (every method of which it answers too)
/// and what sign-ins keep between their start and their callback.
pub struct Identity {
    engine: Engine,
    /// Sign-ins in flight, sealed in their browsers' cookies (SES-04).
    pending_sign_ins: signin::pending::PendingSignIns,
    /// Sign-in starts per client address (SES-04).
    sign_in_throttle: signin::throttle::SignInThrottle,
}

/// Every engine method is an `Identity` method: a handler holding the
/// `Arc<Identity>` asks it for tokens, Graph or an API directly.
impl std::ops::Deref for Identity {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// Builds an [`Identity`]: the stores come from configuration
/// (`TokenCache:Store`, `Session:Store`) unless one is given.
pub struct IdentityBuilder {
    config: IdentityConfig,
    parts: EngineParts,
}

impl IdentityBuilder {
    /// Uses `store` for tokens instead of the one configuration names.
    pub fn token_cache(mut self, store: Arc<dyn TokenCacheStore>) -> Self {
        self.parts.token_cache = Some(store);
        self
    }

    /// Uses `store` for sessions instead of the one configuration names.
    pub fn session_store(mut self, store: SessionBackend) -> Self {
        self.parts.sessions = Some(store);
        self
    }

    /// Takes managed identity tokens from `source` instead of the endpoint
    /// the environment names (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, else IMDS).
    pub fn managed_identity(mut self, source: ManagedIdentitySource) -> Self {
        self.parts.managed_identity = Some(source);
        self
    }

    /// Builds the engine (see [`Engine`]: the client credential is loaded
    /// now, so one that cannot work stops start-up) and its sign-in state.
    pub async fn build(self) -> Result<Arc<Identity>, IdentityError> {
        let session = &self.config.session;
        let pending_sign_ins =
            signin::pending::PendingSignIns::new(self.config.token_cache.store.encryption_keys.clone(), &session.cookie_name, session.secure_cookie)?;
        let sign_in_throttle =
            signin::throttle::SignInThrottle::new(self.config.hosting.sign_in_starts_per_minute, self.config.hosting.trusted_proxies.clone());
        let engine = Engine::build(self.config, self.parts).await?;
        Ok(Arc::new(Identity { engine, pending_sign_ins, sign_in_throttle }))
    }
}

impl Identity {
    /// A builder over `config`.
    pub fn builder(config: IdentityConfig) -> IdentityBuilder {
        IdentityBuilder { config, parts: EngineParts::default() }
    }

    /// Sign-in, callback and sign-out routes.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        signin::router(self.clone())
    }

    /// The session layer over the configured store, its cookie configured
    /// from the `Session` section (SES-01); a session the store cannot save
    /// answers "try again", never a bare 500 (`save_guard`).
    pub fn session_layer(
        &self,
    ) -> tower::util::BoxCloneSyncServiceLayer<axum::routing::Route, axum::extract::Request, axum::response::Response, std::convert::Infallible> {
        save_guard::guarded(self.session_manager(), &self.config().session.cookie_name)
    }

    fn session_manager(&self) -> SessionManagerLayer<SessionBackend> {
        let session = &self.config().session;
        SessionManagerLayer::new(self.sessions().clone())
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

    pub(crate) fn pending_sign_ins(&self) -> &signin::pending::PendingSignIns {
        &self.pending_sign_ins
    }

    pub(crate) fn sign_in_throttle(&self) -> &signin::throttle::SignInThrottle {
        &self.sign_in_throttle
    }
}
