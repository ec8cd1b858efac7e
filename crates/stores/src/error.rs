//! Why a store could not answer, or could not be opened. A store that is
//! down and an entry that cannot be read are different problems with
//! different cures.

/// Boxed cause of a store failure (the client library's own error).
pub type StoreFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A store failure; the app tells "the store is down, try again shortly"
/// from a bug by the variant ([`StoreError::is_outage`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The settings cannot open a store (a key ring missing for a shared
    /// token cache, a schema name the store refuses).
    #[error("the store cannot be opened as configured: {0}")]
    Misconfigured(String),
    /// The settings name a store this build of idweb-stores leaves out.
    #[error("the settings name a {store} store, but idweb-stores was built without its `{feature}` feature")]
    NotBuiltIn {
        /// `Redis` or `Postgres`.
        store: &'static str,
        /// The cargo feature that brings it in.
        feature: &'static str,
    },
    /// The shared store (Redis, PostgreSQL) did not answer, or answered with an error.
    #[error("the token cache store ({store}) is unavailable")]
    Unavailable {
        /// Which store: `redis`, `postgres`.
        store: &'static str,
        /// What the client library said.
        #[source]
        source: StoreFailure,
    },
    /// The shared store did not answer in time.
    #[error("the token cache store ({store}) did not answer within {timeout:?}")]
    TimedOut {
        /// Which store.
        store: &'static str,
        /// The limit that ran out.
        timeout: std::time::Duration,
    },
    /// An entry was encrypted with a key this instance does not hold: the
    /// key ring differs between instances (see docs/OPERATIONS.md, rotation).
    #[error("a token cache entry is encrypted with key {key_id:?}, which TokenCache:EncryptionKeys on this instance does not hold")]
    UnknownKey {
        /// The key id the entry names.
        key_id: String,
        /// The entry's version (a new sign-in may replace the entry).
        etag: crate::token_cache::Etag,
    },
    /// An entry decrypted but is not a partition this version of idweb reads
    /// (written by a newer or older version during a rolling deploy); kept
    /// for the instances that can read it.
    #[error("a token cache entry could not be decoded ({category} error at line {line}, column {column})")]
    Undecodable {
        /// serde's error category (never the text, which can quote values).
        category: &'static str,
        /// Where in the entry.
        line: usize,
        /// Where in the entry.
        column: usize,
        /// The entry's version (a new sign-in may replace the entry).
        etag: crate::token_cache::Etag,
    },
    /// Encryption refused the entry (too large to seal): a defect.
    #[error("a token cache entry could not be encrypted")]
    Seal,
    /// A partition could not be turned into bytes or back (a defect, never input).
    #[error("a token cache partition could not be encoded")]
    Encoding(#[source] serde_json::Error),
    /// A compare-and-set write lost to other writers every time it was tried.
    #[error("the token cache record {record} kept changing under this write")]
    Contended {
        /// Which record (a kind, never its name).
        record: &'static str,
    },
    /// The store answered something this code does not expect (a defect or a
    /// foreign writer under our key prefix).
    #[error("the token cache store ({store}) answered unexpectedly: {detail}")]
    Protocol {
        /// Which store.
        store: &'static str,
        /// What was unexpected.
        detail: String,
    },
}

impl StoreError {
    /// The shared store `store` failed with `source`.
    pub fn unavailable(store: &'static str, source: impl Into<StoreFailure>) -> Self {
        Self::Unavailable { store, source: source.into() }
    }

    /// Whether this is the shared store being down or slow (an outage, worth
    /// serving from L1 and retrying later), rather than a problem with data or code.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::TimedOut { .. })
    }

    /// The version of an entry that exists but this instance cannot read: a
    /// new grant may overwrite it (compare-and-set on this version).
    pub fn unreadable_entry(&self) -> Option<crate::token_cache::Etag> {
        match self {
            Self::UnknownKey { etag, .. } | Self::Undecodable { etag, .. } => Some(*etag),
            _ => None,
        }
    }
}
