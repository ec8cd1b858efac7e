//! A certificate with its private key from Azure Key Vault, the way
//! Microsoft.Identity.Web reads it: the certificate (`GET
//! {vault}/certificates/{name}`) names the secret that holds the key
//! (`sid`), whose value is base64 PKCS#12 or PEM. Both calls carry a
//! managed identity's token for the vault's cloud.
//!
//! Plain REST over reqwest, not Microsoft's `azure_security_keyvault_*`
//! crates: their bearer token policy refuses any endpoint that is not https
//! (so they cannot talk to the emulator over plain http), and they bring a
//! second HTTP stack (reqwest 0.13 with aws-lc) for two GETs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use url::Url;

use super::certificate::CertificateCredential;
use super::managed_identity::ManagedIdentityClient;

/// The Key Vault REST API version idweb speaks.
const API_VERSION: &str = "7.4";

#[derive(Deserialize)]
struct CertificateBundle {
    /// The id of the secret holding the certificate's key.
    sid: String,
}

#[derive(Deserialize)]
struct SecretBundle {
    value: String,
    #[serde(default, rename = "contentType")]
    content_type: Option<String>,
}

#[derive(Deserialize)]
struct VaultErrorBody {
    error: VaultError,
}

#[derive(Deserialize)]
struct VaultError {
    code: String,
}

/// The Key Vault resource of the vault's cloud, which its tokens are for.
pub fn vault_resource(vault: &Url) -> &'static str {
    let host = vault.host_str().unwrap_or_default().to_ascii_lowercase();
    if host.ends_with(".vault.usgovcloudapi.net") {
        "https://vault.usgovcloudapi.net"
    } else if host.ends_with(".vault.azure.cn") {
        "https://vault.azure.cn"
    } else {
        "https://vault.azure.net"
    }
}

/// The host names of Key Vaults in Azure's clouds.
const VAULT_HOST_SUFFIXES: [&str; 3] = [".vault.azure.net", ".vault.usgovcloudapi.net", ".vault.azure.cn"];

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// Whether `url` is a Key Vault (`https://{vault}.vault.azure.net/` and the
/// national clouds' equivalents) or on this machine (the emulator): a vault
/// token, which opens every vault the identity may read, goes nowhere else.
pub fn is_vault_url(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    is_loopback(url) || (url.scheme() == "https" && VAULT_HOST_SUFFIXES.iter().any(|suffix| host.ends_with(suffix)))
}



/// Reads certificate `name` from `vault` with `identity`'s token.
pub async fn load_certificate(
    http: &reqwest::Client,
    vault: &Url,
    name: &str,
    identity: &ManagedIdentityClient,
    send_x5c: bool,
) -> Result<CertificateCredential, String> {
    if !is_vault_url(vault) {
        return Err(format!("{vault} is not an https Key Vault URL: a vault token goes to Key Vault only"));
    }
    let token = identity.token(vault_resource(vault)).await?;
    let certificate_url = vault.join(&format!("certificates/{name}")).map_err(|error| format!("bad certificate URL: {error}"))?;
    let bundle: CertificateBundle = get(http, &certificate_url, token.expose(), &format!("certificate named {name:?}")).await?;
    let secret_url = Url::parse(&bundle.sid).map_err(|_| "the certificate's sid is not a URL".to_owned())?;
    // The token goes only to the vault configuration names, whatever the answer says.
    if secret_url.origin() != vault.origin() {
        return Err("the certificate's secret is in another vault; refusing to send the token there".into());
    }
    let secret: SecretBundle = get(http, &secret_url, token.expose(), "certificate's secret").await?;
    match secret.content_type.as_deref() {
        Some("application/x-pkcs12") | None => {
            let bytes = STANDARD.decode(secret.value.trim()).map_err(|_| "the certificate's secret is not base64 PKCS#12".to_owned())?;
            // Key Vault exports PKCS#12 without a password.
            CertificateCredential::from_pkcs12(&bytes, "", send_x5c)
        }
        Some("application/x-pem-file") => CertificateCredential::from_pem(&secret.value, &secret.value, send_x5c),
        Some(other) => Err(format!("the certificate's secret has content type {:?}, not PKCS#12 or PEM", printable(other))),
    }
}

async fn get<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &Url, token: &str, what: &str) -> Result<T, String> {
    let host = url.host_str().unwrap_or_default();
    let response = http
        .get(url.clone())
        .query(&[("api-version", API_VERSION)])
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| format!("Key Vault {host} is unreachable (asked for the {what}): {}", crate::telemetry::error_chain(&error)))?;
    let status = response.status();
    if !status.is_success() {
        let code = crate::answer::json_capped::<VaultErrorBody>(response).await.ok().map(|body| printable(&body.error.code)).unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(format!("Key Vault {host} has no {what} ({status} {code})"));
        }
        return Err(format!("Key Vault {host} answered {status} {code} for the {what}"));
    }
    crate::answer::json_capped(response).await.map_err(|error| format!("Key Vault's answer for the {what} is not what Key Vault sends: {error}"))
}

/// A provider's short code as a message may carry it: letters and digits only.
fn printable(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.')).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_key_vaults_and_this_machine_are_vault_urls() {
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(is_vault_url(&url("https://contoso.vault.azure.net/")));
        assert!(is_vault_url(&url("https://contoso.vault.usgovcloudapi.net/")));
        assert!(is_vault_url(&url("http://127.0.0.1:5001/")));
        assert!(is_vault_url(&url("http://localhost:5001/")));
        assert!(!is_vault_url(&url("http://10.0.0.4/")));
        assert!(!is_vault_url(&url("https://evil.example/")));
        assert!(!is_vault_url(&url("https://vault.azure.net.evil.example/")));
        assert!(!is_vault_url(&url("http://contoso.vault.azure.net/")));
    }

    #[test]
    fn the_vault_resource_follows_the_vault_s_cloud() {
        let resource = |text: &str| vault_resource(&Url::parse(text).unwrap());
        assert_eq!(resource("https://contoso.vault.azure.net/"), "https://vault.azure.net");
        assert_eq!(resource("https://contoso.vault.usgovcloudapi.net/"), "https://vault.usgovcloudapi.net");
        assert_eq!(resource("https://contoso.vault.azure.cn/"), "https://vault.azure.cn");
    }
}
