//! Token acquisition for a signed-in user: cache first, then the refresh
//! token, else a typed "interaction required".

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openidconnect::{AccessToken, Nonce, OAuth2TokenResponse, RequestTokenError, Scope};

use crate::cache::{normalise_scopes, CachedAccessToken, MemoryTokenCache, TokenSource};
use crate::claims::MicrosoftTokenResponse;
use crate::error::IdentityError;
use crate::provider::{error_chain, ProviderCache};
use crate::user::SignedInUser;

/// Tokens are refreshed this long before they expire, so a call never
/// starts with a token that dies in flight.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Acquires access tokens for signed-in users.
pub struct TokenAcquisition {
    provider: Arc<ProviderCache>,
    cache: Arc<MemoryTokenCache>,
    http: reqwest::Client,
    refresh_margin: Duration,
}

impl TokenAcquisition {
    /// Acquisition over `cache`, talking to `provider` through `http`.
    pub fn new(provider: Arc<ProviderCache>, cache: Arc<MemoryTokenCache>, http: reqwest::Client) -> Self {
        Self { provider, cache, http, refresh_margin: DEFAULT_REFRESH_MARGIN }
    }

    /// An access token for `user` covering `scopes`: from the cache when a
    /// fresh one is there, else by redeeming the refresh token.
    pub async fn for_user(&self, user: &SignedInUser, scopes: &[String]) -> Result<AccessToken, IdentityError> {
        let wanted = normalise_scopes(scopes.iter().map(String::as_str));
        let fresh_until = SystemTime::now() + self.refresh_margin;
        let cached = self.cache.get(&user.home_account_id);
        if let Some(hit) = cached.as_ref().and_then(|tokens| tokens.access_token_covering(&wanted, fresh_until)) {
            tracing::debug!(source = ?TokenSource::Cache, "access token served");
            return Ok(hit.token.clone());
        }
        let Some(refresh_token) = cached.and_then(|tokens| tokens.refresh_token) else {
            return Err(IdentityError::InteractionRequired {
                scopes: scopes.to_vec(),
                reason: "no refresh token is cached for this user".into(),
            });
        };
        let provider = self.provider.get().await?;
        let request = provider
            .client
            .exchange_refresh_token(&refresh_token)
            .map_err(|error| IdentityError::Internal(format!("token endpoint not configured: {error}")))?
            .add_scopes(scopes.iter().cloned().map(Scope::new));
        let response = match request.request_async(&self.http).await {
            Ok(response) => response,
            Err(RequestTokenError::ServerResponse(error)) => {
                // The grant is dead (revoked, expired, consent withdrawn): drop it so
                // the next call goes straight to interaction instead of retrying.
                self.cache.remove_user(&user.home_account_id);
                tracing::warn!(error = error.error().as_ref(), "refresh token rejected; user must sign in again");
                return Err(IdentityError::InteractionRequired {
                    scopes: scopes.to_vec(),
                    reason: format!("the provider refused the refresh token ({})", error.error().as_ref()),
                });
            }
            Err(error) => {
                return Err(IdentityError::ProviderUnavailable(format!("refresh failed: {}", error_chain(&error))))
            }
        };
        self.check_refreshed_identity(user, &response, &provider.client)?;
        let token = self.store_response(user, &response, &wanted, TokenSource::Refresh);
        Ok(token)
    }

    /// Caches the tokens of a token response for `user` and returns the access token.
    pub(crate) fn store_response(
        &self,
        user: &SignedInUser,
        response: &MicrosoftTokenResponse,
        requested: &BTreeSet<String>,
        source: TokenSource,
    ) -> AccessToken {
        // Microsoft returns the granted scopes; fall back to what was asked.
        let granted = response
            .scopes()
            .map(|scopes| normalise_scopes(scopes.iter().map(|scope| scope.as_str())))
            .filter(|granted| !granted.is_empty())
            .unwrap_or_else(|| requested.clone());
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
        let access_token = response.access_token().clone();
        let entry = CachedAccessToken { scopes: granted, token: access_token.clone(), expires_at: SystemTime::now() + lifetime };
        self.cache.update(&user.home_account_id, |tokens| {
            tokens.put_access_token(entry);
            if let Some(rotated) = response.refresh_token() {
                tokens.refresh_token = Some(rotated.clone());
            }
        });
        tracing::info!(source = ?source, "tokens cached for user");
        access_token
    }

    /// A refreshed ID token must describe the same user (RT-02); refreshed
    /// ID tokens carry no nonce, so none is required.
    fn check_refreshed_identity(
        &self,
        user: &SignedInUser,
        response: &MicrosoftTokenResponse,
        client: &crate::provider::OidcClient,
    ) -> Result<(), IdentityError> {
        let Some(id_token) = response.extra_fields().id_token() else { return Ok(()) };
        let claims = id_token
            .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
            .map_err(|error| IdentityError::IdTokenRejected(error.to_string()))?;
        crate::claims::check_authorized_party(claims, client.client_id())?;
        let same_user = claims.additional_claims().oid.as_deref() == Some(user.object_id.as_str())
            && claims.additional_claims().tid.as_deref() == Some(user.tenant_id.as_str());
        if same_user {
            Ok(())
        } else {
            self.cache.remove_user(&user.home_account_id);
            tracing::warn!(target: "idweb::security", "refreshed ID token names another user; cache entry dropped");
            Err(IdentityError::IdTokenRejected("refreshed ID token is for a different user".into()))
        }
    }
}
