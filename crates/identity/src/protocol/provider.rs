//! The identity provider as discovered from its metadata document.
//!
//! Discovery is lazy and retried: the app starts (and serves signed-out
//! pages) while the provider is down, and recovers when it comes back (FLT-01).

use crate::telemetry::error_chain;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse,
};
use openidconnect::{
    ClaimsVerificationError, Client, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, EndSessionUrl, IssuerUrl, JsonWebKeySet,
    AdditionalProviderMetadata, LogoutProviderMetadata, NonceVerifier, ProviderMetadata, RedirectUrl, SignatureVerificationError,
};
use tokio::sync::{Mutex, RwLock};
use url::Url;

use crate::protocol::claims::{check_authorized_party, MicrosoftClaims, MicrosoftIdToken, MicrosoftIdTokenClaims};
use crate::protocol::token_response::{MicrosoftErrorResponse, MicrosoftTokenResponse};
use crate::config::{IdentityConfig, ProviderProfile};
use crate::protocol::profile::is_guid;
use crate::protocol::signing_key::ProviderKey;
use crate::error::IdentityError;

/// The openidconnect client type idweb uses: authorization and token
/// endpoints from discovery, Microsoft's extra ID token claims.
pub type OidcClient = Client<
    MicrosoftClaims,
    CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    ProviderKey,
    CoreAuthPrompt,
    MicrosoftErrorResponse,
    MicrosoftTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery yields: a ready client and the end-session endpoint.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Client bound to the discovered endpoints, our client id, secret and redirect URI.
    pub client: OidcClient,
    /// The issuer the metadata declared (and ID tokens must carry).
    pub issuer: IssuerUrl,
    /// `end_session_endpoint`, if the provider has one.
    pub end_session_endpoint: Option<EndSessionUrl>,
    /// `TenantId` is `common` or `organizations`.
    pub multi_tenant: bool,
    /// Tenants allowed to sign in (empty: any).
    pub allowed_tenants: Vec<String>,
    /// How far `iat`, `nbf` and `exp` may be off our clock.
    clock_skew: chrono::Duration,
    /// The algorithms ID tokens may be signed with (pinned by configuration, never discovery's list).
    signing_algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// Single tenant: the tenant id the issuer names, which every ID token's `tid` must equal.
    home_tenant_id: Option<String>,
    /// Which kind of provider: what differs is asked of it.
    pub profile: ProviderProfile,
    /// RFC 9207: discovery says `authorization_response_iss_parameter_supported`,
    /// so every authorization response (error responses too) must carry `iss` (CB-03).
    pub iss_parameter_required: bool,
    /// Discovery says `backchannel_logout_supported`: logouts arrive as signed
    /// logout tokens, and front-channel requests (which any page can make a
    /// browser send) are not acted on.
    pub back_channel_logout: bool,
    /// The discovery document, kept to rebuild the client with new keys.
    metadata: DiscoveredMetadata,
}

/// Discovers the provider once and keeps the result. A failure is not
/// kept, but for [`FAILURE_BACKOFF`] callers are answered at once instead of
/// each waiting for the unreachable provider in turn (FLT-01).
pub struct ProviderCache {
    config: Arc<IdentityConfig>,
    http: reqwest::Client,
    /// The client secret, when that is the app's credential: openidconnect
    /// sends it; any other credential adds an assertion to each request.
    client_secret: Option<ClientSecret>,
    discovered: RwLock<Option<Arc<Provider>>>,
    // Held while talking to the provider, so readers of `discovered` never wait on the network.
    fetching: Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    last_failure: Option<Instant>,
    /// The last attempt to fetch the keys again, whether it worked or not:
    /// the rate limit counts attempts, so a failing key endpoint is not hammered.
    last_key_refetch: Option<Instant>,
}

/// After a failed discovery, how long callers get the failure without a new attempt.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(5);

/// JWKS-01: an unknown `kid` fetches the keys again at most this often, so
/// forged tokens cannot make idweb hammer the provider.
pub const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(5 * 60);

impl ProviderCache {
    /// A cache that will discover `config`'s authority on first use, for a
    /// client authenticating with `client_secret` if it has one.
    pub fn new(config: Arc<IdentityConfig>, http: reqwest::Client, client_secret: Option<ClientSecret>) -> Self {
        Self { config, http, client_secret, discovered: RwLock::new(None), fetching: Mutex::new(FetchState::default()) }
    }

    /// The discovered provider, fetching the metadata and keys if not yet known.
    pub async fn get(&self) -> Result<Arc<Provider>, IdentityError> {
        if let Some(provider) = self.discovered.read().await.as_ref() {
            return Ok(provider.clone());
        }
        let mut fetching = self.fetching.lock().await;
        // Another caller may have discovered it while we waited.
        if let Some(provider) = self.discovered.read().await.as_ref() {
            return Ok(provider.clone());
        }
        if fetching.last_failure.is_some_and(|failed| failed.elapsed() < FAILURE_BACKOFF) {
            return Err(IdentityError::ProviderUnavailable("the identity provider was unreachable moments ago; not asking again yet".into()));
        }
        match self.discover().await {
            Ok(provider) => {
                let provider = Arc::new(provider);
                *self.discovered.write().await = Some(provider.clone());
                fetching.last_failure = None;
                Ok(provider)
            }
            Err(error) => {
                fetching.last_failure = Some(Instant::now());
                Err(error)
            }
        }
    }

    async fn discover(&self) -> Result<Provider, IdentityError> {
        let azure_ad = &self.config.azure_ad;
        let unavailable = |what: String| IdentityError::ProviderUnavailable(what);
        let document = format!("{}/.well-known/openid-configuration", azure_ad.authority());
        // Fetched by hand because openidconnect's discovery insists that the
        // issuer equal the URL asked, which Microsoft's documents for a domain
        // or for common/organizations do not (openidconnect issue 216). The
        // issuer is checked here instead, and the JWKS fetched by the library.
        let metadata: DiscoveredMetadata = tokio::time::timeout(DISCOVERY_TIMEOUT, async {
            let response = self.http.get(&document).send().await.map_err(|error| unavailable(format!("discovery failed: {}", error_chain(&error))))?;
            if !response.status().is_success() {
                return Err(unavailable(format!("discovery answered {}", response.status())));
            }
            let body = crate::answer::read_capped(response, crate::answer::MAX_ANSWER_BYTES)
                .await
                .map_err(|error| unavailable(format!("discovery failed: {}", error_chain(&error))))?;
            serde_json::from_slice(&body).map_err(|error| unavailable(format!("the discovery document does not parse: {error}")))
        })
        .await
        .map_err(|_| unavailable("discovery timed out".into()))??;
        let multi_tenant = azure_ad.is_multi_tenant();
        azure_ad.profile.check_issuer(metadata.issuer(), azure_ad)?;
        // The document must not send the client secret, the code or the keys' fetch anywhere else.
        check_endpoint_origins(&metadata, &azure_ad.endpoint_origins)?;
        let jwks = tokio::time::timeout(DISCOVERY_TIMEOUT, JsonWebKeySet::fetch_async(metadata.jwks_uri(), &crate::answer::CappedClient(&self.http)))
            .await
            .map_err(|_| unavailable("fetching the signing keys timed out".into()))?
            .map_err(|error| unavailable(format!("fetching the signing keys failed: {}", error_chain(&error))))?;
        tracing::info!(authority = %azure_ad.authority(), multi_tenant, "identity provider discovered");
        self.build(metadata.set_jwks(one_key_per_kid(jwks)))
    }

    fn build(&self, metadata: DiscoveredMetadata) -> Result<Provider, IdentityError> {
        let azure_ad = &self.config.azure_ad;
        let client = OidcClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(azure_ad.client_id.clone()),
            // Only a secret is set on the client; assertions are added to each request.
            self.client_secret.clone(),
        )
        .set_redirect_uri(redirect_url(&self.config.hosting.public_url, &azure_ad.callback_path)?);
        let signing_algorithms = azure_ad
            .id_token_signing_algorithms
            .iter()
            .map(|alg| serde_json::from_value(serde_json::Value::String(alg.clone())))
            .collect::<Result<Vec<CoreJwsSigningAlgorithm>, _>>()
            .map_err(|error| IdentityError::Misconfigured(format!("AzureAd:IdTokenSigningAlgorithms: {error}")))?;
        let multi_tenant = azure_ad.is_multi_tenant();
        Ok(Provider {
            clock_skew: chrono::Duration::from_std(azure_ad.clock_skew).unwrap_or_else(|_| chrono::Duration::minutes(5)),
            signing_algorithms,
            home_tenant_id: azure_ad.profile.home_tenant(multi_tenant, metadata.issuer()),
            profile: azure_ad.profile,
            client,
            issuer: metadata.issuer().clone(),
            end_session_endpoint: metadata.additional_metadata().end_session_endpoint.clone(),
            iss_parameter_required: metadata.additional_metadata().additional_metadata.authorization_response_iss_parameter_supported == Some(true),
            back_channel_logout: metadata.additional_metadata().additional_metadata.backchannel_logout_supported == Some(true),
            multi_tenant,
            allowed_tenants: azure_ad.allowed_tenants.clone(),
            metadata,
        })
    }

    /// Verifies an ID token that came with `access_token` in a token
    /// response: every check of [`Provider::verify_id_token`], then its
    /// `at_hash` (IDT-13), with `provider`'s keys or, when the token names a
    /// key they do not hold, with the keys fetched again (JWKS-01).
    pub async fn verify_token_response<'t, N: NonceVerifier + Copy>(
        &self,
        provider: &Arc<Provider>,
        id_token: &'t MicrosoftIdToken,
        nonce: N,
        access_token: &openidconnect::AccessToken,
    ) -> Result<&'t MicrosoftIdTokenClaims, IdentityError> {
        let (verified_by, claims) = match provider.verify_id_token(id_token, nonce) {
            Err(IdentityError::UnknownSigningKey) => {
                let refreshed = self.refetch_keys(provider).await;
                let claims = refreshed.verify_id_token(id_token, nonce)?;
                (refreshed, claims)
            }
            verified => (provider.clone(), verified?),
        };
        verified_by.check_access_token_hash(id_token, claims, access_token)?;
        Ok(claims)
    }

    /// JWKS-01: fetches the signing keys again after a token named a `kid`
    /// that `stale` does not know (the provider rotated its keys). At most
    /// once per [`KEY_REFETCH_INTERVAL`]; a failed fetch keeps the last good
    /// keys. Returns the provider to verify with.
    pub async fn refetch_keys(&self, stale: &Arc<Provider>) -> Arc<Provider> {
        let mut fetching = self.fetching.lock().await;
        let current = self.discovered.read().await.clone().unwrap_or_else(|| stale.clone());
        if !Arc::ptr_eq(&current, stale) {
            return current; // someone else refetched meanwhile
        }
        if fetching.last_key_refetch.is_some_and(|at| at.elapsed() < KEY_REFETCH_INTERVAL) {
            tracing::warn!(target: "idweb::security", "unknown signing key again soon after a refetch; not fetching the keys again");
            return current;
        }
        fetching.last_key_refetch = Some(Instant::now());
        let fetched = tokio::time::timeout(DISCOVERY_TIMEOUT, JsonWebKeySet::fetch_async(stale.metadata.jwks_uri(), &crate::answer::CappedClient(&self.http))).await;
        let rebuilt = match fetched {
            Ok(Ok(jwks)) => self.build(stale.metadata.clone().set_jwks(one_key_per_kid(jwks))),
            Ok(Err(error)) => Err(IdentityError::ProviderUnavailable(error_chain(&error))),
            Err(_) => Err(IdentityError::ProviderUnavailable("timed out".into())),
        };
        match rebuilt {
            Ok(provider) => {
                tracing::info!("signing keys fetched again after an unknown kid");
                let provider = Arc::new(provider);
                *self.discovered.write().await = Some(provider.clone());
                provider
            }
            Err(error) => {
                tracing::warn!(%error, "refetching the signing keys failed; keeping the last good set");
                current
            }
        }
    }
}

/// Every endpoint idweb calls or sends the browser to (authorize, token,
/// keys, end-session) is at one of `allowed` (the authority's origin, and a
/// generic provider's `EndpointOrigins`): a discovery document cannot have
/// the client's secret, an authorization code and its PKCE verifier sent to
/// another host.
fn check_endpoint_origins(metadata: &DiscoveredMetadata, allowed: &[url::Origin]) -> Result<(), IdentityError> {
    let endpoints = [
        ("authorization_endpoint", Some(metadata.authorization_endpoint().url())),
        ("token_endpoint", metadata.token_endpoint().map(|endpoint| endpoint.url())),
        ("jwks_uri", Some(metadata.jwks_uri().url())),
        ("end_session_endpoint", metadata.additional_metadata().end_session_endpoint.as_ref().map(|endpoint| endpoint.url())),
    ];
    for (name, url) in endpoints {
        let Some(url) = url else { continue };
        if !allowed.contains(&url.origin()) {
            return Err(IdentityError::ProviderMisconfigured(format!(
                "the discovery document places {name} at {}, which is not the authority's origin (nor one of AzureAd:EndpointOrigins)",
                url.origin().ascii_serialization()
            )));
        }
    }
    Ok(())
}

/// The key set with one key per `kid`: openidconnect refuses every token
/// whose `kid` names several keys, so a set that lists a key twice would
/// stop every sign-in. Copies are dropped; of keys that differ under one
/// `kid`, the first listed is kept (and the set logged as suspect).
fn one_key_per_kid(jwks: JsonWebKeySet<ProviderKey>) -> JsonWebKeySet<ProviderKey> {
    use openidconnect::JsonWebKey;
    let mut kept: Vec<ProviderKey> = Vec::new();
    let mut conflicting = false;
    for key in jwks.keys() {
        let same_kid = |other: &&ProviderKey| key.key_id().is_some() && other.key_id() == key.key_id();
        match kept.iter().find(same_kid) {
            None => kept.push(key.clone()),
            Some(first) => conflicting |= first != key,
        }
    }
    if conflicting {
        tracing::warn!(target: "idweb::security", "the provider's key set names different keys with one kid; the first of each is used");
    }
    JsonWebKeySet::new(kept)
}

impl Provider {
    /// Whether `issuer` is one this app accepts tokens from: the declared
    /// issuer, or for a multi-tenant app the `{tenantid}` template filled
    /// with a tenant GUID that the allow-list (if any) admits.
    pub fn accepts_issuer(&self, issuer: &str) -> bool {
        if !self.multi_tenant {
            return issuer == self.issuer.as_str();
        }
        let Some((before, after)) = self.issuer.as_str().split_once("{tenantid}") else { return false };
        let tenant = issuer.strip_prefix(before).and_then(|rest| rest.strip_suffix(after));
        tenant.is_some_and(|tenant| {
            is_guid(tenant) && (self.allowed_tenants.is_empty() || self.allowed_tenants.iter().any(|allowed| allowed.eq_ignore_ascii_case(tenant)))
        })
    }

    /// Verifies a JWS signature over `message` with the published key `kid`
    /// (or the only key, when the token names none), for `alg` if idweb
    /// accepts it (pinned, as for ID tokens: never `none`, never HMAC).
    pub fn verify_signature(&self, alg: &str, kid: Option<&str>, message: &[u8], signature: &[u8]) -> Result<(), IdentityError> {
        use openidconnect::JsonWebKey;
        let rejected = |reason: &str| IdentityError::IdTokenRejected(reason.to_owned());
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(serde_json::Value::String(alg.to_owned())).map_err(|_| rejected("the algorithm is not one idweb accepts"))?;
        if !self.signing_algorithms.contains(&alg) {
            return Err(rejected("the algorithm is not one idweb accepts"));
        }
        let keys = self.metadata.jwks().keys();
        let candidates: Vec<&ProviderKey> = match kid {
            Some(kid) => keys.iter().filter(|key| key.key_id().is_some_and(|id| id.as_str() == kid)).collect(),
            None if keys.len() == 1 => keys.iter().collect(),
            None => return Err(rejected("the token names no key and several are published")),
        };
        if candidates.is_empty() {
            return Err(IdentityError::UnknownSigningKey);
        }
        if candidates.iter().any(|key| key.verify_signature(&alg, message, signature).is_ok()) {
            Ok(())
        } else {
            Err(rejected("the signature does not verify"))
        }
    }

    /// The clock skew tolerated on token times.
    pub fn clock_skew(&self) -> chrono::Duration {
        self.clock_skew
    }

    /// Verifies an ID token the way idweb must: signature, audience, expiry
    /// and nonce by openidconnect; `azp` (IDT-10); the issuer, which for a
    /// multi-tenant app is the `{tenantid}` template filled with the token's
    /// own `tid` (IDT-12); and the tenant allow-list.
    pub fn verify_id_token<'a, N: NonceVerifier + Copy>(
        &self,
        id_token: &'a MicrosoftIdToken,
        nonce: N,
    ) -> Result<&'a MicrosoftIdTokenClaims, IdentityError> {
        let rejected = |reason: String| IdentityError::IdTokenRejected(reason);
        let verifier = self.id_token_verifier();
        let claims = id_token.claims(&verifier, nonce).map_err(|error| match error {
            ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => IdentityError::UnknownSigningKey,
            other => rejected(other.to_string()),
        })?;
        // OpenID Connect Core 2: `sub` is never empty and at most 255 ASCII characters long;
        // users are keyed by it (generic profile) and it is kept in the session.
        let subject = claims.subject().as_str();
        if subject.is_empty() || subject.len() > MAX_SUBJECT_LENGTH {
            return Err(rejected(format!("the ID token's sub is empty or longer than {MAX_SUBJECT_LENGTH} characters")));
        }
        check_authorized_party(claims, self.client.client_id())?;
        self.check_claims(claims)
    }

    /// OpenID Connect Core 3.1.3.8: when the ID token carries `at_hash`, it
    /// must be the hash of the access token that came with it.
    pub fn check_access_token_hash(
        &self,
        id_token: &MicrosoftIdToken,
        claims: &MicrosoftIdTokenClaims,
        access_token: &openidconnect::AccessToken,
    ) -> Result<(), IdentityError> {
        let Some(expected) = claims.access_token_hash() else { return Ok(()) };
        let mismatch = || IdentityError::IdTokenRejected("the ID token's at_hash is not the access token's".into());
        let verifier = self.id_token_verifier();
        let algorithm = id_token.signing_alg().map_err(|_| mismatch())?;
        let key = id_token.signing_key(&verifier).map_err(|_| mismatch())?;
        let actual = openidconnect::AccessTokenHash::from_token(access_token, algorithm, key).map_err(|_| mismatch())?;
        if actual == *expected {
            Ok(())
        } else {
            Err(mismatch())
        }
    }

    /// The verifier every ID token goes through: pinned algorithms, the
    /// configured clock skew on `exp` and `iat`.
    fn id_token_verifier(&self) -> openidconnect::IdTokenVerifier<'_, ProviderKey> {
        let skew = self.clock_skew;
        self.client
            .id_token_verifier()
            .require_issuer_match(!self.multi_tenant)
            // Pinned here: discovery's list must not make an HMAC keyed with the client secret acceptable.
            .set_allowed_algs(self.signing_algorithms.iter().cloned())
            // `exp` is compared with a clock `skew` behind ours: a token that expired within the skew still passes.
            .set_time_fn(move || chrono::Utc::now() - skew)
            .set_issue_time_verifier_fn(move |issued_at| {
                if issued_at > chrono::Utc::now() + skew {
                    Err("the ID token is issued in the future".to_owned())
                } else {
                    Ok(())
                }
            })
    }

    /// The checks after the signature and the standard claims: `nbf`, and
    /// for Microsoft the tenant (IDT-12).
    fn check_claims<'a>(&self, claims: &'a MicrosoftIdTokenClaims) -> Result<&'a MicrosoftIdTokenClaims, IdentityError> {
        let rejected = |reason: String| IdentityError::IdTokenRejected(reason);
        let skew = self.clock_skew;
        if claims.additional_claims().nbf.is_some_and(|not_before| not_before > (chrono::Utc::now() + skew).timestamp()) {
            return Err(rejected("the ID token is not valid yet (nbf)".into()));
        }
        if !self.profile.checks_tenant_claims() {
            // A generic provider: the standard checks above are all there is.
            return Ok(claims);
        }
        let tenant = claims.additional_claims().tid.as_deref().ok_or_else(|| rejected("the ID token has no tid claim".into()))?;
        if self.home_tenant_id.as_deref().is_some_and(|home| !home.eq_ignore_ascii_case(tenant)) {
            return Err(rejected("the ID token's tid is not the configured tenant's".into()));
        }
        if self.multi_tenant {
            let expected = self.issuer.as_str().replace("{tenantid}", tenant);
            if claims.issuer().as_str() != expected {
                return Err(rejected("the ID token's issuer is not its own tenant's".into()));
            }
        }
        if !self.allowed_tenants.is_empty() && !self.allowed_tenants.iter().any(|allowed| allowed.eq_ignore_ascii_case(tenant)) {
            return Err(rejected(format!("tenant {tenant} is not allowed to sign in")));
        }
        Ok(claims)
    }
}

const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `sub` OpenID Connect Core allows (2, "sub").
const MAX_SUBJECT_LENGTH: usize = 255;

/// Discovery fields openidconnect does not model: RFC 9207's.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Rfc9207Metadata {
    /// Whether authorization responses carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// OpenID Connect Back-Channel Logout 1.0: the provider posts logout tokens.
    #[serde(default)]
    pub backchannel_logout_supported: Option<bool>,
}

impl AdditionalProviderMetadata for Rfc9207Metadata {}

/// The discovery document as idweb reads it: the standard fields, RP-initiated
/// logout's `end_session_endpoint`, and RFC 9207's flag.
pub type DiscoveredMetadata = ProviderMetadata<
    LogoutProviderMetadata<Rfc9207Metadata>,
    CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    ProviderKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

/// `public_url` + `path`, as registered with the provider.
pub fn redirect_url(public_url: &Url, path: &str) -> Result<RedirectUrl, IdentityError> {
    let url = public_url
        .join(path)
        .map_err(|error| IdentityError::Misconfigured(format!("cannot build redirect URI: {error}")))?;
    Ok(RedirectUrl::from_url(url))
}

