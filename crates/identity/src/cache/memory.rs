//! In-memory token cache store.

use std::collections::HashMap;
use std::sync::RwLock;

use super::UserTokens;
use crate::user::HomeAccountId;

/// Token cache held in this process, one entry per user.
#[derive(Debug, Default)]
pub struct MemoryTokenCache {
    partitions: RwLock<HashMap<HomeAccountId, UserTokens>>,
}

impl MemoryTokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the user's partition, if any.
    pub fn get(&self, user: &HomeAccountId) -> Option<UserTokens> {
        self.read().get(user).cloned()
    }

    /// Applies `change` to the user's partition, creating it if needed.
    pub fn update(&self, user: &HomeAccountId, change: impl FnOnce(&mut UserTokens)) {
        let mut partitions = self.write();
        change(partitions.entry(user.clone()).or_default());
    }

    /// Removes everything cached for the user (sign-out, revoked grant).
    pub fn remove_user(&self, user: &HomeAccountId) -> bool {
        self.write().remove(user).is_some()
    }

    /// How many users have a partition.
    pub fn user_count(&self) -> usize {
        self.read().len()
    }

    // A panic while holding the lock cannot leave a partition half-written
    // (every change is a single assignment), so a poisoned lock is still usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<HomeAccountId, UserTokens>> {
        self.partitions.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<HomeAccountId, UserTokens>> {
        self.partitions.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
