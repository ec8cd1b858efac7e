//! A bounded memory L1 in front of an encrypted shared L2 (Redis,
//! PostgreSQL), and the one place that decides what happens when the L2
//! fails (FLT-03):
//!
//! - read: L1 hit, no L2 call; miss: one L2 read, copied into L1. L2 down:
//!   the L1 copy serves if there is one, else [`CacheError`] (the app shows
//!   "try again shortly" or re-authorizes silently).
//! - write: compare-and-set in L2, then L1, then a change notice so other
//!   instances drop their L1 copy. L2 down: L1 only (this instance keeps
//!   working; the write reaches L2 on the next change after recovery).
//! - remove: L1 at once; L2 retried in the background while it is down (the
//!   entry's time limit ends it otherwise).
//! - an entry that fails authentication is dropped and counted, never used;
//!   one sealed with a key this instance lacks is an error, never dropped
//!   (another instance with the right key ring can still read it).
//!
//! An outage is logged once when it starts and once when it ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Notify};

use super::encryption::{KeyRing, OpenError};
use super::memory::MemoryTokenCache;
use super::{
    CacheError, CacheTier, ChangeEvent, Etag, PartitionKey, PartitionLock, SaveOutcome, SealedEntry, SharedCacheBackend,
    TokenCacheStore, TokenPartition, Versioned,
};
use crate::telemetry;

/// How long a partition lock lasts if its holder never releases it (a
/// crashed instance): longer than one token request may take.
const LOCK_LIFETIME: Duration = Duration::from_secs(30);
/// How often a waiter tries a held lock again when no change notice wakes it.
const LOCK_POLL: Duration = Duration::from_millis(50);
/// A removal that failed during an outage is retried this often, this many times.
const PURGE_RETRY_EVERY: Duration = Duration::from_secs(5);
const PURGE_RETRIES: u32 = 120;

/// Sizes and lifetimes of the layered store.
#[derive(Debug, Clone, Copy)]
pub struct LayeredSettings {
    /// Most partitions the L1 holds.
    pub l1_max_partitions: u64,
    /// Longest an L1 copy is served without reading L2 again (the bound on
    /// staleness when a change notice is lost).
    pub l1_time_to_live: Duration,
    /// Time limit of each L2 entry, renewed on every read and write.
    pub l2_time_to_live: Duration,
}

/// L1 + L2 token cache.
pub struct LayeredTokenCache {
    l1: Arc<MemoryTokenCache>,
    l2: Arc<dyn SharedCacheBackend>,
    keys: Arc<KeyRing>,
    settings: LayeredSettings,
    health: Arc<L2Health>,
    changed: Arc<Notify>,
    feed: tokio::task::JoinHandle<()>,
}

impl Drop for LayeredTokenCache {
    fn drop(&mut self) {
        self.feed.abort();
    }
}

impl LayeredTokenCache {
    /// The store over `l2`, sealing with `keys`. Starts listening to the
    /// other instances' change notices (needs a Tokio runtime).
    pub fn new(l2: Arc<dyn SharedCacheBackend>, keys: Arc<KeyRing>, settings: LayeredSettings) -> Self {
        let l1 = Arc::new(MemoryTokenCache::l1(settings.l1_max_partitions, settings.l1_time_to_live));
        let changed = Arc::new(Notify::new());
        let feed = tokio::spawn(follow_changes(l2.changes(), l1.clone(), changed.clone()));
        let health = Arc::new(L2Health::new(l2.kind()));
        Self { l1, l2, keys, settings, health, changed, feed }
    }

    /// The L2's outage state.
    pub fn health(&self) -> &L2Health {
        &self.health
    }

    /// How many partitions the L1 holds now.
    pub fn l1_len(&self) -> u64 {
        self.l1.len()
    }

    /// Reads `key` from L2 and refreshes the L1 copy.
    async fn read_l2(&self, key: &PartitionKey) -> Result<Option<Versioned>, CacheError> {
        let name = key.storage_name();
        let started = Instant::now();
        let stored = self.l2.get(&name, self.settings.l2_time_to_live).await;
        telemetry::l2_latency("get", started.elapsed());
        let Some(entry) = self.health.observe(stored)? else {
            self.l1.remove_partition(key);
            return Ok(None);
        };
        match self.open(&name, &entry) {
            Ok(partition) => {
                let versioned = Versioned { partition, etag: entry.etag, tier: CacheTier::Shared };
                self.l1.put(key.clone(), Versioned { tier: CacheTier::Local, ..versioned.clone() });
                Ok(Some(versioned))
            }
            Err(OpenFailure::UnknownKey(key_id)) => Err(CacheError::UnknownKey { key_id }),
            Err(OpenFailure::Unusable(reason)) => {
                // Never trusted; dropped only if nobody replaced it meanwhile.
                telemetry::decrypt_failure();
                tracing::warn!(partition = %name, %reason, "token cache entry failed authentication; dropped");
                if let Err(error) = self.l2.delete_if(&name, entry.etag).await {
                    tracing::debug!(%error, "could not drop the unusable entry; its time limit will");
                }
                self.l1.remove_partition(key);
                Ok(None)
            }
        }
    }

    fn open(&self, name: &str, entry: &SealedEntry) -> Result<TokenPartition, OpenFailure> {
        let plaintext = self.keys.open(name, entry.etag.0, &entry.bytes).map_err(|error| match error {
            OpenError::UnknownKey(key_id) => OpenFailure::UnknownKey(key_id),
            other => OpenFailure::Unusable(other.to_string()),
        })?;
        serde_json::from_slice(&plaintext).map_err(|error| OpenFailure::Unusable(format!("does not parse: {error}")))
    }

    async fn publish(&self, name: &str) {
        if let Err(error) = self.l2.publish_change(name).await {
            // The others' copies then live out their L1 time to live.
            self.health.observe::<()>(Err(error)).ok();
        }
    }
}

enum OpenFailure {
    UnknownKey(String),
    Unusable(String),
}

#[async_trait::async_trait]
impl TokenCacheStore for LayeredTokenCache {
    async fn load(&self, key: &PartitionKey) -> Result<Option<Versioned>, CacheError> {
        if let Some(local) = self.l1.get(key) {
            return Ok(Some(local.as_ref().clone()));
        }
        self.read_l2(key).await
    }

    async fn load_latest(&self, key: &PartitionKey) -> Result<Option<Versioned>, CacheError> {
        match self.read_l2(key).await {
            Err(error) if error.is_outage() => match self.l1.get(key) {
                // Degraded: this instance's copy is the best there is.
                Some(local) => Ok(Some(local.as_ref().clone())),
                None => Err(error),
            },
            other => other,
        }
    }

    async fn save(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<SaveOutcome, CacheError> {
        let name = key.storage_name();
        let etag = Etag::random();
        let plaintext = serde_json::to_vec(partition).map_err(CacheError::Encoding)?;
        let entry = SealedEntry { etag, bytes: self.keys.seal(&name, etag.0, &plaintext) };
        let started = Instant::now();
        let written = self.l2.put(&name, expected, &entry, self.settings.l2_time_to_live).await;
        telemetry::l2_latency("put", started.elapsed());
        match self.health.observe(written) {
            Ok(true) => {
                self.l1.put(key.clone(), Versioned { partition: partition.clone(), etag, tier: CacheTier::Local });
                self.publish(&name).await;
                Ok(SaveOutcome::Saved(etag))
            }
            Ok(false) => {
                self.l1.remove_partition(key);
                Ok(SaveOutcome::Conflict)
            }
            Err(error) if error.is_outage() => {
                self.l1.put(key.clone(), Versioned { partition: partition.clone(), etag, tier: CacheTier::Local });
                Ok(SaveOutcome::Saved(etag))
            }
            Err(error) => Err(error),
        }
    }

    async fn remove(&self, key: &PartitionKey) -> Result<bool, CacheError> {
        let name = key.storage_name();
        let in_l1 = self.l1.remove_partition(key);
        match self.health.observe(self.l2.delete(&name).await) {
            Ok(in_l2) => {
                self.publish(&name).await;
                Ok(in_l1 || in_l2)
            }
            Err(error) if error.is_outage() => {
                tracing::warn!(partition = %name, "token cache store unavailable: removal will be retried");
                tokio::spawn(retry_removal(self.l2.clone(), self.health.clone(), name));
                Ok(in_l1)
            }
            Err(error) => Err(error),
        }
    }

    async fn lock(&self, key: &PartitionKey, wait: Duration) -> Result<Option<PartitionLock>, CacheError> {
        let name = key.storage_name();
        let owner = format!("{:032x}", rand::random::<u128>());
        let deadline = Instant::now() + wait;
        let mut waited_for_another = false;
        loop {
            // Registered before trying, so a release between the try and the wait is not missed.
            let notified = self.changed.notified();
            match self.health.observe(self.l2.try_lock(&name, &owner, LOCK_LIFETIME).await) {
                Ok(true) => {
                    let l2 = self.l2.clone();
                    return Ok(Some(PartitionLock::new(waited_for_another, move || {
                        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                            runtime.spawn(async move { l2.unlock(&name, &owner).await });
                        }
                    })));
                }
                Ok(false) => waited_for_another = true,
                // No lock to be had: go on; compare-and-set still guards the write.
                Err(error) if error.is_outage() => return Ok(None),
                Err(error) => return Err(error),
            }
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(partition = %name, "another instance held the token lock too long; going on without it");
                return Ok(None);
            }
            let _ = tokio::time::timeout(LOCK_POLL.min(deadline - now), notified).await;
        }
    }

    async fn partition_count(&self) -> Result<u64, CacheError> {
        self.l2.count().await
    }

    async fn check_ready(&self) -> Result<(), CacheError> {
        self.health.observe(self.l2.ping().await)
    }
}

/// Drops L1 copies other instances changed, and wakes lock waiters.
async fn follow_changes(mut feed: broadcast::Receiver<ChangeEvent>, l1: Arc<MemoryTokenCache>, changed: Arc<Notify>) {
    loop {
        match feed.recv().await {
            Ok(ChangeEvent::Changed(name)) => {
                if let Some(key) = PartitionKey::from_storage_name(&name) {
                    if l1.remove_partition(&key) {
                        telemetry::l1_invalidation();
                    }
                }
            }
            Ok(ChangeEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                // Notices may have been missed: no L1 copy can be trusted.
                l1.clear();
                telemetry::l1_invalidation();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
        changed.notify_waiters();
    }
}

async fn retry_removal(l2: Arc<dyn SharedCacheBackend>, health: Arc<L2Health>, name: String) {
    for _ in 0..PURGE_RETRIES {
        tokio::time::sleep(PURGE_RETRY_EVERY).await;
        if health.observe(l2.delete(&name).await).is_ok() {
            let _ = l2.publish_change(&name).await;
            tracing::info!(partition = %name, "removal reached the token cache store");
            return;
        }
    }
    tracing::warn!(partition = %name, "removal never reached the token cache store; the entry's time limit will end it");
}

/// Whether the L2 is answering, with one log line per outage.
pub struct L2Health {
    kind: &'static str,
    down: AtomicBool,
    since: Mutex<Option<(Instant, String)>>,
}

impl L2Health {
    fn new(kind: &'static str) -> Self {
        Self { kind, down: AtomicBool::new(false), since: Mutex::new(None) }
    }

    /// Whether the last call failed as an outage.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Since when, and the error that started the outage.
    pub fn outage(&self) -> Option<(Duration, String)> {
        let since = self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        since.as_ref().map(|(at, reason)| (at.elapsed(), reason.clone()))
    }

    /// Passes `result` through, noting an outage start or end.
    fn observe<T>(&self, result: Result<T, CacheError>) -> Result<T, CacheError> {
        match &result {
            Err(error) if error.is_outage() => {
                telemetry::l2_error(self.kind);
                if !self.down.swap(true, Ordering::Relaxed) {
                    let reason = telemetry::error_chain(error);
                    tracing::warn!(store = self.kind, error = %reason, "token cache store unavailable; serving from memory where possible");
                    *self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), reason));
                }
            }
            _ => {
                if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
                    let since = self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
                    let lasted = since.map(|(at, _)| at.elapsed()).unwrap_or_default();
                    tracing::info!(store = self.kind, ?lasted, "token cache store answering again");
                }
            }
        }
        result
    }
}
