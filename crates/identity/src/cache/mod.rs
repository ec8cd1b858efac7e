//! The server-side token cache: one partition per user, keyed by home account id.
//!
//! Tokens live only in this process; nothing here is serialised to the
//! browser. This first store is in memory; distributed stores come later
//! behind the same shape.

mod memory;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::time::SystemTime;

use openidconnect::{AccessToken, RefreshToken};

pub use memory::MemoryTokenCache;

/// Where the last token handed out came from (shown on diagnostics, logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// Redeemed from an authorization code at sign-in.
    AuthorizationCode,
    /// Served from the cache.
    Cache,
    /// Obtained with the refresh token.
    Refresh,
}

/// One access token and what it is good for.
#[derive(Debug, Clone)]
pub struct CachedAccessToken {
    /// Normalised (lower-case) scopes the token was granted.
    pub scopes: BTreeSet<String>,
    /// The token itself; `Debug` prints it redacted.
    pub token: AccessToken,
    /// When the provider says it stops working.
    pub expires_at: SystemTime,
}

/// Everything cached for one user.
#[derive(Debug, Clone, Default)]
pub struct UserTokens {
    /// Access tokens, at most one per distinct scope set.
    pub access_tokens: Vec<CachedAccessToken>,
    /// The latest refresh token; a rotated one replaces it (RT-01).
    pub refresh_token: Option<RefreshToken>,
}

impl UserTokens {
    /// An access token covering every scope in `wanted`, valid until at least `valid_until`.
    pub fn access_token_covering(&self, wanted: &BTreeSet<String>, valid_until: SystemTime) -> Option<&CachedAccessToken> {
        self.access_tokens
            .iter()
            .find(|cached| cached.expires_at > valid_until && wanted.is_subset(&cached.scopes))
    }

    /// Stores `token`, replacing any token for the same scope set.
    pub fn put_access_token(&mut self, token: CachedAccessToken) {
        self.access_tokens.retain(|cached| cached.scopes != token.scopes);
        self.access_tokens.push(token);
    }
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
