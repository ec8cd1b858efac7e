//! What configuration says about one credential, in Microsoft.Identity.Web's
//! terms (`SourceType` and its keys), checked for shape when configuration
//! is read. Nothing is loaded here: files, Key Vault and managed identities
//! are reached when the engine starts ([`super::Credentials::load`]).

use std::path::PathBuf;

use url::Url;

use super::SecretText;

/// One entry of the credential list, with the configuration key it came
/// from (`AzureAd:ClientCredentials:0`) so every message can name it.
#[derive(Debug, Clone)]
pub struct CredentialDescription {
    /// Where it was configured, in `Section:Key` form.
    pub key: String,
    /// What it is and where it lives.
    pub source: CredentialSource,
}

/// Microsoft.Identity.Web's credential sources, as idweb supports them.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// `ClientSecret` (or the legacy `AzureAd:ClientSecret`).
    ClientSecret(SecretText),
    /// `Path`: a PEM file (certificate and key, or the key in `KeyDiskPath`)
    /// or a PKCS#12 file (`.pfx`, `.p12`) opened with `CertificatePassword`.
    File {
        /// `CertificateDiskPath`, relative to the configuration directory.
        certificate: PathBuf,
        /// `KeyDiskPath`, for a PEM certificate whose key is apart.
        key: Option<PathBuf>,
        /// `CertificatePassword`, for PKCS#12.
        password: Option<SecretText>,
    },
    /// `Base64Encoded`: PKCS#12 bytes in base64 in `Base64EncodedValue`.
    Base64Encoded {
        /// The base64 text.
        value: SecretText,
        /// `CertificatePassword`, if the PKCS#12 has one.
        password: Option<SecretText>,
    },
    /// `KeyVault`: a certificate (with its key) in Azure Key Vault, read
    /// with a managed identity's token.
    KeyVault {
        /// `KeyVaultUrl`: `https://{vault}.vault.azure.net/`.
        vault: Url,
        /// `KeyVaultCertificateName`.
        certificate_name: String,
        /// `ManagedIdentityClientId`: a user-assigned identity; else the system-assigned one.
        managed_identity: Option<String>,
    },
    /// `SignedAssertionFilePath`: an assertion another party signs and
    /// rotates in a file (workload identity federation: Kubernetes).
    SignedAssertionFile(PathBuf),
    /// `SignedAssertionFromManagedIdentity`: the managed identity's token for
    /// the token exchange audience is the assertion (certificateless).
    ManagedIdentityAssertion {
        /// `ManagedIdentityClientId`: a user-assigned identity; else the system-assigned one.
        managed_identity: Option<String>,
        /// `TokenExchangeUrl`: the audience; `api://AzureADTokenExchange` unless a national cloud's.
        token_exchange_audience: String,
    },
    /// A source Microsoft.Identity.Web knows that cannot work here; loading
    /// it fails with `reason`, so a later entry is tried (as
    /// Microsoft.Identity.Web does when a source is unavailable).
    Unavailable {
        /// The `SourceType`.
        source_type: String,
        /// Why, and what to use instead.
        reason: &'static str,
    },
}

/// The token exchange audience of the worldwide cloud.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

impl CredentialSource {
    /// Microsoft.Identity.Web's `SourceType` name of this source.
    pub fn source_type(&self) -> &str {
        match self {
            Self::ClientSecret(_) => "ClientSecret",
            Self::File { .. } => "Path",
            Self::Base64Encoded { .. } => "Base64Encoded",
            Self::KeyVault { .. } => "KeyVault",
            Self::SignedAssertionFile(_) => "SignedAssertionFilePath",
            Self::ManagedIdentityAssertion { .. } => "SignedAssertionFromManagedIdentity",
            Self::Unavailable { source_type, .. } => source_type,
        }
    }

    /// Whether loading it again can give something new (a rotated
    /// certificate, a fresh token): everything but a configured secret.
    pub fn can_change(&self) -> bool {
        !matches!(self, Self::ClientSecret(_) | Self::Unavailable { .. })
    }
}

/// Why a `SourceType` that Microsoft.Identity.Web accepts cannot be used by
/// idweb on this machine, or `None` if idweb loads it.
pub fn unavailable_reason(source_type: &str) -> Option<&'static str> {
    Some(match source_type {
        "StoreWithThumbprint" | "StoreWithDistinguishedName" if !cfg!(windows) => {
            "Windows certificate stores exist only on Windows; export the certificate to a file (SourceType Path) or keep it in Key Vault (SourceType KeyVault)"
        }
        "StoreWithThumbprint" | "StoreWithDistinguishedName" => {
            "idweb does not read Windows certificate stores; export the certificate to a file (SourceType Path) or keep it in Key Vault (SourceType KeyVault)"
        }
        "Certificate" => "a certificate object can only be given in code; use SourceType Path, Base64Encoded or KeyVault in configuration",
        "SignedAssertionFromVault" => "not supported; keep a certificate in Key Vault (SourceType KeyVault) or use SignedAssertionFromManagedIdentity",
        "CustomSignedAssertion" => "a custom signed assertion provider needs code; use SignedAssertionFilePath or SignedAssertionFromManagedIdentity",
        "AutoDecryptKeys" => "token decryption keys are not client credentials, and idweb does not decrypt tokens",
        _ => return None,
    })
}
