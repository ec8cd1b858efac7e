//! Where idweb keeps state on the server: each signed-in user's token cache
//! partition, the records that live beside them (the sign-out index, the
//! replay guard) and sessions.
//!
//! - [`token_cache`]: the [`TokenCacheStore`] trait, [`MemoryTokenCache`]
//!   for one instance, and [`LayeredTokenCache`], a bounded memory L1 over
//!   an encrypted shared L2 ([`SharedCacheBackend`]) for several instances
//!   behind a load balancer.
//! - [`sessions`]: [`SessionBackend`], the session store tower-sessions
//!   uses, whose saves never bring an ended session back.
//! - [`open_token_cache`] and [`open_session_store`] open what
//!   [`settings`] describe.
//!
//! Redis (`redis` feature) and PostgreSQL (`postgres` feature) are the
//! shared stores; without them the crate links neither client library.
//! The crate depends on no other idweb crate: the engine (`idweb-identity`)
//! reads the settings from `appsettings.json` and builds on these stores.
#![deny(missing_docs)]

mod account;
mod error;
mod open;
pub mod outage;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
pub mod sessions;
pub mod settings;
pub mod telemetry;
pub mod token_cache;

pub use account::HomeAccountId;
pub use error::{StoreError, StoreFailure};
pub use open::{open_session_store, open_token_cache};
pub use sessions::{BoundedMemorySessionStore, SessionBackend};
pub use settings::{SessionStoreSettings, SharedStoreConfig, StoreKind, TokenCacheSettings};
pub use token_cache::{LayeredTokenCache, MemoryTokenCache, PartitionKey, SharedCacheBackend, TokenCacheStore};
