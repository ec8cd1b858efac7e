//! The `TokenCache` and `Session` sections: which store keeps tokens and
//! sessions, how to reach it, and how entries are encrypted.

use std::sync::Arc;
use std::time::Duration;

use super::raw::{EncryptionKeyEntry, SessionSection, StoreKeys, TokenCacheSection};
use super::values::{count, flag, positive, required, text};
use super::ConfigError;
use idweb_stores::settings::{ConnectionString, SessionStoreSettings, SharedStoreConfig, StoreKind, TokenCacheSettings};
use idweb_stores::token_cache::encryption::{EncryptionKey, KeyRing};

/// The `TokenCache` section.
#[derive(Debug, Clone)]
pub struct TokenCacheConfig {
    /// The store, as `idweb-stores` opens it: `MaxPartitions` (memory store,
    /// least recently used go first), `SlidingExpirationMinutes` (an unused
    /// partition is dropped, or its shared entry expires), `Store` and where
    /// it is (`None`: memory only), `L1MaxPartitions`, `L1ExpirationSeconds`
    /// and `EncryptionKeys` (the first encrypts shared entries, all decrypt).
    pub store: TokenCacheSettings,
    /// `RefreshMarginSeconds`: access tokens are renewed this long before they expire.
    pub refresh_margin: Duration,
}

/// Defaults of the shared stores.
const DEFAULT_REDIS_PREFIX: &str = "idweb:";
const DEFAULT_SCHEMA: &str = "idweb";
const DEFAULT_TIMEOUT_MS: u32 = 1000;

impl TokenCacheConfig {
    pub(super) fn from_section(section: &TokenCacheSection) -> Result<Self, ConfigError> {
        let shared = shared_store(&section.store, "TokenCache", None)?;
        let encryption_keys = key_ring(section.encryption_keys.as_deref())?;
        if shared.is_some() && encryption_keys.is_none() {
            return Err(ConfigError::Required {
                key: "TokenCache:EncryptionKeys".into(),
                because: "a Redis or Postgres token cache keeps only encrypted entries; add { \"Id\": \"1\", \"Key\": \"<base64 of 32 random bytes, e.g. openssl rand -base64 32>\" }".into(),
            });
        }
        Ok(Self {
            store: TokenCacheSettings {
                max_partitions: u64::from(positive(&section.max_partitions, "TokenCache:MaxPartitions", 100_000)?),
                sliding_expiration: Duration::from_secs(
                    60 * u64::from(positive(&section.sliding_expiration_minutes, "TokenCache:SlidingExpirationMinutes", 24 * 60)?),
                ),
                shared,
                l1_max_partitions: u64::from(positive(&section.l1_max_partitions, "TokenCache:L1MaxPartitions", 10_000)?),
                l1_expiration: Duration::from_secs(u64::from(positive(&section.l1_expiration_seconds, "TokenCache:L1ExpirationSeconds", 120)?)),
                encryption_keys,
            },
            refresh_margin: Duration::from_secs(u64::from(positive(&section.refresh_margin_seconds, "TokenCache:RefreshMarginSeconds", 300)?)),
        })
    }
}

/// The `Session` section.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `CookieName`; `__Host-` prefixed by default (requires `Secure`).
    pub cookie_name: String,
    /// `SecureCookie`: false only for plain-http development on loopback.
    pub secure_cookie: bool,
    /// `IdleTimeoutMinutes`: the session ends after this long without a request.
    pub idle_timeout_minutes: u32,
    /// `AbsoluteTimeoutMinutes`: a signed-in session ends this long after
    /// sign-in, however active (SES-02).
    pub absolute_timeout: Duration,
    /// The store, as `idweb-stores` opens it: `MaxSessions` (memory store,
    /// oldest unused go first), `MaxMegabytes` (what the memory store's
    /// records weigh at most, default 256 MB), `Store` and where it is
    /// (`None`: memory), and the L1 in front of a shared store
    /// (`L1MaxSessions`, 0 for none; `L1ExpirationSeconds`).
    pub store: SessionStoreSettings,
}

impl SessionConfig {
    pub(super) fn from_section(section: &SessionSection, token_cache: &TokenCacheConfig) -> Result<Self, ConfigError> {
        let secure_cookie = flag(&section.secure_cookie, true);
        let default_cookie_name = if secure_cookie { "__Host-idweb" } else { "idweb" };
        let cookie_name = text(&section.cookie_name).unwrap_or(default_cookie_name).to_owned();
        if cookie_name.starts_with("__Host-") && !secure_cookie {
            return Err(ConfigError::Invalid {
                key: "Session:CookieName".into(),
                reason: "a __Host- cookie must be Secure; set Session:SecureCookie to true or drop the prefix".into(),
            });
        }
        let shared = shared_store(&section.store, "Session", token_cache.store.shared.as_ref())?;
        if shared.is_some() && token_cache.store.encryption_keys.is_none() {
            // Sign-ins in flight are sealed in cookies with these keys (SES-04):
            // the instance a callback reaches must open what another sealed.
            return Err(ConfigError::Missing { key: "TokenCache:EncryptionKeys".into() });
        }
        Ok(Self {
            cookie_name,
            secure_cookie,
            idle_timeout_minutes: positive(&section.idle_timeout_minutes, "Session:IdleTimeoutMinutes", 60)?,
            absolute_timeout: Duration::from_secs(60 * u64::from(positive(&section.absolute_timeout_minutes, "Session:AbsoluteTimeoutMinutes", 12 * 60)?)),
            store: SessionStoreSettings {
                max_sessions: u64::from(positive(&section.max_sessions, "Session:MaxSessions", 100_000)?),
                max_bytes: u64::from(positive(&section.max_megabytes, "Session:MaxMegabytes", 256)?) * 1024 * 1024,
                // The same engine as the token cache needs no second connection string.
                shared,
                l1_max_sessions: u64::from(count(&section.l1_max_sessions, "Session:L1MaxSessions", 10_000)?),
                l1_expiration: Duration::from_secs(u64::from(positive(&section.l1_expiration_seconds, "Session:L1ExpirationSeconds", 60)?)),
            },
        })
    }
}

/// `{section}:Store` and its connection; `fallback` lends a connection
/// string to a section that names the same engine without one.
fn shared_store(keys: &StoreKeys, section: &str, fallback: Option<&SharedStoreConfig>) -> Result<Option<SharedStoreConfig>, ConfigError> {
    let key = |name: &str| format!("{section}:{name}");
    let Some(kind) = store_kind(&keys.store, &key("Store"))? else {
        return Ok(None);
    };
    let connection_string = match text(&keys.connection_string) {
        Some(text) => text.to_owned(),
        None => match fallback.filter(|other| other.kind == kind) {
            Some(other) => other.connection_string.expose().to_owned(),
            None => required(&keys.connection_string, &key("ConnectionString"))?.to_owned(),
        },
    };
    let schemes: &[&str] = match kind {
        StoreKind::Redis => &["redis://", "rediss://", "redis-cluster://", "rediss-cluster://", "redis-sentinel://", "rediss-sentinel://"],
        StoreKind::Postgres => &["postgres://", "postgresql://"],
    };
    if !schemes.iter().any(|scheme| connection_string.starts_with(scheme)) {
        return Err(ConfigError::Invalid { key: key("ConnectionString"), reason: format!("expected a URL starting with {}", schemes.join(" or ")) });
    }
    let namespace = match kind {
        StoreKind::Redis => text(&keys.key_prefix).unwrap_or(DEFAULT_REDIS_PREFIX).to_owned(),
        StoreKind::Postgres => {
            let schema = text(&keys.schema).unwrap_or(DEFAULT_SCHEMA).to_owned();
            // 40 leaves room for the `_token_cache` notice channel within PostgreSQL's 63-byte names.
            let identifier = schema.len() <= 40
                && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !identifier {
                return Err(ConfigError::Invalid { key: key("Schema"), reason: "expected a lower-case SQL identifier of at most 40 characters, such as idweb".into() });
            }
            schema
        }
    };
    Ok(Some(SharedStoreConfig {
        kind,
        connection_string: ConnectionString::new(connection_string),
        namespace,
        timeout: Duration::from_millis(u64::from(positive(&keys.timeout_milliseconds, &key("TimeoutMilliseconds"), DEFAULT_TIMEOUT_MS)?)),
    }))
}

/// `TokenCache:EncryptionKeys`: `[{ "Id": "...", "Key": "<base64>" }, ...]`.
fn key_ring(entries: Option<&[EncryptionKeyEntry]>) -> Result<Option<Arc<KeyRing>>, ConfigError> {
    const KEYS: &str = "TokenCache:EncryptionKeys";
    let Some(entries) = entries.filter(|entries| !entries.is_empty()) else {
        return Ok(None);
    };
    let keys = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let id = required(&entry.id, &format!("{KEYS}:{index}:Id"))?;
            let key = required(&entry.key, &format!("{KEYS}:{index}:Key"))?;
            EncryptionKey::from_base64(id, key).map_err(|error| ConfigError::Invalid { key: format!("{KEYS}:{index}"), reason: error.to_string() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    KeyRing::new(keys).map(|ring| Some(Arc::new(ring))).map_err(|error| ConfigError::Invalid { key: KEYS.into(), reason: error.to_string() })
}

/// `{key}` read as a shared engine; `None` for `Memory` or no value.
fn store_kind(value: &Option<String>, key: &str) -> Result<Option<StoreKind>, ConfigError> {
    match text(value).map(str::to_ascii_lowercase).as_deref() {
        None | Some("memory") => Ok(None),
        Some("redis") => Ok(Some(StoreKind::Redis)),
        Some("postgres" | "postgresql") => Ok(Some(StoreKind::Postgres)),
        Some(_) => Err(ConfigError::Invalid { key: key.into(), reason: "expected Memory, Redis or Postgres".into() }),
    }
}
