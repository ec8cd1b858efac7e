//! Typed configuration in Microsoft's `appsettings.json` schema.
//!
//! Layers, later wins: `appsettings.json`, `appsettings.{Environment}.json`,
//! then environment variables with `__` as the section separator
//! (`AzureAd__ClientSecret`). Keys match case-insensitively, as in .NET.
//! Every missing or malformed key stops start-up with an error naming it.

mod layers;
#[cfg(test)]
mod tests;

use std::path::Path;

use openidconnect::ClientSecret;
use serde_json::Value;
use url::Url;

pub use layers::{apply_env_overrides, merge_json};

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
    /// The `Hosting` section: how the app is reached from the browser.
    pub hosting: HostingConfig,
    /// The `Session` section: session cookie and lifetimes.
    pub session: SessionConfig,
}

/// The `AzureAd` section (Microsoft.Identity.Web's names).
#[derive(Debug, Clone)]
pub struct AzureAdConfig {
    /// `Instance`: the authority host, e.g. `https://login.microsoftonline.com/`.
    pub instance: Url,
    /// `TenantId`: a tenant GUID or domain.
    pub tenant_id: String,
    /// `ClientId`: the application (client) id of the app registration.
    pub client_id: String,
    /// `ClientSecret`: the confidential client credential (never logged).
    pub client_secret: ClientSecret,
    /// `CallbackPath`: where the provider sends the authorization response.
    pub callback_path: String,
    /// `SignedOutCallbackPath`: where the provider returns after sign-out.
    pub signed_out_callback_path: String,
}

impl AzureAdConfig {
    /// The v2.0 authority (and expected issuer for a single-tenant app).
    pub fn authority(&self) -> String {
        format!(
            "{}/{}/v2.0",
            self.instance.as_str().trim_end_matches('/'),
            self.tenant_id
        )
    }
}

/// A downstream web API section (`BaseUrl`, `Scopes`).
#[derive(Debug, Clone)]
pub struct DownstreamApiConfig {
    /// `BaseUrl`, without a trailing slash.
    pub base_url: Url,
    /// `Scopes` the API needs (array, or one space-separated string).
    pub scopes: Vec<String>,
}

/// The `Hosting` section.
#[derive(Debug, Clone)]
pub struct HostingConfig {
    /// `PublicUrl`: the origin browsers use to reach the app; redirect URIs are built from it.
    pub public_url: Url,
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
        Self::from_json(&tree)
    }

    /// Builds the typed configuration from an already merged settings tree.
    pub fn from_json(tree: &Value) -> Result<Self, ConfigError> {
        let azure_ad = AzureAdConfig {
            instance: required_url(tree, "AzureAd:Instance")?,
            tenant_id: required_token(tree, "AzureAd:TenantId")?,
            client_id: required_token(tree, "AzureAd:ClientId")?,
            client_secret: ClientSecret::new(required_string(tree, "AzureAd:ClientSecret")?),
            callback_path: optional_path(tree, "AzureAd:CallbackPath", "/signin-oidc")?,
            signed_out_callback_path: optional_path(
                tree,
                "AzureAd:SignedOutCallbackPath",
                "/signout-callback-oidc",
            )?,
        };
        let graph = DownstreamApiConfig {
            base_url: required_url(tree, "Graph:BaseUrl")?,
            scopes: required_scopes(tree, "Graph:Scopes")?,
        };
        let hosting = HostingConfig {
            public_url: required_url(tree, "Hosting:PublicUrl")?,
        };
        let secure_cookie = optional_bool(tree, "Session:SecureCookie", true)?;
        let default_cookie_name = if secure_cookie { "__Host-idweb" } else { "idweb" };
        let cookie_name = optional_string(tree, "Session:CookieName")
            .unwrap_or_else(|| default_cookie_name.to_owned());
        if cookie_name.starts_with("__Host-") && !secure_cookie {
            return Err(ConfigError::Invalid {
                key: "Session:CookieName".into(),
                reason: "a __Host- cookie must be Secure; set Session:SecureCookie to true or drop the prefix".into(),
            });
        }
        let session = SessionConfig {
            cookie_name,
            secure_cookie,
            idle_timeout_minutes: optional_u32(tree, "Session:IdleTimeoutMinutes", 60)?,
        };
        Ok(Self { azure_ad, graph, hosting, session })
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
    serde_json::from_str(&text).map(Some).map_err(|error| ConfigError::File {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

/// Finds `Section:Key` in the tree, matching each segment case-insensitively.
fn lookup<'a>(tree: &'a Value, key: &str) -> Option<&'a Value> {
    key.split(':').try_fold(tree, |node, segment| {
        node.as_object()?
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(segment))
            .map(|(_, value)| value)
    })
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
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
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
