//! What the stores are opened with: which engine, how to reach it, and
//! the limits of the in-memory ones. The engine's configuration reads these
//! from `appsettings.json` (`TokenCache`, `Session`); an app that opens a
//! store itself fills them in.

use std::sync::Arc;
use std::time::Duration;

use crate::token_cache::encryption::KeyRing;

/// The engine of a store several instances share (`Store` = `Memory`, the
/// default, is no shared store at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Redis, single node or Cluster.
    Redis,
    /// PostgreSQL.
    Postgres,
}

/// A connection string; it may hold a password, so `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString(String);

impl ConnectionString {
    /// Wraps a connection string (configuration does this for `ConnectionString` keys).
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The text, for the client library only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionString([redacted])")
    }
}

/// How to reach a shared store.
#[derive(Debug, Clone)]
pub struct SharedStoreConfig {
    /// Redis or Postgres.
    pub kind: StoreKind,
    /// `ConnectionString`.
    pub connection_string: ConnectionString,
    /// `KeyPrefix` (Redis) or `Schema` (PostgreSQL): where this app's entries live.
    pub namespace: String,
    /// `TimeoutMilliseconds`: longest one store call may take.
    pub timeout: Duration,
}

/// How to open the token cache ([`crate::open_token_cache`]).
#[derive(Debug, Clone)]
pub struct TokenCacheSettings {
    /// Partitions the memory store holds at most; least recently used go first.
    pub max_partitions: u64,
    /// A partition unused this long is dropped (memory), or its shared entry expires.
    pub sliding_expiration: Duration,
    /// The shared store (L2) and where it is; `None`: memory only.
    pub shared: Option<SharedStoreConfig>,
    /// Partitions the in-memory L1 in front of a shared store holds.
    pub l1_max_partitions: u64,
    /// Longest an L1 copy is used without asking the shared store.
    pub l1_expiration: Duration,
    /// The first encrypts shared entries, all decrypt; required with a shared store.
    pub encryption_keys: Option<Arc<KeyRing>>,
}

/// How to open the session store ([`crate::open_session_store`]).
#[derive(Debug, Clone)]
pub struct SessionStoreSettings {
    /// Sessions the memory store holds at most (oldest unused go first).
    pub max_sessions: u64,
    /// Bytes the memory store's sessions take at most, as their records weigh.
    pub max_bytes: u64,
    /// The shared store and where it is; `None`: memory.
    pub shared: Option<SharedStoreConfig>,
    /// Sessions the in-memory L1 in front of a shared store holds (0: no L1,
    /// every request reads the shared store).
    pub l1_max_sessions: u64,
    /// Longest an L1 copy is used without reading the shared store (the
    /// bound on staleness should a change notice be lost unnoticed).
    pub l1_expiration: Duration,
}
