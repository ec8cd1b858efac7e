//! The settings file as written: serde types for every section idweb reads,
//! in Microsoft.Identity.Web's key names. They generate the JSON Schema
//! editors use (`docs/appsettings.schema.json`) and read the merged settings
//! tree; [`super::IdentityConfig::from_json`] then checks and completes them
//! in one pass. Every leaf is optional here: what is required, and the
//! defaults, are decided by that pass, which names the key.
//!
//! Values are read as ASP.NET Core's configuration holds them: a number or
//! flag may be a string (environment variables are), and a scope list may be
//! one string separated by spaces or commas. These types hold secrets as
//! written, so none of them is `Debug`: the checked configuration redacts.

use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use super::casing;
use super::ConfigError;

/// A whole settings file.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(title = "idweb settings (appsettings.json)")]
pub struct Settings {
    /// This schema, for editors.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Who the app is at the identity provider, and which provider it trusts.
    #[serde(rename = "AzureAd")]
    #[serde(deserialize_with = "null_is_absent")]
    #[schemars(with = "Option<AzureAdSection>")]
    pub azure_ad: AzureAdSection,
    /// Microsoft Graph (or one of `GraphBeta`, `MicrosoftGraph`, `DownstreamApis:MicrosoftGraph`).
    #[serde(rename = "Graph")]
    pub graph: Option<ApiSection>,
    /// Microsoft Graph, under the name Microsoft's beta samples use.
    #[serde(rename = "GraphBeta")]
    pub graph_beta: Option<ApiSection>,
    /// Microsoft Graph, under the name some of Microsoft's samples use.
    #[serde(rename = "MicrosoftGraph")]
    pub microsoft_graph: Option<ApiSection>,
    /// Web APIs the app calls, by name (`TodoList`).
    #[serde(rename = "DownstreamApis")]
    #[serde(deserialize_with = "null_is_absent")]
    #[schemars(with = "Option<BTreeMap<String, ApiSection>>")]
    pub downstream_apis: BTreeMap<String, ApiSection>,
    /// How the app is reached.
    #[serde(rename = "Hosting")]
    #[serde(deserialize_with = "null_is_absent")]
    #[schemars(with = "Option<HostingSection>")]
    pub hosting: HostingSection,
    /// How idweb's own outbound calls trust servers.
    #[serde(rename = "Http")]
    #[serde(deserialize_with = "null_is_absent")]
    #[schemars(with = "Option<HttpSection>")]
    pub http: HttpSection,
    /// The session cookie, its lifetimes and its store.
    #[serde(rename = "Session")]
    #[serde(deserialize_with = "null_is_absent")]
    #[schemars(with = "Option<SessionSection>")]
    pub session: SessionSection,
    /// The token cache: size, lifetimes, store, encryption.
    #[serde(rename = "TokenCache")]
    #[serde(deserialize_with = "null_is_absent")]
    #[schemars(with = "Option<TokenCacheSection>")]
    pub token_cache: TokenCacheSection,
}

/// The `AzureAd` section (Microsoft.Identity.Web's `MicrosoftIdentityOptions`).
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct AzureAdSection {
    /// `Microsoft` (default) or `Generic` (any certified OpenID provider at `Authority`).
    #[serde(rename = "ProviderProfile")]
    pub provider_profile: Option<String>,
    /// `https://login.microsoftonline.com/{tenant}/v2.0` (instead of `Instance` and `TenantId`), or a generic provider's issuer.
    #[serde(rename = "Authority")]
    pub authority: Option<String>,
    /// The cloud's sign-in host, default `https://login.microsoftonline.com/`.
    #[serde(rename = "Instance")]
    pub instance: Option<String>,
    /// A tenant GUID or domain, or `organizations` / `common` for a multi-tenant app.
    #[serde(rename = "TenantId")]
    pub tenant_id: Option<String>,
    /// The application (client) id of the app registration.
    #[serde(rename = "ClientId")]
    pub client_id: Option<String>,
    /// A client secret (keep it in the environment or a secret store).
    #[serde(rename = "ClientSecret")]
    pub client_secret: Option<String>,
    /// Credentials tried in order: the first that loads is used.
    #[serde(rename = "ClientCredentials")]
    pub client_credentials: Option<Vec<CredentialEntry>>,
    /// Certificates (Microsoft.Identity.Web's older key), tried after `ClientCredentials`.
    #[serde(rename = "ClientCertificates")]
    pub client_certificates: Option<Vec<CredentialEntry>>,
    /// Send the certificate with each assertion (subject name and issuer authentication).
    #[serde(rename = "SendX5C")]
    pub send_x5c: Option<Flag>,
    /// Where the provider returns after sign-in, default `/signin-oidc`.
    #[serde(rename = "CallbackPath")]
    pub callback_path: Option<String>,
    /// Where the provider returns after sign-out, default `/signout-callback-oidc`.
    #[serde(rename = "SignedOutCallbackPath")]
    pub signed_out_callback_path: Option<String>,
    /// The front-channel logout URL to register, default `/signout-oidc`.
    #[serde(rename = "RemoteSignOutPath")]
    pub remote_sign_out_path: Option<String>,
    /// The back-channel logout URL to register, default `/backchannel-logout`.
    #[serde(rename = "BackChannelLogoutPath")]
    pub back_channel_logout_path: Option<String>,
    /// For a multi-tenant app: the tenants whose users may sign in (empty: any).
    #[serde(rename = "AllowedTenants")]
    pub allowed_tenants: Option<List>,
    /// What the app handles, e.g. `cp1` (claims challenges).
    #[serde(rename = "ClientCapabilities")]
    pub client_capabilities: Option<List>,
    /// How far token times may be off the server's clock, default 300.
    #[serde(rename = "ClockSkewSeconds")]
    pub clock_skew_seconds: Option<Whole>,
    /// The only algorithms ID tokens may be signed with, default `RS256`.
    #[serde(rename = "IdTokenSigningAlgorithms")]
    pub id_token_signing_algorithms: Option<List>,
    /// A generic provider only: origins (`https://host[:port]`) besides the
    /// authority's where its discovery document may place the token, key,
    /// authorize and end-session endpoints.
    #[serde(rename = "EndpointOrigins")]
    pub endpoint_origins: Option<List>,
}

/// One credential (Microsoft.Identity.Web's `CredentialDescription`).
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CredentialEntry {
    /// `ClientSecret`, `Path`, `Base64Encoded`, `KeyVault`, `SignedAssertionFilePath`,
    /// `SignedAssertionFromManagedIdentity` (or a Windows-only or code-only type, which is skipped).
    #[serde(rename = "SourceType")]
    pub source_type: Option<String>,
    /// `ClientSecret`: the secret.
    #[serde(rename = "ClientSecret")]
    pub client_secret: Option<String>,
    /// `Path`: a PEM certificate with its key, or a `.pfx`/`.p12` file.
    #[serde(rename = "CertificateDiskPath")]
    pub certificate_disk_path: Option<String>,
    /// `Path`: the PEM key, when apart from the certificate.
    #[serde(rename = "KeyDiskPath")]
    pub key_disk_path: Option<String>,
    /// `Path`, `Base64Encoded`: the PKCS#12 password.
    #[serde(rename = "CertificatePassword")]
    pub certificate_password: Option<String>,
    /// `Base64Encoded`: PKCS#12 bytes in base64.
    #[serde(rename = "Base64EncodedValue")]
    pub base64_encoded_value: Option<String>,
    /// `KeyVault`: `https://{vault}.vault.azure.net/`.
    #[serde(rename = "KeyVaultUrl")]
    pub key_vault_url: Option<String>,
    /// `KeyVault`: the certificate's name.
    #[serde(rename = "KeyVaultCertificateName")]
    pub key_vault_certificate_name: Option<String>,
    /// `KeyVault`, `SignedAssertionFromManagedIdentity`: a user-assigned identity's client id.
    #[serde(rename = "ManagedIdentityClientId")]
    pub managed_identity_client_id: Option<String>,
    /// `SignedAssertionFromManagedIdentity`: the audience, default `api://AzureADTokenExchange`.
    #[serde(rename = "TokenExchangeUrl")]
    pub token_exchange_url: Option<String>,
    /// `SignedAssertionFilePath`: the file (default: what `AZURE_FEDERATED_TOKEN_FILE` names).
    #[serde(rename = "SignedAssertionFileDiskPath")]
    pub signed_assertion_file_disk_path: Option<String>,
    /// `StoreWithThumbprint`, `StoreWithDistinguishedName` (Windows only): the store.
    #[serde(rename = "CertificateStorePath")]
    pub certificate_store_path: Option<String>,
    /// `StoreWithThumbprint` (Windows only).
    #[serde(rename = "CertificateThumbprint")]
    pub certificate_thumbprint: Option<String>,
    /// `StoreWithDistinguishedName` (Windows only).
    #[serde(rename = "CertificateDistinguishedName")]
    pub certificate_distinguished_name: Option<String>,
}

/// A web API (Microsoft.Identity.Web's `DownstreamApiOptions`).
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ApiSection {
    /// Where the API lives, e.g. `https://graph.microsoft.com/v1.0`.
    #[serde(rename = "BaseUrl")]
    pub base_url: Option<String>,
    /// Delegated scopes: an array, or one string separated by spaces or commas.
    #[serde(rename = "Scopes")]
    pub scopes: Option<List>,
    /// Appended to `BaseUrl` on each call.
    #[serde(rename = "RelativePath")]
    pub relative_path: Option<String>,
    /// Default `GET`.
    #[serde(rename = "HttpMethod")]
    pub http_method: Option<String>,
    /// Call as the app (client credentials), not for the user.
    #[serde(rename = "RequestAppToken")]
    pub request_app_token: Option<Flag>,
    /// Default 20.
    #[serde(rename = "TimeoutSeconds")]
    pub timeout_seconds: Option<Whole>,
    /// Retries after a 429/503 with `Retry-After`, default 2.
    #[serde(rename = "MaxRetries")]
    pub max_retries: Option<Whole>,
    /// Scopes of app tokens (`{resource}/.default`).
    #[serde(rename = "AppScopes")]
    pub app_scopes: Option<List>,
    /// Whether a 503 may repeat POST, PATCH and DELETE (the API's writes are idempotent).
    #[serde(rename = "RetryWrites")]
    pub retry_writes: Option<Flag>,
}

/// The `Hosting` section.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HostingSection {
    /// The origin people use, e.g. `https://your.host`.
    #[serde(rename = "PublicUrl")]
    pub public_url: Option<String>,
    /// Where `/metrics` is served (address and port); unset: not served.
    #[serde(rename = "MetricsAddress")]
    pub metrics_address: Option<String>,
    /// Addresses of the reverse proxies in front of the app, whose
    /// `X-Forwarded-For` is believed (anyone else's is ignored).
    #[serde(rename = "TrustedProxies")]
    pub trusted_proxies: Option<List>,
    /// Sign-ins one client address may start per minute (default 60; 0: no limit).
    #[serde(rename = "SignInStartsPerMinute")]
    pub sign_in_starts_per_minute: Option<Whole>,
    /// Seconds the listener keeps accepting after SIGTERM while `/readyz`
    /// answers 503, so the load balancer moves traffic away (default 5).
    #[serde(rename = "ShutdownDrainSeconds")]
    pub shutdown_drain_seconds: Option<Whole>,
    /// Seconds requests in flight get to finish once the listener closes (default 20).
    #[serde(rename = "ShutdownTimeoutSeconds")]
    pub shutdown_timeout_seconds: Option<Whole>,
}

/// The `Http` section.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HttpSection {
    /// PEM files of certificate authorities trusted besides the public ones.
    #[serde(rename = "TrustedCaFiles")]
    pub trusted_ca_files: Option<List>,
}

/// Where a section's entries are kept when several instances share them.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct StoreKeys {
    /// `Memory` (default), `Redis` or `Postgres`.
    #[serde(rename = "Store")]
    pub store: Option<String>,
    /// `redis://...`, `rediss://...`, `redis-cluster://...` or `postgres://...`.
    #[serde(rename = "ConnectionString")]
    pub connection_string: Option<String>,
    /// Redis: the key prefix, default `idweb:`.
    #[serde(rename = "KeyPrefix")]
    pub key_prefix: Option<String>,
    /// PostgreSQL: the schema, default `idweb`.
    #[serde(rename = "Schema")]
    pub schema: Option<String>,
    /// Longest one store call may take, default 1000.
    #[serde(rename = "TimeoutMilliseconds")]
    pub timeout_milliseconds: Option<Whole>,
}

/// The `Session` section.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SessionSection {
    /// Default `__Host-idweb` (`idweb` when not `SecureCookie`).
    #[serde(rename = "CookieName")]
    pub cookie_name: Option<String>,
    /// Default true; false only for plain-http development.
    #[serde(rename = "SecureCookie")]
    pub secure_cookie: Option<Flag>,
    /// Default 60.
    #[serde(rename = "IdleTimeoutMinutes")]
    pub idle_timeout_minutes: Option<Whole>,
    /// Default 720.
    #[serde(rename = "AbsoluteTimeoutMinutes")]
    pub absolute_timeout_minutes: Option<Whole>,
    /// Sessions the memory store holds at most, default 100000.
    #[serde(rename = "MaxSessions")]
    pub max_sessions: Option<Whole>,
    /// Memory store only: megabytes its sessions may take at most (default 256).
    #[serde(rename = "MaxMegabytes")]
    pub max_megabytes: Option<Whole>,
    /// Redis or Postgres only: sessions the in-memory L1 in front of the
    /// store holds, default 10000 (0: no L1, every request reads the store).
    #[serde(rename = "L1MaxSessions")]
    pub l1_max_sessions: Option<Whole>,
    /// Redis or Postgres only: longest an L1 copy of a session is used
    /// without reading the store, default 60 (other instances' changes
    /// reach it at once by change notice; this bounds a lost notice).
    #[serde(rename = "L1ExpirationSeconds")]
    pub l1_expiration_seconds: Option<Whole>,
    /// The store.
    #[serde(flatten)]
    pub store: StoreKeys,
}

/// The `TokenCache` section.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TokenCacheSection {
    /// Users kept in memory, default 100000.
    #[serde(rename = "MaxPartitions")]
    pub max_partitions: Option<Whole>,
    /// Default 1440.
    #[serde(rename = "SlidingExpirationMinutes")]
    pub sliding_expiration_minutes: Option<Whole>,
    /// Access tokens are renewed this long before they expire, default 300.
    #[serde(rename = "RefreshMarginSeconds")]
    pub refresh_margin_seconds: Option<Whole>,
    /// Partitions the in-memory L1 in front of a shared store holds, default 10000.
    #[serde(rename = "L1MaxPartitions")]
    pub l1_max_partitions: Option<Whole>,
    /// Longest an L1 copy is used without asking the shared store, default 120.
    #[serde(rename = "L1ExpirationSeconds")]
    pub l1_expiration_seconds: Option<Whole>,
    /// Keys of shared entries: the first encrypts, all decrypt.
    #[serde(rename = "EncryptionKeys")]
    pub encryption_keys: Option<Vec<EncryptionKeyEntry>>,
    /// The store.
    #[serde(flatten)]
    pub store: StoreKeys,
}

/// One token cache encryption key.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EncryptionKeyEntry {
    /// Its id, stored with each entry it seals.
    #[serde(rename = "Id")]
    pub id: Option<String>,
    /// Base64 of 32 random bytes (`openssl rand -base64 32`).
    #[serde(rename = "Key")]
    pub key: Option<String>,
}

/// A section set to `null` is no section, as in .NET configuration.
fn null_is_absent<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A flag: `true`/`false`, or the same as a string.
#[derive(Debug, Clone, Copy)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Bool(flag) => Ok(Self(flag)),
            Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Ok(Self(true)),
            Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Ok(Self(false)),
            _ => Err(de::Error::custom("expected true or false")),
        }
    }
}

impl JsonSchema for Flag {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Flag".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{ "type": "boolean" }, { "type": "string", "enum": ["true", "false", "True", "False"] }] })
    }
}

/// A whole number that may be zero: a number, or digits as a string.
#[derive(Debug, Clone, Copy)]
pub struct Whole(pub u64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = match Value::deserialize(deserializer)? {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.trim().parse::<u64>().ok(),
            _ => None,
        };
        number.map(Self).ok_or_else(|| de::Error::custom("expected a whole number"))
    }
}

impl JsonSchema for Whole {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Whole".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{ "type": "integer", "minimum": 0 }, { "type": "string", "pattern": "^\\s*[0-9]+\\s*$" }] })
    }
}

/// A list of words (scopes, tenant ids, algorithms): an array of strings, or
/// one string separated by spaces or commas, as Microsoft's samples write them.
#[derive(Debug, Clone, Default)]
pub struct List(pub Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self(text.split(|c: char| c.is_whitespace() || c == ',').filter(|item| !item.is_empty()).map(str::to_owned).collect())),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.trim().to_owned()),
                    _ => Err(de::Error::custom("every item must be a string")),
                })
                .collect::<Result<_, _>>()
                .map(Self),
            _ => Err(de::Error::custom("expected an array of strings, or one string separated by spaces or commas")),
        }
    }
}

impl JsonSchema for List {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "List".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{ "type": "array", "items": { "type": "string" } }, { "type": "string" }] })
    }
}

/// The JSON Schema of the settings file (what `docs/appsettings.schema.json` holds).
pub fn schema() -> Value {
    schemars::schema_for!(Settings).to_value()
}

impl Settings {
    /// Reads a merged settings tree: keys in any case are first given the
    /// schema's spelling, then a wrong value is named by its key
    /// (`DownstreamApis:TodoList:TimeoutSeconds`).
    pub fn read(tree: &Value) -> Result<Self, ConfigError> {
        let canonical = casing::canonical(tree);
        serde_path_to_error::deserialize(&canonical).map_err(|error| ConfigError::Invalid {
            key: configuration_key(&error.path().to_string()),
            reason: plain_words(&error.inner().to_string()),
        })
    }
}

/// serde's type words in JSON's ("a sequence" is an array, a struct or map
/// an object), and never the value itself: a misplaced secret is a string
/// too, and the message goes to the log.
fn plain_words(reason: &str) -> String {
    let mut reason = reason.replace("a sequence", "an array").replace("a map", "an object");
    if let Some(start) = reason.find("string \"") {
        if let Some(length) = reason[start..].find("\", expected") {
            reason.replace_range(start..start + length + 1, "a string");
        }
    }
    // serde shows other values between backticks (`integer `5``): dropped too.
    while let Some(start) = reason.find(" `") {
        match reason[start + 2..].find('`') {
            Some(length) => reason.replace_range(start..start + 2 + length + 1, ""),
            None => break,
        }
    }
    match reason.find("expected struct ") {
        Some(at) => format!("{}expected an object", &reason[..at]),
        None => reason,
    }
}

/// serde_path_to_error's `AzureAd.ClientCredentials[0].SourceType` as .NET
/// configuration writes it: `AzureAd:ClientCredentials:0:SourceType`.
fn configuration_key(path: &str) -> String {
    path.replace('.', ":").replace('[', ":").replace(']', "")
}
