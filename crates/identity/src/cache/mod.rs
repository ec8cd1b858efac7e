//! The server-side token cache: one partition per user (home account id
//! `oid.tid`) and one per tenant for app tokens, behind a store trait so a
//! distributed store can replace the in-memory one without touching
//! acquisition.
//!
//! Tokens live only on the server; nothing here reaches the browser.

mod memory;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::time::SystemTime;

use openidconnect::{AccessToken, RefreshToken};
use serde::{Deserialize, Serialize};

pub use memory::MemoryTokenCache;

use crate::user::HomeAccountId;

/// Where the last token handed out came from (shown on diagnostics, logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenSource {
    /// Redeemed from an authorization code at sign-in.
    AuthorizationCode,
    /// Served from the cache.
    Cache,
    /// Obtained with the refresh token.
    Refresh,
    /// Obtained with the app's own credential (client credentials).
    ClientCredentials,
}

/// Which partition: a user's, or the app's in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PartitionKey {
    /// Tokens acting for a user.
    User(HomeAccountId),
    /// App tokens (client credentials) for a tenant.
    App {
        /// The tenant the tokens are for.
        tenant_id: String,
    },
}

/// One access token and what it is good for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedAccessToken {
    /// Normalised (lower-case) scopes the token was granted.
    pub scopes: BTreeSet<String>,
    /// The token itself; `Debug` prints it redacted.
    pub token: AccessToken,
    /// When the provider says it stops working.
    pub expires_at: SystemTime,
    /// When the provider asks for it to be renewed (`refresh_in`), if earlier.
    pub refresh_on: Option<SystemTime>,
    /// The tenant it was issued in, when not the configured one (tenant override).
    #[serde(default)]
    pub tenant: Option<String>,
}

impl CachedAccessToken {
    /// Whether it can be handed out at `now`, `margin` before expiry counting as expired.
    pub fn is_fresh(&self, now: SystemTime, margin: std::time::Duration) -> bool {
        self.expires_at > now + margin && self.refresh_on.is_none_or(|refresh_on| refresh_on > now)
    }
}

/// Everything cached in one partition.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenPartition {
    /// Access tokens, at most one per distinct scope set.
    pub access_tokens: Vec<CachedAccessToken>,
    /// The latest refresh token; a rotated one replaces it (RT-01).
    pub refresh_token: Option<RefreshToken>,
    /// Where the last token came from.
    pub last_source: Option<TokenSource>,
}

impl TokenPartition {
    /// A fresh access token from `tenant` (`None`: the configured one) covering every scope in `wanted`.
    pub fn access_token_covering(
        &self,
        wanted: &BTreeSet<String>,
        tenant: Option<&str>,
        now: SystemTime,
        margin: std::time::Duration,
    ) -> Option<&CachedAccessToken> {
        self.access_tokens
            .iter()
            .find(|cached| cached.tenant.as_deref() == tenant && cached.is_fresh(now, margin) && wanted.is_subset(&cached.scopes))
    }

    /// Stores `token`, replacing any token for the same scope set and tenant, and dropping expired ones.
    pub fn put_access_token(&mut self, token: CachedAccessToken) {
        let now = SystemTime::now();
        self.access_tokens
            .retain(|cached| (cached.scopes != token.scopes || cached.tenant != token.tenant) && cached.expires_at > now);
        self.access_tokens.push(token);
    }

    /// Drops the access tokens that cover any scope of `scopes` (a claims
    /// challenge or a refused refresh names them).
    pub fn forget_access_tokens(&mut self, scopes: &BTreeSet<String>) {
        self.access_tokens.retain(|cached| cached.scopes.is_disjoint(scopes));
    }
}

/// What the diagnostics page may show of a partition: scopes and times,
/// never token values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSummary {
    /// One entry per cached access token.
    pub access_tokens: Vec<AccessTokenSummary>,
    /// Whether a refresh token is cached.
    pub has_refresh_token: bool,
    /// Where the last token came from.
    pub last_source: Option<TokenSource>,
}

/// One cached access token, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenSummary {
    /// Its scopes, normalised.
    pub scopes: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// When it is due for renewal (`refresh_in`), seconds since the epoch.
    pub refresh_on: Option<u64>,
}

fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

impl TokenPartition {
    /// The partition described without its secrets.
    pub fn summary(&self) -> PartitionSummary {
        PartitionSummary {
            access_tokens: self
                .access_tokens
                .iter()
                .map(|cached| AccessTokenSummary {
                    scopes: cached.scopes.iter().cloned().collect(),
                    expires_at: epoch_secs(cached.expires_at),
                    refresh_on: cached.refresh_on.map(epoch_secs),
                })
                .collect(),
            has_refresh_token: self.refresh_token.is_some(),
            last_source: self.last_source,
        }
    }
}

/// A token cache store failed (a distributed store's connection, say).
#[derive(Debug, thiserror::Error)]
#[error("token cache unavailable: {0}")]
pub struct CacheError(pub String);

/// Where partitions live. Implementations must be safe to share across
/// requests; acquisition serialises writes to one partition itself.
#[async_trait::async_trait]
pub trait TokenCacheStore: Send + Sync + 'static {
    /// The partition, if cached.
    async fn load(&self, key: &PartitionKey) -> Result<Option<TokenPartition>, CacheError>;
    /// Replaces the partition.
    async fn save(&self, key: &PartitionKey, partition: TokenPartition) -> Result<(), CacheError>;
    /// Deletes the partition; whether there was one.
    async fn remove(&self, key: &PartitionKey) -> Result<bool, CacheError>;
}

/// OpenID Connect scopes never appear in an access token's grant.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// Lower-cases scopes (Microsoft treats them case-insensitively), drops the
/// OpenID Connect ones, and strips Graph's resource prefix so
/// `https://graph.microsoft.com/User.Read` and `User.Read` match.
pub fn normalise_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    scopes
        .into_iter()
        .map(|scope| scope.trim().to_ascii_lowercase())
        .map(|scope| scope.strip_prefix("https://graph.microsoft.com/").map(str::to_owned).unwrap_or(scope))
        .filter(|scope| !scope.is_empty() && !OIDC_SCOPES.contains(&scope.as_str()))
        .collect()
}
