//! Typed configuration in Microsoft's `appsettings.json` schema.
//!
//! Layers, later wins: `appsettings.json`, `appsettings.{Environment}.json`,
//! then environment variables with `__` as the section separator
//! (`AzureAd__ClientSecret`). Keys match case-insensitively, as in .NET.
//! The merged tree is read into the serde types of [`raw`] (which also
//! generate the settings' JSON Schema), then checked and completed in one
//! pass; every missing or malformed key stops start-up with an error naming it.

mod apis;
mod azure_ad;
mod casing;
mod credentials;
pub mod jsonc;
mod layers;
pub mod raw;
mod stores;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::credentials::CredentialDescription;
use serde_json::Value;
use url::Url;

pub use layers::{apply_env_overrides, merge_json};
pub use idweb_stores::settings::{ConnectionString, SharedStoreConfig, StoreKind};
pub use stores::{SessionConfig, TokenCacheConfig};

/// Why configuration could not be loaded; every variant names the key or file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A settings file exists but could not be read or parsed.
    #[error("cannot read configuration file {path}: {reason}")]
    File {
        /// The file that failed.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A required key is absent or empty.
    #[error("configuration key {key} is missing")]
    Missing {
        /// The key, in `Section:Key` form.
        key: String,
    },
    /// A key other settings make necessary is absent.
    #[error("configuration key {key} is missing: {because}")]
    Required {
        /// The key, in `Section:Key` form.
        key: String,
        /// Which setting needs it, and how to fill it.
        because: String,
    },
    /// A key is present but its value is not acceptable.
    #[error("configuration key {key} is invalid: {reason}")]
    Invalid {
        /// The key, in `Section:Key` form.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

/// Everything idweb reads from configuration.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The `AzureAd` section: who we are and which authority we trust.
    pub azure_ad: AzureAdConfig,
    /// The `Graph` section: where Microsoft Graph lives and what we ask of it.
    pub graph: DownstreamApiConfig,
    /// The `DownstreamApis` section: other web APIs, by name (`TodoList`).
    pub downstream_apis: BTreeMap<String, DownstreamApiConfig>,
    /// The `Hosting` section: how the app is reached from the browser.
    pub hosting: HostingConfig,
    /// The `Http` section: trust for outbound calls.
    pub http: HttpConfig,
    /// The `Session` section: session cookie, lifetimes, store.
    pub session: SessionConfig,
    /// The `TokenCache` section: store, size, expiry, refresh margin, encryption keys.
    pub token_cache: TokenCacheConfig,
}

/// Which kind of OpenID provider idweb signs in with (`AzureAd:ProviderProfile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderProfile {
    /// The Microsoft identity platform (default): v2.0 issuers of `Instance`,
    /// `oid` and `tid` required, the configured tenant checked, Graph.
    Microsoft,
    /// Any certified OpenID provider at `AzureAd:Authority`: the issuer must
    /// be the authority itself, users are keyed by `sub`, Microsoft's claims
    /// and issuer shapes are not asked for, and there is no Graph.
    Generic,
}

/// The `AzureAd` section (Microsoft.Identity.Web's names).
#[derive(Debug, Clone)]
pub struct AzureAdConfig {
    /// `ProviderProfile`: `Microsoft` (default) or `Generic`.
    pub profile: ProviderProfile,
    /// `Authority` of a generic provider: its issuer URL, where discovery starts.
    pub generic_authority: Option<Url>,
    /// `Instance`: the authority host, e.g. `https://login.microsoftonline.com/`
    /// (for a generic provider, the authority's origin).
    pub instance: Url,
    /// `TenantId`: a tenant GUID or domain.
    pub tenant_id: String,
    /// `ClientId`: the application (client) id of the app registration.
    pub client_id: String,
    /// The confidential client's credentials, in the order they are tried:
    /// `ClientCredentials`, `ClientCertificates`, `ClientSecret` (never logged).
    pub credentials: Vec<CredentialDescription>,
    /// `SendX5C`: send the certificate with each assertion (subject name and issuer authentication).
    pub send_x5c: bool,
    /// `CallbackPath`: where the provider sends the authorization response.
    pub callback_path: String,
    /// `SignedOutCallbackPath`: where the provider returns after sign-out.
    pub signed_out_callback_path: String,
    /// `RemoteSignOutPath`: the front-channel logout URL to register (OUT-02).
    pub remote_sign_out_path: String,
    /// `BackChannelLogoutPath`: the back-channel logout URL to register (OUT-03).
    pub back_channel_logout_path: String,
    /// `AllowedTenants`: for a multi-tenant app, the tenants whose users may
    /// sign in (empty: any).
    pub allowed_tenants: Vec<String>,
    /// `ClientCapabilities`: what the app can handle, e.g. `cp1` (claims
    /// challenges, for continuous access evaluation); declared on every request.
    pub client_capabilities: Vec<String>,
    /// `ClockSkewSeconds`: how far `iat`, `nbf` and `exp` may be off the
    /// server's clock (default 300).
    pub clock_skew: std::time::Duration,
    /// `IdTokenSigningAlgorithms`: the only algorithms an ID token may be
    /// signed with (default `RS256`, the Microsoft identity platform's),
    /// whatever discovery lists; HMAC and `none` are refused.
    pub id_token_signing_algorithms: Vec<String>,
    /// The origins discovery may name for the endpoints idweb calls (token,
    /// keys, authorize, end-session): the authority's own, plus for a
    /// generic provider those `EndpointOrigins` lists.
    pub endpoint_origins: Vec<url::Origin>,
}

/// Microsoft's tenant aliases for apps that accept users from any tenant.
const MULTI_TENANT_ALIASES: [&str; 2] = ["common", "organizations"];

impl AzureAdConfig {
    /// Whether `TenantId` is `common` or `organizations`: ID tokens then come
    /// from the users' own tenants (IDT-12).
    pub fn is_multi_tenant(&self) -> bool {
        MULTI_TENANT_ALIASES.iter().any(|alias| alias.eq_ignore_ascii_case(&self.tenant_id))
    }

    /// The v2.0 authority (and expected issuer for a single-tenant app); a
    /// generic provider's `Authority` as configured.
    pub fn authority(&self) -> String {
        if let Some(authority) = &self.generic_authority {
            return authority.as_str().trim_end_matches('/').to_owned();
        }
        format!(
            "{}/{}/v2.0",
            self.instance.as_str().trim_end_matches('/'),
            self.tenant_id
        )
    }
}

/// A downstream web API section (Microsoft.Identity.Web's names).
#[derive(Debug, Clone)]
pub struct DownstreamApiConfig {
    /// `BaseUrl`.
    pub base_url: Url,
    /// `Scopes` the API needs (array, or one space-separated string); for an
    /// app token, the `{resource}/.default` scope.
    pub scopes: Vec<String>,
    /// `RelativePath`: appended to `BaseUrl` when a call names no path.
    pub relative_path: String,
    /// `HttpMethod` of calls that name none (`GET` by default).
    pub http_method: reqwest::Method,
    /// `RequestAppToken`: call as the app (client credentials), not for the user.
    pub request_app_token: bool,
    /// `TimeoutSeconds` of one HTTP call.
    pub timeout: std::time::Duration,
    /// `MaxRetries` after a 429 or 503 with `Retry-After` (FLT-02).
    pub max_retries: u32,
    /// `RetryWrites`: the API's POST, PATCH and DELETE calls may be repeated
    /// after a 503 (they are idempotent there). Off by default: a 503 may come
    /// after the write happened, and repeating it could write twice.
    pub retry_writes: bool,
    /// `AppScopes`: the scope of app tokens for this API (`{resource}/.default`);
    /// Graph defaults to the worldwide cloud's, national clouds set their own.
    pub app_scopes: Vec<String>,
}

/// The `Hosting` section.
#[derive(Debug, Clone)]
pub struct HostingConfig {
    /// `PublicUrl`: the origin browsers use to reach the app; redirect URIs are built from it.
    pub public_url: Url,
    /// `MetricsAddress`: where `/metrics` is served, on a listener of its own
    /// so a load balancer forwarding the app's port never exposes it; unset: not served.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// `TrustedProxies`: the reverse proxies (addresses or CIDR ranges)
    /// whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `SignInStartsPerMinute`: sign-ins one client address may start per
    /// minute, in bursts of as many (default 60; 0: no limit) (SES-04).
    pub sign_in_starts_per_minute: u32,
    /// `ShutdownDrainSeconds`: after SIGTERM, how long `/readyz` answers 503
    /// while the listener still accepts, so a load balancer moves traffic
    /// away before connections are refused (default 5).
    pub shutdown_drain: std::time::Duration,
    /// `ShutdownTimeoutSeconds`: how long requests in flight may still run
    /// once the listener has closed (default 20); then the process exits.
    pub shutdown_timeout: std::time::Duration,
}

/// The `Http` section: how idweb's own outbound calls (the provider, Graph,
/// web APIs, Key Vault) trust servers.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// `TrustedCaFiles`: PEM files of certificate authorities trusted besides
    /// the public ones (the emulator's local CA, a corporate proxy's).
    pub trusted_ca_files: Vec<std::path::PathBuf>,
}

impl IdentityConfig {
    /// Loads `appsettings.json` (required), `appsettings.{environment}.json`
    /// (optional) from `dir`, then applies the process environment.
    pub fn load(dir: &Path, environment: Option<&str>) -> Result<Self, ConfigError> {
        Self::from_json(&Self::load_tree(dir, environment)?)
    }

    /// The settings tree [`Self::load`] reads, merged but not yet checked:
    /// for an app's own sections beside the engine's, or for changing a
    /// value before [`Self::from_json`] (keys are as the files spell them).
    pub fn load_tree(dir: &Path, environment: Option<&str>) -> Result<Value, ConfigError> {
        let mut tree = read_json_file(&dir.join("appsettings.json"))?
            .ok_or_else(|| ConfigError::File {
                path: dir.join("appsettings.json").display().to_string(),
                reason: "file not found".into(),
            })?;
        if let Some(environment) = environment.filter(|e| !e.is_empty()) {
            let path = dir.join(format!("appsettings.{environment}.json"));
            if let Some(overlay) = read_json_file(&path)? {
                merge_json(&mut tree, overlay);
            }
        }
        apply_env_overrides(&mut tree, std::env::vars());
        if let Value::Object(map) = &mut tree {
            map.insert(CONFIG_DIR_KEY.into(), Value::String(dir.display().to_string()));
            if let Some(environment) = environment {
                map.insert(ENVIRONMENT_KEY.into(), Value::String(environment.to_owned()));
            }
        }
        Ok(tree)
    }

    /// Builds the typed configuration from an already merged settings tree:
    /// read into the settings types (keys in any case), then checked and
    /// completed in one pass that names the key of anything wrong.
    pub fn from_json(tree: &Value) -> Result<Self, ConfigError> {
        let settings = raw::Settings::read(tree)?;
        let dir = dir_of(tree);
        let azure_ad = azure_ad::azure_ad(&settings.azure_ad, dir, is_development(tree))?;
        let (graph, graph_entry) = apis::graph(&settings)?;
        let downstream_apis = apis::downstream(&settings, graph_entry.as_deref())?;
        let hosting = HostingConfig {
            public_url: values::required_url(&settings.hosting.public_url, "Hosting:PublicUrl", "https://app.example.com/")?,
            metrics_address: values::text(&settings.hosting.metrics_address)
                .map(|text| {
                    text.parse().map_err(|_| ConfigError::Invalid {
                        key: "Hosting:MetricsAddress".into(),
                        reason: "expected an address and port such as 127.0.0.1:9464".into(),
                    })
                })
                .transpose()?,
            trusted_proxies: values::list(&settings.hosting.trusted_proxies, "Hosting:TrustedProxies")?
                .iter()
                .enumerate()
                .map(|(index, text)| {
                    let text = text.trim();
                    text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|_| ConfigError::Invalid {
                        key: format!("Hosting:TrustedProxies:{index}"),
                        reason: "expected an IP address or range such as 10.0.0.5 or 10.0.0.0/16".into(),
                    })
                })
                .collect::<Result<_, _>>()?,
            sign_in_starts_per_minute: values::count(&settings.hosting.sign_in_starts_per_minute, "Hosting:SignInStartsPerMinute", 60)?,
            shutdown_drain: Duration::from_secs(values::count(&settings.hosting.shutdown_drain_seconds, "Hosting:ShutdownDrainSeconds", 5)?.into()),
            shutdown_timeout: Duration::from_secs(values::count(&settings.hosting.shutdown_timeout_seconds, "Hosting:ShutdownTimeoutSeconds", 20)?.into()),
        };
        let http = HttpConfig {
            trusted_ca_files: values::list(&settings.http.trusted_ca_files, "Http:TrustedCaFiles")?.into_iter().map(|file| dir.join(file)).collect(),
        };
        let token_cache = TokenCacheConfig::from_section(&settings.token_cache)?;
        let session = SessionConfig::from_section(&settings.session, &token_cache)?;
        Ok(Self { azure_ad, graph, downstream_apis, hosting, http, session, token_cache })
    }
}

/// The JSON Schema of the settings file, generated from the settings types
/// (`docs/appsettings.schema.json` is this, written by `cargo run -p
/// idweb-identity --example settings_schema`).
pub fn settings_schema() -> Value {
    raw::schema()
}

fn read_json_file(path: &Path) -> Result<Option<Value>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfigError::File { path: path.display().to_string(), reason: error.to_string() })
        }
    };
    // Comments and trailing commas, as ASP.NET Core's JSON configuration accepts them.
    let json = jsonc::strip(&text).map_err(|reason| ConfigError::File { path: path.display().to_string(), reason })?;
    serde_json::from_str(&json).map(Some).map_err(|error| ConfigError::File {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

/// Relative credential paths are read from the configuration directory,
/// which `load` records in the tree under this key.
const CONFIG_DIR_KEY: &str = "$configDirectory";

/// The environment `load` was given (`IDWEB_ENVIRONMENT`), recorded in the tree under this key.
const ENVIRONMENT_KEY: &str = "$environment";

/// Whether the settings are for development (`IDWEB_ENVIRONMENT=Development`),
/// where a provider on plain http off this machine is allowed.
fn is_development(tree: &Value) -> bool {
    tree.get(ENVIRONMENT_KEY).and_then(Value::as_str).is_some_and(|environment| environment.eq_ignore_ascii_case("Development"))
}

fn dir_of(tree: &Value) -> &Path {
    tree.get(CONFIG_DIR_KEY).and_then(Value::as_str).map(Path::new).unwrap_or(Path::new("."))
}
