//! What the emulator knows: its tenant, app registrations, test users and
//! token lifetimes. Loaded from a JSON file (camelCase keys, all optional).

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::EmulatorError;

/// The emulator's whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// The tenant GUID; it is also the `tid` claim and part of the issuer.
    pub tenant_id: String,
    /// A verified domain of the tenant, accepted in place of the GUID in URLs.
    pub tenant_domain: String,
    /// App registrations that may sign users in.
    pub apps: Vec<AppRegistration>,
    /// Users listed on the sign-in page.
    pub users: Vec<TestUser>,
    /// Web APIs (other than Graph) that expose scopes, like the sample to-do API.
    pub apis: Vec<ApiRegistration>,
    /// Messages each user's Graph mailbox holds (generated, deterministic).
    pub messages_per_user: u32,
    /// Lifetime of access tokens.
    pub access_token_lifetime_secs: u64,
    /// `refresh_in` sent with user access tokens (seconds after which the
    /// client should renew them early); not sent when absent.
    pub access_token_refresh_in_secs: Option<u64>,
    /// Lifetime of ID tokens.
    pub id_token_lifetime_secs: u64,
    /// How long an authorization code can be redeemed (Microsoft: 10 minutes).
    pub code_lifetime_secs: u64,
    /// Lifetime of refresh tokens (Microsoft: 90 days).
    pub refresh_token_lifetime_secs: u64,
    /// What discovery lists as `id_token_signing_alg_values_supported`
    /// (Microsoft: `["RS256"]`); a hostile provider may list `HS256` too.
    pub id_token_signing_alg_values: Vec<String>,
    /// Microsoft Graph's Application ID URI in the cloud the emulator plays
    /// (`https://graph.microsoft.us` for US Government); scopes prefixed with
    /// it (or with the worldwide one) are Graph's.
    pub graph_resource_uri: String,
    /// Managed identities the managed identity endpoint issues tokens to;
    /// the first is the system-assigned one (asked for without a client id).
    pub managed_identities: Vec<ManagedIdentity>,
    /// What the App Service managed identity endpoint expects in
    /// `X-IDENTITY-HEADER` (an app finds it in `IDENTITY_HEADER`); random when absent.
    #[serde(skip_serializing)]
    pub identity_header: Option<ClientSecret>,
    /// The Key Vault served at the emulator's root (`/secrets/{name}`, `/certificates/{name}`).
    pub key_vault: KeyVaultConfig,
}

/// A managed identity: the service principal an Azure resource runs as.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedIdentity {
    /// Its client (application) id, which asks for a user-assigned identity.
    pub client_id: String,
    /// Its object (principal) id: the `oid` and `sub` of its tokens, and the
    /// subject of a federated credential that trusts it.
    pub principal_id: String,
}

/// The emulated Key Vault's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct KeyVaultConfig {
    /// Certificates, each generated (RSA 2048, self-signed) on first use.
    pub certificates: Vec<VaultCertificate>,
    /// Plain secrets.
    #[serde(skip_serializing)]
    pub secrets: Vec<VaultSecret>,
}

/// A Key Vault certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultCertificate {
    /// Its name in the vault (letters, digits and dashes).
    pub name: String,
    /// The client id of the app registration it is a credential of: every
    /// version the vault issues is registered there, and a rotated one removed.
    #[serde(default)]
    pub registered_on: Option<String>,
    /// How its secret holds the key: `application/x-pkcs12` (default, base64
    /// PKCS#12 without a password, as Key Vault exports) or `application/x-pem-file`.
    #[serde(default = "default_certificate_content_type")]
    pub content_type: String,
}

/// Key Vault's content type for a PKCS#12 certificate secret.
pub const PKCS12_CONTENT_TYPE: &str = "application/x-pkcs12";
/// Key Vault's content type for a PEM certificate secret.
pub const PEM_CONTENT_TYPE: &str = "application/x-pem-file";

fn default_certificate_content_type() -> String {
    PKCS12_CONTENT_TYPE.into()
}

/// A Key Vault secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultSecret {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: ClientSecret,
    /// Its content type, if any.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// One app registration (a confidential web client).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRegistration {
    /// Application (client) id.
    pub client_id: String,
    /// Name shown on the sign-in page.
    pub display_name: String,
    /// Accepted client secrets. None by default: secrets never live in the repository.
    #[serde(default, skip_serializing)]
    pub client_secrets: Vec<ClientSecret>,
    /// Exact redirect URIs the app registered.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where the end-session endpoint may send users back to.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Front-channel logout URL, loaded in an iframe when the user signs out.
    #[serde(default)]
    pub front_channel_logout_uri: Option<String>,
    /// Back-channel logout URL (OpenID Connect Back-Channel Logout 1.0): a
    /// logout token is POSTed to it from the server when the user signs out.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Delegated scopes an administrator consented to for every user: no
    /// consent page for them. `User.Read` when absent, as in most tenants.
    #[serde(default = "default_admin_consented_scopes")]
    pub admin_consented_scopes: Vec<String>,
    /// Certificates (PEM text or a path to a PEM file) whose keys may sign
    /// client assertions (`private_key_jwt`).
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Federated identity credentials: assertions from a workload identity
    /// issuer that authenticate the app (workload identity federation).
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
    /// Application permissions (app roles) granted for client credentials,
    /// as `{resource}/{role}` (`https://graph.microsoft.com/User.Read.All`).
    #[serde(default)]
    pub app_permissions: Vec<String>,
}

/// A federated identity credential on an app registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    /// Who signs the assertions it accepts.
    #[serde(default)]
    pub issuer: FederatedIssuer,
    /// The `sub` the assertion must carry (e.g. `system:serviceaccount:idweb:web`).
    pub subject: String,
    /// The `aud` values accepted; Microsoft's exchange audience when absent.
    #[serde(default = "default_federated_audiences")]
    pub audiences: Vec<String>,
}

/// The issuers a federated credential can trust, both played by the emulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FederatedIssuer {
    /// The workload identity issuer (`{base}workload-identity`), like a
    /// Kubernetes cluster's service account issuer.
    #[default]
    WorkloadIdentity,
    /// The tenant itself (`{base}{tenant}/v2.0`): its managed identities'
    /// tokens for `api://AzureADTokenExchange` (a managed identity as the
    /// app's credential); the subject is the identity's principal id.
    Tenant,
}

fn default_federated_audiences() -> Vec<String> {
    vec![FEDERATED_AUDIENCE.into()]
}

/// The audience Microsoft recommends for federated credentials.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

fn default_admin_consented_scopes() -> Vec<String> {
    vec!["User.Read".into()]
}

/// A web API registered in the tenant: tokens can be issued for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiRegistration {
    /// Application id: the `aud` of its access tokens.
    pub app_id: String,
    /// Application ID URI scopes are prefixed with; `api://{appId}` when absent.
    #[serde(default)]
    pub identifier_uri: Option<String>,
    /// Name shown on the consent page.
    pub display_name: String,
    /// Delegated scopes it exposes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// App roles it defines.
    #[serde(default)]
    pub app_roles: Vec<String>,
}

impl ApiRegistration {
    /// The Application ID URI.
    pub fn identifier_uri(&self) -> String {
        self.identifier_uri.clone().unwrap_or_else(|| format!("api://{}", self.app_id))
    }
}

/// A client secret; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret text, for comparison only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl<'de> Deserialize<'de> for ClientSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// A user who can sign in, with the Graph profile `/me` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestUser {
    /// Object id (`oid`), a GUID.
    pub object_id: String,
    /// Display name (`name`).
    pub display_name: String,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub surname: String,
    /// UPN (`preferred_username`).
    pub user_principal_name: String,
    /// Primary email address.
    pub mail: String,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
    /// Office location.
    #[serde(default)]
    pub office_location: Option<String>,
}

/// The tenant every default points at.
pub const DEFAULT_TENANT_ID: &str = "7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10";
/// The client id of the default app registration (idweb in development).
pub const DEFAULT_CLIENT_ID: &str = "5f4b6c2e-8d1a-4e3b-9c7f-1a2b3c4d5e6f";
/// The app id of the sample to-do API.
pub const SAMPLE_API_APP_ID: &str = "c1a9d3b7-6e2f-4d8a-9b5c-3f7e1d2a4b60";
/// The client id of the default (system-assigned) managed identity.
pub const DEFAULT_MANAGED_IDENTITY_CLIENT_ID: &str = "8e5b1f6a-3c2d-4b7e-9a10-6d4c2b1e0f71";
/// The principal (object) id of the default managed identity.
pub const DEFAULT_MANAGED_IDENTITY_PRINCIPAL_ID: &str = "b3f0c6d2-7a18-4e95-8c2b-5d9e1f3a6c42";
/// The Key Vault certificate the default app registration trusts.
pub const DEFAULT_VAULT_CERTIFICATE: &str = "idweb-client";

impl Default for EmulatorConfig {
    fn default() -> Self {
        let user = |object_id: &str, given: &str, surname: &str, alias: &str, title: &str, office: &str| TestUser {
            object_id: object_id.into(),
            display_name: format!("{given} {surname}"),
            given_name: given.into(),
            surname: surname.into(),
            user_principal_name: format!("{alias}@contoso.example"),
            mail: format!("{alias}@contoso.example"),
            job_title: Some(title.into()),
            office_location: Some(office.into()),
        };
        Self {
            tenant_id: DEFAULT_TENANT_ID.into(),
            tenant_domain: "contoso.example".into(),
            apps: vec![AppRegistration {
                client_id: DEFAULT_CLIENT_ID.into(),
                display_name: "idweb (development)".into(),
                client_secrets: Vec::new(),
                redirect_uris: vec![
                    "http://127.0.0.1:3000/signin-oidc".into(),
                    "http://localhost:3000/signin-oidc".into(),
                ],
                post_logout_redirect_uris: vec![
                    "http://127.0.0.1:3000/signout-callback-oidc".into(),
                    "http://localhost:3000/signout-callback-oidc".into(),
                ],
                front_channel_logout_uri: None,
                backchannel_logout_uri: None,
                certificates: Vec::new(),
                // The default managed identity may act as the app (certificateless).
                federated_credentials: vec![FederatedCredential {
                    issuer: FederatedIssuer::Tenant,
                    subject: DEFAULT_MANAGED_IDENTITY_PRINCIPAL_ID.into(),
                    audiences: default_federated_audiences(),
                }],
                admin_consented_scopes: default_admin_consented_scopes(),
                app_permissions: vec![
                    "https://graph.microsoft.com/User.Read.All".into(),
                    format!("api://{SAMPLE_API_APP_ID}/TodoList.Read.All"),
                ],
            }],
            apis: vec![ApiRegistration {
                app_id: SAMPLE_API_APP_ID.into(),
                identifier_uri: None,
                display_name: "idweb sample to-do API".into(),
                scopes: vec!["access_as_user".into()],
                app_roles: vec!["TodoList.Read.All".into()],
            }],
            messages_per_user: 25,
            users: vec![
                user("1d6a9a3e-5f0b-4c1e-8a55-0c7e3b1f2a01", "Adele", "Vance", "AdeleV", "Retail Manager", "18/2111"),
                user("2b7c4e10-9d3f-4a8b-b6c2-5e1d0f9a3b02", "Alex", "Wilber", "AlexW", "Marketing Assistant", "131/1104"),
                user("3c8d5f21-0e4a-4b9c-87d3-6f2e1a0b4c03", "Megan", "Bowen", "MeganB", "Marketing Manager", "12/1110"),
            ],
            access_token_lifetime_secs: 3600,
            access_token_refresh_in_secs: None,
            id_token_lifetime_secs: 3600,
            code_lifetime_secs: 600,
            refresh_token_lifetime_secs: 90 * 24 * 3600,
            id_token_signing_alg_values: vec!["RS256".into()],
            graph_resource_uri: crate::scopes::GRAPH_URI.into(),
            managed_identities: vec![ManagedIdentity {
                client_id: DEFAULT_MANAGED_IDENTITY_CLIENT_ID.into(),
                principal_id: DEFAULT_MANAGED_IDENTITY_PRINCIPAL_ID.into(),
            }],
            identity_header: None,
            key_vault: KeyVaultConfig {
                certificates: vec![VaultCertificate {
                    name: DEFAULT_VAULT_CERTIFICATE.into(),
                    registered_on: Some(DEFAULT_CLIENT_ID.into()),
                    content_type: PKCS12_CONTENT_TYPE.into(),
                }],
                secrets: Vec::new(),
            },
        }
    }
}

impl EmulatorConfig {
    /// Reads a JSON configuration file; keys it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| EmulatorError::Config(format!("cannot read {}: {error}", path.display())))?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|error| EmulatorError::Config(format!("{}: {error}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: non-empty ids, unique users and apps.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |what: String| Err(EmulatorError::Config(what));
        if self.tenant_id.trim().is_empty() {
            return bad("tenantId is empty".into());
        }
        for (index, app) in self.apps.iter().enumerate() {
            if app.client_id.trim().is_empty() {
                return bad(format!("apps[{index}].clientId is empty"));
            }
            if let Some(uri) = app.redirect_uris.iter().find(|uri| url::Url::parse(uri).is_err()) {
                return bad(format!("apps[{index}].redirectUris: {uri:?} is not an absolute URL"));
            }
            if let Some(uri) = app.front_channel_logout_uri.as_ref().filter(|uri| url::Url::parse(uri).is_err()) {
                return bad(format!("apps[{index}].frontChannelLogoutUri: {uri:?} is not an absolute URL"));
            }
            if let Some(uri) = app.backchannel_logout_uri.as_ref().filter(|uri| url::Url::parse(uri).is_err()) {
                return bad(format!("apps[{index}].backchannelLogoutUri: {uri:?} is not an absolute URL"));
            }
            for (field, scopes) in [("adminConsentedScopes", &app.admin_consented_scopes), ("appPermissions", &app.app_permissions)] {
                if let Some(unknown) = scopes.iter().find(|scope| crate::scopes::ScopeRequest::parse(scope, self).is_err()) {
                    return bad(format!("apps[{index}].{field}: {unknown:?} names no known API or scope"));
                }
            }
        }
        for (index, identity) in self.managed_identities.iter().enumerate() {
            if identity.client_id.trim().is_empty() || identity.principal_id.trim().is_empty() {
                return bad(format!("managedIdentities[{index}]: clientId and principalId must not be empty"));
            }
        }
        let valid_vault_name = |name: &str| !name.is_empty() && name.len() <= 127 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        for (index, certificate) in self.key_vault.certificates.iter().enumerate() {
            if !valid_vault_name(&certificate.name) {
                return bad(format!("keyVault.certificates[{index}].name: {:?} is not a Key Vault name (letters, digits, '-')", certificate.name));
            }
            if let Some(client_id) = certificate.registered_on.as_ref().filter(|client_id| self.app(client_id).is_none()) {
                return bad(format!("keyVault.certificates[{index}].registeredOn: no app has clientId {client_id}"));
            }
            if ![PKCS12_CONTENT_TYPE, PEM_CONTENT_TYPE].contains(&certificate.content_type.as_str()) {
                return bad(format!("keyVault.certificates[{index}].contentType: expected {PKCS12_CONTENT_TYPE} or {PEM_CONTENT_TYPE}"));
            }
        }
        for (index, secret) in self.key_vault.secrets.iter().enumerate() {
            if !valid_vault_name(&secret.name) {
                return bad(format!("keyVault.secrets[{index}].name: {:?} is not a Key Vault name (letters, digits, '-')", secret.name));
            }
        }
        for (index, api) in self.apis.iter().enumerate() {
            if api.app_id.trim().is_empty() {
                return bad(format!("apis[{index}].appId is empty"));
            }
        }
        for (index, user) in self.users.iter().enumerate() {
            if user.object_id.trim().is_empty() {
                return bad(format!("users[{index}].objectId is empty"));
            }
            if self.users.iter().filter(|other| other.object_id == user.object_id).count() > 1 {
                return bad(format!("users[{index}].objectId {} is used twice", user.object_id));
            }
        }
        Ok(())
    }

    /// The app registration with this client id.
    pub fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|app| app.client_id == client_id)
    }

    /// The test user with this object id.
    pub fn user(&self, object_id: &str) -> Option<&TestUser> {
        self.users.iter().find(|user| user.object_id == object_id)
    }

    /// The test user who signs in as `name` (UPN or mail, any case).
    pub fn user_named(&self, name: &str) -> Option<&TestUser> {
        let name = name.trim();
        self.users
            .iter()
            .find(|user| user.user_principal_name.eq_ignore_ascii_case(name) || user.mail.eq_ignore_ascii_case(name))
    }

    /// What a tenant path segment means: this tenant (GUID or domain), one of
    /// Microsoft's multi-tenant aliases, or `None` for an unknown tenant.
    pub fn tenant_scope(&self, segment: &str) -> Option<TenantScope> {
        if segment.eq_ignore_ascii_case(&self.tenant_id) || segment.eq_ignore_ascii_case(&self.tenant_domain) {
            return Some(TenantScope::Home);
        }
        match segment.to_ascii_lowercase().as_str() {
            "common" => Some(TenantScope::Common),
            "organizations" => Some(TenantScope::Organizations),
            "consumers" | CONSUMERS_TENANT_ID => Some(TenantScope::Consumers),
            _ => None,
        }
    }
}

/// The tenant id Microsoft gives personal (consumer) accounts.
pub const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The audience a tenant segment of the URL selects, as Microsoft defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    /// The emulated tenant, by GUID or domain.
    Home,
    /// Work, school and personal accounts: any tenant.
    Common,
    /// Work and school accounts: any tenant.
    Organizations,
    /// Personal Microsoft accounts only; the emulated users are work accounts.
    Consumers,
}

impl TenantScope {
    /// Whether the emulated tenant's (work) users may sign in through it.
    pub fn admits_work_accounts(self) -> bool {
        !matches!(self, Self::Consumers)
    }
}
