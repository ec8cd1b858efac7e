//! The credential list, as Microsoft.Identity.Web reads it: every entry of
//! `AzureAd:ClientCredentials`, then of `AzureAd:ClientCertificates`, then
//! `AzureAd:ClientSecret`, tried in that order when the engine starts. Here
//! each entry's shape is checked (its `SourceType` and the keys that type
//! needs); loading happens in [`crate::credentials`].

use std::path::Path;

use serde_json::Value;
use url::Url;

use super::{lookup, optional_string, required_string, ConfigError};
use crate::credentials::description::{unavailable_reason, TOKEN_EXCHANGE_AUDIENCE};
use crate::credentials::{CredentialDescription, CredentialSource, SecretText};

/// The `SourceType`s idweb loads, as Microsoft.Identity.Web spells them.
const LOADED_SOURCE_TYPES: [&str; 6] = ["ClientSecret", "Path", "Base64Encoded", "KeyVault", "SignedAssertionFilePath", "SignedAssertionFromManagedIdentity"];
/// The `SourceType`s Microsoft.Identity.Web knows and idweb cannot use here.
const OTHER_SOURCE_TYPES: [&str; 6] = ["StoreWithThumbprint", "StoreWithDistinguishedName", "Certificate", "SignedAssertionFromVault", "CustomSignedAssertion", "AutoDecryptKeys"];
/// Where a workload identity's token file is named when configuration does not (Kubernetes).
const FEDERATED_TOKEN_FILE_VARIABLE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// Every configured credential, in the order they are tried.
pub(super) fn client_credentials(tree: &Value, dir: &Path) -> Result<Vec<CredentialDescription>, ConfigError> {
    let mut descriptions = Vec::new();
    for list in ["AzureAd:ClientCredentials", "AzureAd:ClientCertificates"] {
        match lookup(tree, list) {
            None | Some(Value::Null) => {}
            // As Microsoft.Identity.Web reads it: an empty list is no credential of that kind.
            Some(Value::Array(items)) => {
                for index in 0..items.len() {
                    descriptions.push(entry(tree, &format!("{list}:{index}"), dir)?);
                }
            }
            Some(_) => return Err(ConfigError::Invalid { key: list.into(), reason: "expected an array".into() }),
        }
    }
    if let Some(secret) = optional_string(tree, "AzureAd:ClientSecret") {
        descriptions.push(CredentialDescription { key: "AzureAd:ClientSecret".into(), source: CredentialSource::ClientSecret(SecretText::new(secret)) });
    }
    if descriptions.is_empty() {
        return Err(ConfigError::Required {
            key: "AzureAd:ClientSecret".into(),
            because: "the app needs a credential: AzureAd:ClientSecret, or AzureAd:ClientCredentials entries (SourceType ClientSecret, Path, Base64Encoded, KeyVault, SignedAssertionFilePath or SignedAssertionFromManagedIdentity)".into(),
        });
    }
    Ok(descriptions)
}

/// One entry at `prefix` (`AzureAd:ClientCredentials:0`).
fn entry(tree: &Value, prefix: &str, dir: &Path) -> Result<CredentialDescription, ConfigError> {
    let key = |name: &str| format!("{prefix}:{name}");
    let required = |name: &str| required_string(tree, &key(name));
    let optional = |name: &str| optional_string(tree, &key(name));
    let secret = |name: &str| optional(name).map(SecretText::new);
    let written = required("SourceType")?;
    let source_type = LOADED_SOURCE_TYPES
        .iter()
        .chain(OTHER_SOURCE_TYPES.iter())
        .find(|known| known.eq_ignore_ascii_case(&written))
        .ok_or_else(|| ConfigError::Invalid {
            key: key("SourceType"),
            reason: format!("{written:?} is not one of {}", LOADED_SOURCE_TYPES.join(", ")),
        })?;
    let source = match *source_type {
        "ClientSecret" => CredentialSource::ClientSecret(SecretText::new(required("ClientSecret")?)),
        "Path" => CredentialSource::File {
            certificate: dir.join(required("CertificateDiskPath")?),
            key: optional("KeyDiskPath").map(|path| dir.join(path)),
            password: secret("CertificatePassword"),
        },
        "Base64Encoded" => CredentialSource::Base64Encoded { value: SecretText::new(required("Base64EncodedValue")?), password: secret("CertificatePassword") },
        "KeyVault" => CredentialSource::KeyVault {
            vault: vault_url(tree, &key("KeyVaultUrl"))?,
            certificate_name: vault_name(required("KeyVaultCertificateName")?, &key("KeyVaultCertificateName"))?,
            managed_identity: client_id(tree, &key("ManagedIdentityClientId"))?,
        },
        "SignedAssertionFilePath" => {
            let path = optional("SignedAssertionFileDiskPath")
                .or_else(|| std::env::var(FEDERATED_TOKEN_FILE_VARIABLE).ok().filter(|path| !path.trim().is_empty()))
                .ok_or_else(|| ConfigError::Required {
                    key: key("SignedAssertionFileDiskPath"),
                    because: format!("SourceType SignedAssertionFilePath reads the assertion from that file (or from the file {FEDERATED_TOKEN_FILE_VARIABLE} names)"),
                })?;
            CredentialSource::SignedAssertionFile(dir.join(path))
        }
        "SignedAssertionFromManagedIdentity" => CredentialSource::ManagedIdentityAssertion {
            managed_identity: client_id(tree, &key("ManagedIdentityClientId"))?,
            token_exchange_audience: optional("TokenExchangeUrl").unwrap_or_else(|| TOKEN_EXCHANGE_AUDIENCE.into()),
        },
        other => CredentialSource::Unavailable {
            source_type: other.to_owned(),
            reason: unavailable_reason(other).unwrap_or("not supported by idweb"),
        },
    };
    Ok(CredentialDescription { key: prefix.to_owned(), source })
}

/// `KeyVaultUrl`: an absolute http(s) URL, kept with a trailing slash so
/// `certificates/{name}` joins under it.
fn vault_url(tree: &Value, key: &str) -> Result<Url, ConfigError> {
    let mut url = super::required_url(tree, key)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::Invalid { key: key.into(), reason: "expected https://{vault}.vault.azure.net/ without query or fragment".into() });
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A Key Vault object name: 1 to 127 letters, digits and dashes.
fn vault_name(name: String, key: &str) -> Result<String, ConfigError> {
    if name.len() <= 127 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(name)
    } else {
        Err(ConfigError::Invalid { key: key.into(), reason: "a Key Vault name has only letters, digits and '-'".into() })
    }
}

/// `ManagedIdentityClientId`: absent for the system-assigned identity.
fn client_id(tree: &Value, key: &str) -> Result<Option<String>, ConfigError> {
    match optional_string(tree, key) {
        None => Ok(None),
        Some(_) => super::required_token(tree, key).map(Some),
    }
}
