//! How idweb proves its identity to the token endpoint (TOK-01), with
//! Microsoft.Identity.Web's credential sources: a client secret, a
//! certificate (file, base64, Key Vault) signing `private_key_jwt`
//! assertions, an assertion signed by someone else (a file rotated by
//! Kubernetes, or a managed identity's token: certificateless).
//!
//! The configured entries are tried in order when the engine starts and the
//! first that loads is used; the others' reasons are logged, and if none
//! loads start-up fails naming each. When the token endpoint refuses the
//! loaded credential as unknown or expired (a certificate rotated in Key
//! Vault, AADSTS700027), the entries are loaded again once and the request
//! retried ([`Credentials::reload`]). Held on the server only.

mod certificate;
pub(crate) mod description;
pub(crate) mod key_vault;
pub(crate) mod managed_identity;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use openidconnect::ClientSecret;

pub use certificate::CertificateCredential;
pub use description::{CredentialDescription, CredentialSource};
pub use managed_identity::{ManagedIdentityClient, ManagedIdentitySource};


/// `client_assertion_type` for JWT assertions (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Text that must never be shown: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A loaded credential of the confidential client.
pub enum ClientCredential {
    /// A client secret.
    Secret(ClientSecret),
    /// A certificate whose private key signs client assertions.
    Certificate(Box<CertificateCredential>),
    /// A file holding an assertion signed by someone else (e.g. a Kubernetes
    /// service account token), read again on every use because it is rotated.
    SignedAssertionFile(PathBuf),
    /// A managed identity's token for the token exchange audience, which a
    /// federated credential on the app registration trusts.
    ManagedIdentity {
        /// The identity's token endpoint client (it caches the token).
        client: Arc<ManagedIdentityClient>,
        /// The token exchange audience.
        audience: String,
    },
}

// Hand-written so no key material or secret can reach a log.
impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("ClientCredential::Secret([redacted])"),
            Self::Certificate(certificate) => write!(f, "ClientCredential::Certificate(x5t#S256={})", certificate.thumbprint_s256()),
            Self::SignedAssertionFile(path) => write!(f, "ClientCredential::SignedAssertionFile({})", path.display()),
            Self::ManagedIdentity { audience, .. } => write!(f, "ClientCredential::ManagedIdentity(audience={audience})"),
        }
    }
}

impl ClientCredential {
    /// The secret, when the credential is one (openidconnect sends it itself).
    pub fn client_secret(&self) -> Option<ClientSecret> {
        match self {
            Self::Secret(secret) => Some(secret.clone()),
            _ => None,
        }
    }

    /// The `client_assertion` to send with a token request, if the credential uses one.
    pub async fn client_assertion(&self, client_id: &str, token_endpoint: &str) -> Result<Option<String>, CredentialError> {
        match self {
            Self::Secret(_) => Ok(None),
            Self::Certificate(certificate) => certificate.assertion(client_id, token_endpoint).map(Some),
            Self::SignedAssertionFile(path) => tokio::fs::read_to_string(path)
                .await
                .map(|text| Some(text.trim().to_owned()))
                .map_err(|error| CredentialError::ReadAssertion { path: path.clone(), source: error }),
            Self::ManagedIdentity { client, audience } => client
                .token(audience)
                .await
                .map(|token| Some(token.expose().to_owned()))
                .map_err(CredentialError::ManagedIdentity),
        }
    }
}

/// Why the credential could not produce what a token request needs.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Signing the client assertion with the certificate's key failed.
    #[error("cannot sign the client assertion")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// The signed assertion file could not be read.
    #[error("cannot read the signed assertion file {}", path.display())]
    ReadAssertion {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The managed identity endpoint gave no token.
    #[error("no managed identity token: {0}")]
    ManagedIdentity(String),
    /// No configured credential could be loaded at start-up.
    #[error("no client credential could be loaded: {}", attempts.join("; "))]
    NoneLoaded {
        /// For each entry, in order: its key, source type and why it failed.
        attempts: Vec<String>,
    },
}

/// What loading needs besides the descriptions.
#[derive(Clone)]
pub struct Loader {
    /// For Key Vault and the managed identity endpoint.
    pub http: reqwest::Client,
    /// Where managed identity tokens come from.
    pub managed_identity: Result<ManagedIdentitySource, String>,
    /// `AzureAd:SendX5C`: send the certificate with each assertion.
    pub send_x5c: bool,
}

impl Loader {
    /// Loads one entry.
    async fn load(&self, description: &CredentialDescription) -> Result<ClientCredential, String> {
        let identity = |client_id: &Option<String>| -> Result<Arc<ManagedIdentityClient>, String> {
            let source = self.managed_identity.clone().map_err(|reason| format!("no managed identity endpoint: {reason}"))?;
            Ok(Arc::new(ManagedIdentityClient::new(source, self.http.clone(), client_id.clone())))
        };
        let certificate = |loaded: Result<CertificateCredential, String>| loaded.map(|loaded| ClientCredential::Certificate(Box::new(loaded)));
        match &description.source {
            CredentialSource::ClientSecret(secret) => Ok(ClientCredential::Secret(ClientSecret::new(secret.expose().to_owned()))),
            CredentialSource::File { certificate: path, key, password } => {
                let is_pkcs12 = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("pfx") || ext.eq_ignore_ascii_case("p12"));
                if is_pkcs12 {
                    let bytes = tokio::fs::read(path).await.map_err(|error| format!("cannot read {}: {error}", path.display()))?;
                    return certificate(CertificateCredential::from_pkcs12(&bytes, password.as_ref().map(SecretText::expose).unwrap_or_default(), self.send_x5c));
                }
                let read = |path: PathBuf| async move { tokio::fs::read_to_string(&path).await.map_err(|error| format!("cannot read {}: {error}", path.display())) };
                let certificate_pem = read(path.clone()).await?;
                let key_pem = match key {
                    Some(key) => read(key.clone()).await?,
                    None => certificate_pem.clone(),
                };
                certificate(CertificateCredential::from_pem(&certificate_pem, &key_pem, self.send_x5c).map_err(|reason| format!("{}: {reason}", path.display())))
            }
            CredentialSource::Base64Encoded { value, password } => {
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value.expose().trim())
                    .map_err(|_| "Base64EncodedValue is not base64".to_owned())?;
                certificate(CertificateCredential::from_pkcs12(&bytes, password.as_ref().map(SecretText::expose).unwrap_or_default(), self.send_x5c))
            }
            CredentialSource::KeyVault { vault, certificate_name, managed_identity } => {
                let identity = identity(managed_identity)?;
                certificate(key_vault::load_certificate(&self.http, vault, certificate_name, &identity, self.send_x5c).await)
            }
            CredentialSource::SignedAssertionFile(path) => {
                // Read now so a wrong path is found at start-up; it is read again on every use.
                tokio::fs::metadata(path).await.map_err(|error| format!("{}: {error}", path.display()))?;
                Ok(ClientCredential::SignedAssertionFile(path.clone()))
            }
            CredentialSource::ManagedIdentityAssertion { managed_identity, token_exchange_audience } => {
                let client = identity(managed_identity)?;
                // Fetched now so an identity that is not there is found at start-up.
                client.token(token_exchange_audience).await?;
                Ok(ClientCredential::ManagedIdentity { client, audience: token_exchange_audience.clone() })
            }
            CredentialSource::Unavailable { reason, .. } => Err((*reason).to_owned()),
        }
    }

    /// The first of `descriptions` that loads (with `only_changing`, among
    /// those that can give something new), and why each before it did not.
    async fn first_loading(&self, descriptions: &[CredentialDescription], only_changing: bool) -> Result<(ClientCredential, usize), Vec<String>> {
        let mut attempts = Vec::new();
        for (index, description) in descriptions.iter().enumerate() {
            if only_changing && !description.source.can_change() {
                continue;
            }
            match self.load(description).await {
                Ok(credential) => {
                    for attempt in &attempts {
                        tracing::warn!(skipped = %attempt, "a configured client credential could not be loaded; the next one was tried");
                    }
                    if !attempts.is_empty() && credential.client_secret().is_some() {
                        // A deployment meant to run without a secret now runs on one.
                        tracing::error!(credential = %description.key, "every certificate or federated credential before it failed; falling back to a client secret");
                    }
                    return Ok((credential, index));
                }
                Err(reason) => attempts.push(format!("{} ({}): {reason}", description.key, description.source.source_type())),
            }
        }
        Err(attempts)
    }
}

/// The credential in use and how to load it again.
pub struct Credentials {
    descriptions: Vec<CredentialDescription>,
    loader: Loader,
    current: RwLock<Arc<ClientCredential>>,
    /// One reload at a time, and when the last one was tried: the requests
    /// refused together share it, and a refusal that reloading does not cure
    /// (a certificate removed from the app, a skewed clock) costs at most one
    /// reload per [`RELOAD_INTERVAL`], not one per request.
    reloading: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// Shortest time between two reloads of the credential.
pub const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

impl Credentials {
    /// Loads the first of `descriptions` that loads.
    pub async fn load(descriptions: Vec<CredentialDescription>, loader: Loader) -> Result<Self, CredentialError> {
        let (credential, index) = loader.first_loading(&descriptions, false).await.map_err(|attempts| CredentialError::NoneLoaded { attempts })?;
        tracing::info!(credential = %descriptions[index].key, source = %descriptions[index].source.source_type(), "client credential loaded");
        Ok(Self { descriptions, loader, current: RwLock::new(Arc::new(credential)), reloading: tokio::sync::Mutex::new(None) })
    }

    /// The credential to use now.
    pub fn current(&self) -> Arc<ClientCredential> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The token endpoint refused `refused` as unknown or expired: loads the
    /// entries that can change again (a rotated certificate, a new token) and
    /// returns the new credential, or `None` when there is nothing else to try
    /// (a secret, every entry failing, or a reload tried less than
    /// [`RELOAD_INTERVAL`] ago). Requests refused together share one reload.
    pub async fn reload(&self, refused: &Arc<ClientCredential>) -> Option<Arc<ClientCredential>> {
        if refused.client_secret().is_some() {
            return None;
        }
        let mut last_attempt = self.reloading.lock().await;
        let current = self.current();
        if !Arc::ptr_eq(&current, refused) {
            return Some(current);
        }
        if last_attempt.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
            return None;
        }
        *last_attempt = Some(std::time::Instant::now());
        match self.loader.first_loading(&self.descriptions, true).await {
            Ok((credential, index)) => {
                tracing::info!(credential = %self.descriptions[index].key, "client credential reloaded after the token endpoint refused it");
                let credential = Arc::new(credential);
                *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = credential.clone();
                Some(credential)
            }
            Err(attempts) => {
                tracing::warn!(reasons = %attempts.join("; "), "reloading the client credential failed");
                None
            }
        }
    }
}
