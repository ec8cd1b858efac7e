//! What the vault holds: certificates (versions issued on first use and on
//! rotation, each registered on the app it is a credential of) and secrets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::issue::{issue, CertificateVersion};
use crate::config::{KeyVaultConfig, VaultCertificate};
use crate::error::EmulatorError;
use crate::{lock, EmulatorState};

/// A plain secret: one version.
pub struct StoredSecret {
    /// Its version id.
    pub version: String,
    /// Its value.
    pub value: String,
    /// Its content type, if any.
    pub content_type: Option<String>,
    /// When it was stored.
    pub created: u64,
}

struct StoredCertificate {
    spec: VaultCertificate,
    /// Oldest first; the last one is current.
    versions: Vec<Arc<CertificateVersion>>,
}

/// The emulated vault. Names are case-insensitive, as in Key Vault.
pub struct Vault {
    certificates: Mutex<HashMap<String, StoredCertificate>>,
    secrets: HashMap<String, Arc<StoredSecret>>,
}

impl Vault {
    /// A vault holding what `config` lists; no certificate is issued yet.
    pub fn new(config: &KeyVaultConfig) -> Self {
        let certificates = config
            .certificates
            .iter()
            .map(|spec| (spec.name.to_ascii_lowercase(), StoredCertificate { spec: spec.clone(), versions: Vec::new() }))
            .collect();
        let secrets = config
            .secrets
            .iter()
            .map(|secret| {
                let stored = StoredSecret {
                    version: super::new_version(),
                    value: secret.value.expose().to_owned(),
                    content_type: secret.content_type.clone(),
                    created: crate::tokens::now_secs(),
                };
                (secret.name.to_ascii_lowercase(), Arc::new(stored))
            })
            .collect();
        Self { certificates: Mutex::new(certificates), secrets }
    }

    /// The plain secret `name`, if the vault holds one.
    pub fn secret(&self, name: &str) -> Option<Arc<StoredSecret>> {
        self.secrets.get(&name.to_ascii_lowercase()).cloned()
    }

    /// Whether a certificate is called `name`.
    pub fn has_certificate(&self, name: &str) -> bool {
        lock(&self.certificates).contains_key(&name.to_ascii_lowercase())
    }

    /// The certificate's canonical name and a version: `version`, or the
    /// current one. A certificate with no version yet gets its first.
    pub async fn certificate(state: &Arc<EmulatorState>, name: &str, version: Option<&str>) -> Result<Option<(String, Arc<CertificateVersion>)>, EmulatorError> {
        let key = name.to_ascii_lowercase();
        let needs_first = match lock(&state.vault.certificates).get(&key) {
            None => return Ok(None),
            Some(stored) => stored.versions.is_empty(),
        };
        if needs_first {
            Self::add_version(state, &key, false).await?;
        }
        let certificates = lock(&state.vault.certificates);
        let Some(stored) = certificates.get(&key) else { return Ok(None) };
        let found = match version {
            Some(wanted) => stored.versions.iter().find(|issued| issued.version.eq_ignore_ascii_case(wanted)),
            None => stored.versions.last(),
        };
        Ok(found.map(|issued| (stored.spec.name.clone(), issued.clone())))
    }

    /// Issues a new version of certificate `name` and makes it current: the
    /// app it is registered on trusts the new one and no longer the old one.
    pub async fn rotate(state: &Arc<EmulatorState>, name: &str) -> Result<Option<Arc<CertificateVersion>>, EmulatorError> {
        let key = name.to_ascii_lowercase();
        if !state.vault.has_certificate(&key) {
            return Ok(None);
        }
        Self::add_version(state, &key, true).await.map(Some)
    }

    async fn add_version(state: &Arc<EmulatorState>, key: &str, rotate: bool) -> Result<Arc<CertificateVersion>, EmulatorError> {
        let spec = match lock(&state.vault.certificates).get(key) {
            Some(stored) => stored.spec.clone(),
            None => return Err(EmulatorError::Config(format!("the vault has no certificate {key}"))),
        };
        let (name, content_type) = (spec.name.clone(), spec.content_type.clone());
        // RSA key generation is CPU-bound: keep it off the async workers.
        let issued = tokio::task::spawn_blocking(move || issue(&name, &content_type))
            .await
            .map_err(|error| EmulatorError::Key(error.to_string()))??;
        let issued = Arc::new(issued);
        let registration = crate::certificates::RegisteredCertificate::from_der(&issued.der)
            .map_err(|reason| EmulatorError::Key(format!("vault certificate {}: {reason}", spec.name)))?;
        let mut certificates = lock(&state.vault.certificates);
        let Some(stored) = certificates.get_mut(key) else {
            return Err(EmulatorError::Config(format!("the vault has no certificate {key}")));
        };
        // Two first uses at once: the one that finished first is the first version.
        if !rotate {
            if let Some(first) = stored.versions.last() {
                return Ok(first.clone());
            }
        }
        if let Some(client_id) = &spec.registered_on {
            if let Some(previous) = stored.versions.last() {
                if let Ok(previous) = crate::certificates::RegisteredCertificate::from_der(&previous.der) {
                    state.certificates.unregister(client_id, &previous.x5t_s256);
                }
            }
            state.certificates.register(client_id, registration);
        }
        stored.versions.push(issued.clone());
        tracing::info!(certificate = %spec.name, version = %issued.version, "vault certificate issued");
        Ok(issued)
    }
}
