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
//! ```
//! use std::time::{Duration, SystemTime};
//!
//! use idweb_stores::token_cache::{CachedAccessToken, TokenPartition};
//! use idweb_stores::{open_token_cache, HomeAccountId, PartitionKey, TokenCacheSettings};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), idweb_stores::StoreError> {
//! let settings = TokenCacheSettings {
//!     max_partitions: 100_000,
//!     sliding_expiration: Duration::from_secs(24 * 3600),
//!     shared: None, // memory only; a SharedStoreConfig names Redis or PostgreSQL
//!     l1_max_partitions: 10_000,
//!     l1_expiration: Duration::from_secs(120),
//!     encryption_keys: None,
//! };
//! let tokens = open_token_cache(&settings).await?;
//! let adele = PartitionKey::User(HomeAccountId::new("oid", "tid"));
//! let mut partition = TokenPartition::default();
//! partition.put_access_token(CachedAccessToken {
//!     token: openidconnect::AccessToken::new("never printed".into()),
//!     scopes: ["user.read".to_owned()].into(),
//!     expires_at: SystemTime::now() + Duration::from_secs(3600),
//!     refresh_on: None,
//!     tenant: None,
//! });
//! // Writes name the version they read (none: a new partition); a stale writer loses.
//! tokens.save(&adele, &partition, None).await?;
//! assert!(tokens.load(&adele).await?.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! Redis (`redis` feature) and PostgreSQL (`postgres` feature) are the
//! shared stores; without them the crate links neither client library.
//! The crate depends on no other idweb crate: the engine (`idweb-identity`)
//! reads the settings from `appsettings.json` and builds on these stores.
#![deny(missing_docs)]

mod account;
pub mod changes;
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
