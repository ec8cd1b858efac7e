//! The identity provider as discovered from its metadata document.
//!
//! Discovery is lazy and retried: the app starts (and serves signed-out
//! pages) while the provider is down, and recovers when it comes back (FLT-01).

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse,
};
use openidconnect::{
    Client, ClientId, EndpointMaybeSet, EndpointNotSet, EndpointSet, EndSessionUrl, IssuerUrl,
    ProviderMetadataWithLogout, RedirectUrl,
};
use tokio::sync::RwLock;
use url::Url;

use crate::claims::MicrosoftClaims;
use crate::token_response::{MicrosoftErrorResponse, MicrosoftTokenResponse};
use crate::config::IdentityConfig;
use crate::error::IdentityError;

/// The openidconnect client type idweb uses: authorization and token
/// endpoints from discovery, Microsoft's extra ID token claims.
pub type OidcClient = Client<
    MicrosoftClaims,
    CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
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
}

/// Discovers the provider once and keeps the result; failures are not cached.
pub struct ProviderCache {
    config: Arc<IdentityConfig>,
    http: reqwest::Client,
    discovered: RwLock<Option<Arc<Provider>>>,
}

impl ProviderCache {
    /// A cache that will discover `config`'s authority on first use.
    pub fn new(config: Arc<IdentityConfig>, http: reqwest::Client) -> Self {
        Self { config, http, discovered: RwLock::new(None) }
    }

    /// The discovered provider, fetching the metadata and keys if not yet known.
    pub async fn get(&self) -> Result<Arc<Provider>, IdentityError> {
        if let Some(provider) = self.discovered.read().await.as_ref() {
            return Ok(provider.clone());
        }
        let mut slot = self.discovered.write().await;
        if let Some(provider) = slot.as_ref() {
            return Ok(provider.clone());
        }
        let provider = Arc::new(self.discover().await?);
        *slot = Some(provider.clone());
        Ok(provider)
    }

    async fn discover(&self) -> Result<Provider, IdentityError> {
        let azure_ad = &self.config.azure_ad;
        let issuer = IssuerUrl::new(azure_ad.authority())
            .map_err(|error| IdentityError::ProviderUnavailable(format!("authority is not a URL: {error}")))?;
        let metadata = tokio::time::timeout(
            DISCOVERY_TIMEOUT,
            ProviderMetadataWithLogout::discover_async(issuer, &self.http),
        )
        .await
        .map_err(|_| IdentityError::ProviderUnavailable("discovery timed out".into()))?
        .map_err(|error| {
            IdentityError::ProviderUnavailable(format!("discovery failed: {}", error_chain(&error)))
        })?;
        let end_session_endpoint = metadata.additional_metadata().end_session_endpoint.clone();
        let issuer = metadata.issuer().clone();
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(azure_ad.client_id.clone()),
            // Only a secret is set on the client; assertions are added to each request.
            azure_ad.credential.client_secret(),
        )
        .set_redirect_uri(redirect_url(&self.config.hosting.public_url, &azure_ad.callback_path)?);
        tracing::info!(authority = %azure_ad.authority(), "identity provider discovered");
        Ok(Provider { client, issuer, end_session_endpoint })
    }
}

const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// `public_url` + `path`, as registered with the provider.
pub fn redirect_url(public_url: &Url, path: &str) -> Result<RedirectUrl, IdentityError> {
    let url = public_url
        .join(path)
        .map_err(|error| IdentityError::Internal(format!("cannot build redirect URI: {error}")))?;
    Ok(RedirectUrl::from_url(url))
}

/// Renders an error with its sources, for logs (never contains secrets: these are transport errors).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
