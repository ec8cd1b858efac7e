//! The credential list, as Microsoft.Identity.Web reads it: every entry of
//! `AzureAd:ClientCredentials`, then of `AzureAd:ClientCertificates`, then
//! `AzureAd:ClientSecret`, tried in that order when the engine starts. Here
//! each entry's shape is checked (its `SourceType` and the keys that type
//! needs); loading happens in [`crate::credentials`].

use std::path::Path;

use url::Url;

use super::raw::{AzureAdSection, CredentialEntry};
use super::values::{optional_token, required, text};
use super::ConfigError;
use crate::credentials::description::{unavailable_reason, TOKEN_EXCHANGE_AUDIENCE};
use crate::credentials::{CredentialDescription, CredentialSource, SecretText};

/// The `SourceType`s idweb loads, as Microsoft.Identity.Web spells them.
const LOADED_SOURCE_TYPES: [&str; 6] = ["ClientSecret", "Path", "Base64Encoded", "KeyVault", "SignedAssertionFilePath", "SignedAssertionFromManagedIdentity"];
/// The `SourceType`s Microsoft.Identity.Web knows and idweb cannot use here.
const OTHER_SOURCE_TYPES: [&str; 6] = ["StoreWithThumbprint", "StoreWithDistinguishedName", "Certificate", "SignedAssertionFromVault", "CustomSignedAssertion", "AutoDecryptKeys"];
/// Where a workload identity's token file is named when configuration does not (Kubernetes).
const FEDERATED_TOKEN_FILE_VARIABLE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// Every configured credential, in the order they are tried.
pub(super) fn client_credentials(section: &AzureAdSection, dir: &Path) -> Result<Vec<CredentialDescription>, ConfigError> {
    let mut descriptions = Vec::new();
    // As Microsoft.Identity.Web reads them: an empty list is no credential of that kind.
    for (list, entries) in [("AzureAd:ClientCredentials", &section.client_credentials), ("AzureAd:ClientCertificates", &section.client_certificates)] {
        for (index, entry) in entries.iter().flatten().enumerate() {
            descriptions.push(description(entry, &format!("{list}:{index}"), dir)?);
        }
    }
    if let Some(secret) = text(&section.client_secret) {
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

/// One entry, named `prefix` (`AzureAd:ClientCredentials:0`).
fn description(entry: &CredentialEntry, prefix: &str, dir: &Path) -> Result<CredentialDescription, ConfigError> {
    let key = |name: &str| format!("{prefix}:{name}");
    let secret = |value: &Option<String>| text(value).map(SecretText::new);
    let written = required(&entry.source_type, &key("SourceType"))?;
    let source_type = LOADED_SOURCE_TYPES
        .iter()
        .chain(OTHER_SOURCE_TYPES.iter())
        .find(|known| known.eq_ignore_ascii_case(written))
        .ok_or_else(|| ConfigError::Invalid {
            key: key("SourceType"),
            reason: format!("{written:?} is not one of {}", LOADED_SOURCE_TYPES.join(", ")),
        })?;
    let source = match *source_type {
        "ClientSecret" => CredentialSource::ClientSecret(SecretText::new(required(&entry.client_secret, &key("ClientSecret"))?)),
        "Path" => CredentialSource::File {
            certificate: dir.join(required(&entry.certificate_disk_path, &key("CertificateDiskPath"))?),
            key: text(&entry.key_disk_path).map(|path| dir.join(path)),
            password: secret(&entry.certificate_password),
        },
        "Base64Encoded" => CredentialSource::Base64Encoded {
            value: SecretText::new(required(&entry.base64_encoded_value, &key("Base64EncodedValue"))?),
            password: secret(&entry.certificate_password),
        },
        "KeyVault" => CredentialSource::KeyVault {
            vault: vault_url(&entry.key_vault_url, &key("KeyVaultUrl"))?,
            certificate_name: vault_name(required(&entry.key_vault_certificate_name, &key("KeyVaultCertificateName"))?, &key("KeyVaultCertificateName"))?,
            managed_identity: optional_token(&entry.managed_identity_client_id, &key("ManagedIdentityClientId"))?,
        },
        "SignedAssertionFilePath" => {
            let path = text(&entry.signed_assertion_file_disk_path)
                .map(str::to_owned)
                .or_else(|| std::env::var(FEDERATED_TOKEN_FILE_VARIABLE).ok().filter(|path| !path.trim().is_empty()))
                .ok_or_else(|| ConfigError::Required {
                    key: key("SignedAssertionFileDiskPath"),
                    because: format!("SourceType SignedAssertionFilePath reads the assertion from that file (or from the file {FEDERATED_TOKEN_FILE_VARIABLE} names)"),
                })?;
            CredentialSource::SignedAssertionFile(dir.join(path))
        }
        "SignedAssertionFromManagedIdentity" => CredentialSource::ManagedIdentityAssertion {
            managed_identity: optional_token(&entry.managed_identity_client_id, &key("ManagedIdentityClientId"))?,
            token_exchange_audience: text(&entry.token_exchange_url).unwrap_or(TOKEN_EXCHANGE_AUDIENCE).to_owned(),
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
fn vault_url(value: &Option<String>, key: &str) -> Result<Url, ConfigError> {
    let mut url = super::values::required_url(value, key, "https://{vault}.vault.azure.net/")?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::Invalid { key: key.into(), reason: "expected https://{vault}.vault.azure.net/ without query or fragment".into() });
    }
    if !crate::credentials::key_vault::is_vault_url(&url) {
        return Err(ConfigError::Invalid {
            key: key.into(),
            reason: "expected a Key Vault URL, https://{vault}.vault.azure.net/ (or a national cloud's): the vault token goes nowhere else".into(),
        });
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A Key Vault object name: 1 to 127 letters, digits and dashes.
fn vault_name(name: &str, key: &str) -> Result<String, ConfigError> {
    if name.len() <= 127 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(name.to_owned())
    } else {
        Err(ConfigError::Invalid { key: key.into(), reason: "a Key Vault name has only letters, digits and '-'".into() })
    }
}
