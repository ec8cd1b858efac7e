//! The in-memory token cache store: bounded (least recently used
//! partitions go first) with a sliding expiry, O(1) lookups.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::{CacheError, PartitionKey, TokenCacheStore, TokenPartition};

/// Defaults: room for this many partitions, each dropped after this long unused.
pub const DEFAULT_MAX_PARTITIONS: u64 = 100_000;
/// See [`DEFAULT_MAX_PARTITIONS`].
pub const DEFAULT_SLIDING_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// Token cache held in this process.
pub struct MemoryTokenCache {
    partitions: Cache<PartitionKey, Arc<TokenPartition>>,
}

impl Default for MemoryTokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PARTITIONS, DEFAULT_SLIDING_EXPIRY)
    }
}

impl MemoryTokenCache {
    /// A cache of at most `max_partitions`, each dropped after `sliding_expiry` unused.
    pub fn new(max_partitions: u64, sliding_expiry: Duration) -> Self {
        Self { partitions: Cache::builder().max_capacity(max_partitions).time_to_idle(sliding_expiry).build() }
    }

    /// A copy of the partition, if cached.
    pub fn get(&self, key: &PartitionKey) -> Option<TokenPartition> {
        self.partitions.get(key).map(|partition| partition.as_ref().clone())
    }

    /// Replaces the partition.
    pub fn insert(&self, key: PartitionKey, partition: TokenPartition) {
        self.partitions.insert(key, Arc::new(partition));
    }

    /// Removes the partition; whether there was one.
    pub fn remove_partition(&self, key: &PartitionKey) -> bool {
        self.partitions.remove(key).is_some()
    }

    /// How many partitions are cached (after pending evictions are applied).
    pub fn partition_count(&self) -> u64 {
        self.partitions.run_pending_tasks();
        self.partitions.entry_count()
    }
}

#[async_trait::async_trait]
impl TokenCacheStore for MemoryTokenCache {
    async fn load(&self, key: &PartitionKey) -> Result<Option<TokenPartition>, CacheError> {
        Ok(self.get(key))
    }

    async fn save(&self, key: &PartitionKey, partition: TokenPartition) -> Result<(), CacheError> {
        self.insert(key.clone(), partition);
        Ok(())
    }

    async fn remove(&self, key: &PartitionKey) -> Result<bool, CacheError> {
        Ok(self.remove_partition(key))
    }
}
