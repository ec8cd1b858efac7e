//! Typed configuration in Microsoft's `appsettings.json` schema.
//!
//! Layers, later wins: `appsettings.json`, `appsettings.{Environment}.json`,
//! then environment variables with `__` as the section separator
//! (`AzureAd__ClientSecret`). Keys match case-insensitively, as in .NET.
//! Every missing or malformed key stops start-up with an error naming it.

mod credentials;
pub mod jsonc;
mod layers;
mod stores;
#[cfg(test)]
mod tests;

use std::path::Path;

use std::collections::BTreeMap;

use crate::credentials::CredentialDescription;
use serde_json::Value;
use url::Url;

pub use layers::{apply_env_overrides, merge_json};
pub use stores::{ConnectionString, SessionConfig, SharedStoreConfig, StoreKind, TokenCacheConfig};

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
        }
        Self::from_json(&tree)
    }

    /// Builds the typed configuration from an already merged settings tree.
    pub fn from_json(tree: &Value) -> Result<Self, ConfigError> {
        let profile = provider_profile(tree)?;
        let (instance, tenant_id, generic_authority) = match profile {
            ProviderProfile::Microsoft => {
                let (instance, tenant_id) = microsoft_authority(tree)?;
                (instance, tenant_id, None)
            }
            ProviderProfile::Generic => {
                let authority = required_url(tree, "AzureAd:Authority")?;
                let origin = Url::parse(&authority.origin().ascii_serialization())
                    .map_err(|error| ConfigError::Invalid { key: "AzureAd:Authority".into(), reason: error.to_string() })?;
                (origin, String::new(), Some(authority))
            }
        };
        let azure_ad = AzureAdConfig {
            profile,
            generic_authority,
            instance,
            tenant_id,
            client_id: required_token(tree, "AzureAd:ClientId")?,
            credentials: credentials::client_credentials(tree, dir_of(tree))?,
            send_x5c: optional_bool(tree, "AzureAd:SendX5C", false)?,
            callback_path: optional_path(tree, "AzureAd:CallbackPath", "/signin-oidc")?,
            signed_out_callback_path: optional_path(
                tree,
                "AzureAd:SignedOutCallbackPath",
                "/signout-callback-oidc",
            )?,
            remote_sign_out_path: optional_path(tree, "AzureAd:RemoteSignOutPath", "/signout-oidc")?,
            back_channel_logout_path: optional_path(tree, "AzureAd:BackChannelLogoutPath", "/backchannel-logout")?,
            client_capabilities: optional_list(tree, "AzureAd:ClientCapabilities")?,
            clock_skew: std::time::Duration::from_secs(u64::from(optional_count(tree, "AzureAd:ClockSkewSeconds", 300)?)),
            id_token_signing_algorithms: signing_algorithms(tree)?,
            allowed_tenants: optional_list(tree, "AzureAd:AllowedTenants")?,
        };
        let graph_section = graph_section(tree)?;
        let graph = downstream_api(tree, graph_section)?;
        let downstream_apis = match lookup(tree, "DownstreamApis") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(apis)) => apis
                .keys()
                // The entry that is Graph is Graph, not a second API of the same name.
                .filter(|name| !format!("DownstreamApis:{name}").eq_ignore_ascii_case(graph_section))
                .map(|name| Ok((name.clone(), downstream_api(tree, &format!("DownstreamApis:{name}"))?)))
                .collect::<Result<_, ConfigError>>()?,
            Some(_) => return Err(ConfigError::Invalid { key: "DownstreamApis".into(), reason: "expected an object of named APIs".into() }),
        };
        let hosting = HostingConfig {
            public_url: required_url(tree, "Hosting:PublicUrl")?,
            metrics_address: optional_string(tree, "Hosting:MetricsAddress")
                .map(|text| {
                    text.parse().map_err(|_| ConfigError::Invalid {
                        key: "Hosting:MetricsAddress".into(),
                        reason: "expected an address and port such as 127.0.0.1:9464".into(),
                    })
                })
                .transpose()?,
        };
        let http = HttpConfig {
            trusted_ca_files: optional_list(tree, "Http:TrustedCaFiles")?.into_iter().map(|file| dir_of(tree).join(file)).collect(),
        };
        let token_cache = TokenCacheConfig::from_tree(tree)?;
        let session = SessionConfig::from_tree(tree, &token_cache)?;
        Ok(Self { azure_ad, graph, downstream_apis, hosting, http, session, token_cache })
    }
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

/// Finds `Section:Key` in the tree, matching each segment case-insensitively;
/// a number indexes an array (`ClientCredentials:0:SourceType`).
fn lookup<'a>(tree: &'a Value, key: &str) -> Option<&'a Value> {
    key.split(':').try_fold(tree, |node, segment| match node {
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => node
            .as_object()?
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(segment))
            .map(|(_, value)| value),
    })
}

/// Where Microsoft Graph is described: `Graph`, or the section names
/// Microsoft's documentation uses (`GraphBeta`, `MicrosoftGraph`,
/// `DownstreamApis:MicrosoftGraph`). Two at once is an error naming both;
/// none falls back to `Graph` (whose missing keys are then named).
const GRAPH_SECTIONS: [&str; 4] = ["Graph", "GraphBeta", "MicrosoftGraph", "DownstreamApis:MicrosoftGraph"];

fn graph_section(tree: &Value) -> Result<&'static str, ConfigError> {
    let present: Vec<&'static str> =
        GRAPH_SECTIONS.into_iter().filter(|section| matches!(lookup(tree, section), Some(Value::Object(_)))).collect();
    match present.as_slice() {
        [] => Ok(GRAPH_SECTIONS[0]),
        [one] => Ok(one),
        [first, second, ..] => Err(ConfigError::Invalid {
            key: (*second).into(),
            reason: format!("{first} and {second} both describe Microsoft Graph; keep one"),
        }),
    }
}

/// The Microsoft identity platform's worldwide instance, when none is configured.
const DEFAULT_INSTANCE: &str = "https://login.microsoftonline.com/";

/// The instance and tenant: from `Instance` (default the worldwide cloud)
/// and `TenantId`, or from Microsoft.Identity.Web's `Authority`
/// (`https://login.microsoftonline.com/{tenant}/v2.0`). Both at once must
/// agree: which one was meant is not guessed.
fn microsoft_authority(tree: &Value) -> Result<(Url, String), ConfigError> {
    const AUTHORITY: &str = "AzureAd:Authority";
    let instance_setting = match optional_string(tree, "AzureAd:Instance") {
        Some(_) => Some(required_url(tree, "AzureAd:Instance")?),
        None => None,
    };
    let tenant_setting = match optional_string(tree, "AzureAd:TenantId") {
        Some(_) => Some(required_token(tree, "AzureAd:TenantId")?),
        None => None,
    };
    if optional_string(tree, AUTHORITY).is_none() {
        let instance = match instance_setting {
            Some(instance) => instance,
            None => Url::parse(DEFAULT_INSTANCE).map_err(|error| ConfigError::Invalid { key: "AzureAd:Instance".into(), reason: error.to_string() })?,
        };
        return Ok((instance, tenant_setting.ok_or_else(|| ConfigError::Missing { key: "AzureAd:TenantId".into() })?));
    }
    let authority = required_url(tree, AUTHORITY)?;
    let mut segments: Vec<&str> = authority.path_segments().map(|parts| parts.filter(|part| !part.is_empty()).collect()).unwrap_or_default();
    if segments.last().is_some_and(|last| last.eq_ignore_ascii_case("v2.0")) {
        segments.pop();
    }
    let invalid = |reason: String| ConfigError::Invalid { key: AUTHORITY.into(), reason };
    let tenant = segments.pop().ok_or_else(|| invalid("expected https://{instance}/{tenant}/v2.0".into()))?.to_owned();
    if !tenant.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        return Err(invalid(format!("{tenant:?} is not a tenant id or domain")));
    }
    let prefix: String = segments.iter().map(|part| format!("{part}/")).collect();
    let instance = Url::parse(&format!("{}/{prefix}", authority.origin().ascii_serialization())).map_err(|error| invalid(error.to_string()))?;
    let same_instance = instance_setting.as_ref().is_none_or(|configured| configured.as_str().trim_end_matches('/') == instance.as_str().trim_end_matches('/'));
    let same_tenant = tenant_setting.as_ref().is_none_or(|configured| configured.eq_ignore_ascii_case(&tenant));
    if !(same_instance && same_tenant) {
        return Err(invalid(format!(
            "it names {instance} and tenant {tenant}, but AzureAd:Instance and AzureAd:TenantId say {} and {}; they conflict, so keep Authority or Instance and TenantId",
            instance_setting.map(|url| url.to_string()).unwrap_or_else(|| "the same instance".into()),
            tenant_setting.unwrap_or_else(|| "the same tenant".into()),
        )));
    }
    Ok((instance, tenant))
}

/// `AzureAd:ProviderProfile`: `Microsoft` (default) or `Generic`.
fn provider_profile(tree: &Value) -> Result<ProviderProfile, ConfigError> {
    const KEY: &str = "AzureAd:ProviderProfile";
    match optional_string(tree, KEY).map(|text| text.to_ascii_lowercase()).as_deref() {
        None | Some("microsoft") => Ok(ProviderProfile::Microsoft),
        Some("generic") => Ok(ProviderProfile::Generic),
        Some(_) => Err(ConfigError::Invalid { key: KEY.into(), reason: "expected Microsoft or Generic".into() }),
    }
}

fn optional_string(tree: &Value, key: &str) -> Option<String> {
    match lookup(tree, key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => None,
    }
}

fn required_string(tree: &Value, key: &str) -> Result<String, ConfigError> {
    match lookup(tree, key) {
        None | Some(Value::Null) => Err(ConfigError::Missing { key: key.into() }),
        Some(Value::String(text)) if text.trim().is_empty() => Err(ConfigError::Missing { key: key.into() }),
        Some(Value::String(text)) => Ok(text.trim().to_owned()),
        Some(_) => Err(ConfigError::Invalid { key: key.into(), reason: "expected a string".into() }),
    }
}

/// A single identifier-like value (GUID, domain): no spaces or slashes.
fn required_token(tree: &Value, key: &str) -> Result<String, ConfigError> {
    let value = required_string(tree, key)?;
    if value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            key: key.into(),
            reason: "only letters, digits, '-', '.' and '_' are allowed".into(),
        })
    }
}

fn required_url(tree: &Value, key: &str) -> Result<Url, ConfigError> {
    let text = required_string(tree, key)?;
    let url = Url::parse(&text)
        .map_err(|error| ConfigError::Invalid { key: key.into(), reason: error.to_string() })?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(ConfigError::Invalid { key: key.into(), reason: "expected an absolute http(s) URL".into() });
    }
    Ok(url)
}

fn optional_path(tree: &Value, key: &str, default: &str) -> Result<String, ConfigError> {
    let path = optional_string(tree, key).unwrap_or_else(|| default.to_owned());
    if path.starts_with('/') && !path.starts_with("//") && !path.contains(['?', '#', '\\']) {
        Ok(path)
    } else {
        Err(ConfigError::Invalid { key: key.into(), reason: "expected a path such as /signin-oidc".into() })
    }
}

fn required_scopes(tree: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    let scopes: Vec<String> = match lookup(tree, key) {
        None | Some(Value::Null) => return Err(ConfigError::Missing { key: key.into() }),
        // Space- or comma-separated, as Microsoft.Identity.Web's samples write them.
        Some(Value::String(text)) => text.split(|c: char| c.is_whitespace() || c == ',').filter(|scope| !scope.is_empty()).map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(|scope| scope.trim().to_owned()).ok_or_else(|| ConfigError::Invalid {
                    key: key.into(),
                    reason: "every scope must be a string".into(),
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ConfigError::Invalid { key: key.into(), reason: "expected an array of scopes".into() })
        }
    };
    if scopes.is_empty() || scopes.iter().any(|scope| scope.is_empty() || scope.contains(char::is_whitespace)) {
        return Err(ConfigError::Invalid { key: key.into(), reason: "expected one or more non-empty scopes".into() });
    }
    Ok(scopes)
}

/// A downstream API section at `prefix` (`Graph`, `DownstreamApis:TodoList`).
fn downstream_api(tree: &Value, prefix: &str) -> Result<DownstreamApiConfig, ConfigError> {
    let key = |name: &str| format!("{prefix}:{name}");
    let method_text = optional_string(tree, &key("HttpMethod")).unwrap_or_else(|| "GET".into());
    let http_method = reqwest::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes())
        .map_err(|_| ConfigError::Invalid { key: key("HttpMethod"), reason: format!("{method_text:?} is not an HTTP method") })?;
    Ok(DownstreamApiConfig {
        base_url: required_url(tree, &key("BaseUrl"))?,
        scopes: required_scopes(tree, &key("Scopes"))?,
        relative_path: optional_string(tree, &key("RelativePath")).unwrap_or_default(),
        http_method,
        request_app_token: optional_bool(tree, &key("RequestAppToken"), false)?,
        timeout: std::time::Duration::from_secs(u64::from(optional_u32(tree, &key("TimeoutSeconds"), 20)?)),
        max_retries: optional_count(tree, &key("MaxRetries"), 2)?,
        app_scopes: optional_list(tree, &key("AppScopes"))?,
        retry_writes: optional_bool(tree, &key("RetryWrites"), false)?,
    })
}

/// Asymmetric JWS algorithms: a token signed with one of them proves the
/// provider's key, unlike HMAC (keyed with something the client knows).
const ASYMMETRIC_ALGORITHMS: [&str; 9] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

/// `AzureAd:IdTokenSigningAlgorithms`, default `RS256`.
fn signing_algorithms(tree: &Value) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "AzureAd:IdTokenSigningAlgorithms";
    let listed = optional_list(tree, KEY)?;
    if listed.is_empty() {
        return Ok(vec!["RS256".into()]);
    }
    match listed.iter().find(|alg| !ASYMMETRIC_ALGORITHMS.contains(&alg.as_str())) {
        Some(refused) => Err(ConfigError::Invalid {
            key: KEY.into(),
            reason: format!("{refused:?} is not one of {}", ASYMMETRIC_ALGORITHMS.join(", ")),
        }),
        None => Ok(listed),
    }
}

/// A whole number that may be zero.
fn optional_count(tree: &Value, key: &str, default: u32) -> Result<u32, ConfigError> {
    match lookup(tree, key) {
        Some(Value::Number(number)) if number.as_u64() == Some(0) => Ok(0),
        Some(Value::String(text)) if text.trim() == "0" => Ok(0),
        _ => optional_u32(tree, key, default),
    }
}

fn optional_list(tree: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    match lookup(tree, key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => required_scopes(tree, key),
    }
}

fn optional_bool(tree: &Value, key: &str, default: bool) -> Result<bool, ConfigError> {
    match lookup(tree, key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConfigError::Invalid { key: key.into(), reason: "expected true or false".into() }),
        },
        Some(_) => Err(ConfigError::Invalid { key: key.into(), reason: "expected true or false".into() }),
    }
}

fn optional_u32(tree: &Value, key: &str, default: u32) -> Result<u32, ConfigError> {
    let invalid = || ConfigError::Invalid { key: key.into(), reason: "expected a positive whole number".into() };
    let value = match lookup(tree, key) {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(number)) => number.as_u64().ok_or_else(invalid)?,
        Some(Value::String(text)) => text.trim().parse::<u64>().map_err(|_| invalid())?,
        Some(_) => return Err(invalid()),
    };
    u32::try_from(value).ok().filter(|v| *v > 0).ok_or_else(invalid)
}

/// Relative credential paths are read from the configuration directory,
/// which `load` records in the tree under this key.
const CONFIG_DIR_KEY: &str = "$configDirectory";

fn dir_of(tree: &Value) -> &Path {
    tree.get(CONFIG_DIR_KEY).and_then(Value::as_str).map(Path::new).unwrap_or(Path::new("."))
}
