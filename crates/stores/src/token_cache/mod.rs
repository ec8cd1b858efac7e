//! The server-side token cache: one partition per user (home account id
//! `oid.tid`) and one per tenant for app tokens, behind a store trait so a
//! distributed store can replace the in-memory one without touching
//! acquisition.
//!
//! Stores: [`MemoryTokenCache`] for one instance; [`LayeredTokenCache`] (a
//! bounded memory L1 in front of an encrypted shared L2, any
//! [`SharedCacheBackend`]: Redis or PostgreSQL with this crate's features)
//! for several. Every write names the version it read
//! ([`Etag`]), so a stale writer never overwrites a newer partition.
//!
//! Tokens live only on the server; nothing here reaches the browser.

mod backend;
pub mod encryption;
mod layered;
mod memory;
pub mod merge;
#[cfg(test)]
mod tests;

/// Scopes as a set, lower case: what the engine's normaliser gives for
/// scopes of no particular resource (the tests' shorthand).
#[cfg(test)]
pub(crate) fn scope_set<'a>(scopes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    scopes.into_iter().map(str::to_ascii_lowercase).collect()
}

use std::collections::BTreeSet;
use std::time::SystemTime;

use openidconnect::{AccessToken, RefreshToken};
use serde::{Deserialize, Serialize};

pub use backend::{SealedEntry, SharedCacheBackend};
pub use crate::changes::ChangeEvent;
pub use crate::StoreError;
pub use layered::{L2Health, LayeredSettings, LayeredTokenCache};
pub use memory::MemoryTokenCache;

use crate::HomeAccountId;

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

impl TokenSource {
    /// The `source` label of the tokens-served metric.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "code",
            Self::Cache => "cache",
            Self::Refresh => "refresh",
            Self::ClientCredentials => "client_credentials",
        }
    }
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

impl PartitionKey {
    /// Reads back a [`Self::storage_name`] (from another instance's change notice).
    pub fn from_storage_name(name: &str) -> Option<Self> {
        if let Some(home_account_id) = name.strip_prefix("u:") {
            return Some(Self::User(HomeAccountId::from_text(home_account_id)));
        }
        name.strip_prefix("a:").map(|tenant_id| Self::App { tenant_id: tenant_id.to_owned() })
    }

    /// The partition's name in a shared store (`u:{oid}.{tid}`, `a:{tenant}`);
    /// also bound into each encrypted entry, so an entry copied under another
    /// name does not decrypt.
    pub fn storage_name(&self) -> String {
        match self {
            Self::User(home_account_id) => format!("u:{}", home_account_id.as_str()),
            Self::App { tenant_id } => format!("a:{tenant_id}"),
        }
    }
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
    /// Counts the authorization codes redeemed into this partition: each new
    /// grant (sign-in, incremental consent) is one more than the grant it
    /// replaces, a rotated refresh token keeps it. Two writers racing keep
    /// the refresh token of the newer grant (never an older grant's), with no
    /// reliance on the instances' clocks.
    #[serde(default)]
    pub grant_generation: u64,
    /// Set when a renewal failed for an outage: nobody renews this
    /// partition again before its time (FLT-04); cleared by a renewal that
    /// succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_backoff: Option<RenewalBackoff>,
}

/// A partition's renewals wait after a failure for an outage (FLT-04).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalBackoff {
    /// Renewals that failed in a row.
    pub failures: u32,
    /// No renewal is tried before then.
    pub not_before: SystemTime,
}

impl RenewalBackoff {
    /// Whether renewals still wait at `now`.
    pub fn holds_at(&self, now: SystemTime) -> bool {
        self.not_before > now
    }
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

    /// An access token covering `wanted` that is due for renewal but still
    /// works for longer than `safety` (FLT-04: what is served while the
    /// provider cannot renew it). Never an expired one.
    pub fn access_token_usable(
        &self,
        wanted: &BTreeSet<String>,
        tenant: Option<&str>,
        now: SystemTime,
        safety: std::time::Duration,
    ) -> Option<&CachedAccessToken> {
        self.access_tokens
            .iter()
            .filter(|cached| cached.tenant.as_deref() == tenant && cached.expires_at > now + safety && wanted.is_subset(&cached.scopes))
            .max_by_key(|cached| cached.expires_at)
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

/// A stored partition's version: any write changes it, and a write names
/// the one it read (compare-and-set). Random, so a partition removed and
/// created again never repeats an old version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Etag(pub u64);

impl Etag {
    /// A new, unpredictable version.
    pub fn random() -> Self {
        Self(rand::random::<u64>() | 1)
    }
}

/// The name of a record ([`TokenCacheStore::load_record`]): `r:` and a
/// digest, so it can never be taken for a partition's name, and what it
/// indexes (a provider's session id, a subject) is not readable in the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordName(String);

impl RecordName {
    /// The record for `parts` within `kind` (`sid`, `sub`, `jti`).
    pub fn digest(kind: &str, parts: &[&str]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        for part in parts {
            // Length-prefixed, so no two lists of parts hash alike.
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest: String = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
        Self(format!("r:{kind}:{digest}"))
    }

    /// The name in the store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A partition and the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned {
    /// The tokens.
    pub partition: TokenPartition,
    /// The version to name when writing it back.
    pub etag: Etag,
    /// Which tier answered.
    pub tier: CacheTier,
}

/// Which tier of the cache answered a read (metrics, diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheTier {
    /// This process's memory (the only tier of the memory store, or the L1).
    Local,
    /// The shared store (L2).
    Shared,
}

impl CacheTier {
    /// The label used in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Local => "l1",
            Self::Shared => "l2",
        }
    }
}

/// What a compare-and-set write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written; this is the new version.
    Saved(Etag),
    /// Someone else wrote (or removed) the partition since it was read: nothing written.
    Conflict,
}

/// Where partitions live. Implementations must be safe to share across
/// requests; acquisition serialises writes to one partition in this process
/// itself, and [`TokenCacheStore::lock`] across processes.
#[async_trait::async_trait]
pub trait TokenCacheStore: Send + Sync + 'static {
    /// The partition, possibly from a copy held by this process.
    async fn load(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError>;

    /// The partition as the shared store holds it now: what a read-modify-write
    /// must start from. A store with no shared part answers as [`Self::load`].
    async fn load_latest(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError> {
        self.load(key).await
    }

    /// Writes `partition` if the stored version is still `expected` (`None`:
    /// there was none).
    async fn save(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<SaveOutcome, StoreError>;

    /// Deletes the partition; whether there was one.
    async fn remove(&self, key: &PartitionKey) -> Result<bool, StoreError>;

    /// The right to renew `key`'s tokens across every instance sharing the
    /// store, waiting up to `wait` for another holder; `None` when none was
    /// needed or the wait ran out (compare-and-set still guards the write).
    async fn lock(&self, _key: &PartitionKey, _wait: std::time::Duration) -> Result<Option<PartitionLock>, StoreError> {
        Ok(None)
    }

    /// How many partitions are stored (shared stores count their shared part).
    async fn partition_count(&self) -> Result<u64, StoreError>;

    /// A small record kept beside the partitions, shared like them (the
    /// sign-out index and the logout token replay guard, OUT-02/OUT-03),
    /// with its version. A shared store seals it like a partition, and a
    /// read there keeps it `ttl` longer (as partitions slide).
    async fn load_record(&self, name: &RecordName, ttl: std::time::Duration) -> Result<Option<(Vec<u8>, Etag)>, StoreError>;

    /// Writes a record if its version is still `expected` (`None`: there was
    /// none); whether it was written. It lapses `ttl` after the write.
    async fn save_record(&self, name: &RecordName, bytes: &[u8], expected: Option<Etag>, ttl: std::time::Duration) -> Result<bool, StoreError>;

    /// Deletes a record; whether there was one.
    async fn remove_record(&self, name: &RecordName) -> Result<bool, StoreError>;

    /// Whether the store can be used now (`/readyz`).
    async fn check_ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A held cross-instance lock on one partition; released on drop (and by
/// its time limit if this process dies).
pub struct PartitionLock {
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl PartitionLock {
    /// A lock that runs `release` when dropped.
    pub fn new(release: impl FnOnce() + Send + 'static) -> Self {
        Self { release: Some(Box::new(release)) }
    }
}

impl Drop for PartitionLock {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl std::fmt::Debug for PartitionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionLock").finish_non_exhaustive()
    }
}

