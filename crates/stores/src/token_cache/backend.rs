//! What a shared (L2) store must do: keep sealed bytes under a name with a
//! time limit, write them only over the version the writer read, hold
//! short per-partition locks, and tell every instance when a partition
//! changes. Encryption, serialisation and the failure policy live once, in
//! the layered store, not in each backend.

use std::time::Duration;

use tokio::sync::broadcast;

use super::{ChangeEvent, Etag, StoreError};

/// One encrypted partition as a shared store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEntry {
    /// The version the bytes were sealed for (bound into their encryption).
    pub etag: Etag,
    /// Key id, nonce and ciphertext ([`super::encryption`]).
    pub bytes: Vec<u8>,
}

/// A shared token cache store (Redis, PostgreSQL). Names are
/// [`super::PartitionKey::storage_name`]s; the backend adds its own prefix.
#[async_trait::async_trait]
pub trait SharedCacheBackend: Send + Sync + 'static {
    /// Short name for logs and metrics (`redis`, `postgres`).
    fn kind(&self) -> &'static str;

    /// The entry, extending its time limit to `ttl` (sliding expiry).
    async fn get(&self, name: &str, ttl: Duration) -> Result<Option<SealedEntry>, StoreError>;

    /// Writes `entry` with time limit `ttl` if the stored version is
    /// `expected` (`None`: nothing stored); whether it was written.
    async fn put(&self, name: &str, expected: Option<Etag>, entry: &SealedEntry, ttl: Duration) -> Result<bool, StoreError>;

    /// Deletes the entry; whether there was one.
    async fn delete(&self, name: &str) -> Result<bool, StoreError>;

    /// Deletes the entry only if it is still at `etag` (dropping an entry
    /// that failed authentication without racing a good write).
    async fn delete_if(&self, name: &str, etag: Etag) -> Result<bool, StoreError>;

    /// Takes the lock on `name` for `owner` unless another owner holds it;
    /// it lapses after `ttl` if never released.
    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Releases the lock if `owner` still holds it.
    async fn unlock(&self, name: &str, owner: &str) -> Result<(), StoreError>;

    /// Tells the other instances that `name` changed.
    async fn publish_change(&self, name: &str) -> Result<(), StoreError>;

    /// The other instances' changes (this instance's own are filtered out).
    fn changes(&self) -> broadcast::Receiver<ChangeEvent>;

    /// How many entries are stored under this backend's prefix.
    async fn count(&self) -> Result<u64, StoreError>;

    /// Round trip to the store.
    async fn ping(&self) -> Result<(), StoreError>;
}
