//! Issuing a certificate version the way Key Vault does for a self-signed
//! policy: a fresh RSA 2048 key, a certificate for one year, and the secret
//! that carries both (PKCS#12 without a password, or PEM).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;
use sha2::Digest;

use crate::config::{PEM_CONTENT_TYPE, PKCS12_CONTENT_TYPE};
use crate::error::EmulatorError;

/// One version of a vault certificate.
pub struct CertificateVersion {
    /// Key Vault's version id: 32 hex digits.
    pub version: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// base64url SHA-1 thumbprint (Key Vault's `x5t`).
    pub x5t: String,
    /// The secret's value: base64 PKCS#12, or PEM key and certificate.
    pub secret_value: String,
    /// The secret's content type.
    pub content_type: String,
    /// When it was issued (seconds since the epoch).
    pub created: u64,
}

/// A new version of the certificate `name` whose secret has `content_type`.
/// CPU-bound (RSA key generation): call it off the async workers.
pub fn issue(name: &str, content_type: &str) -> Result<CertificateVersion, EmulatorError> {
    let failed = |what: &str, reason: String| EmulatorError::Key(format!("vault certificate {name}: {what}: {reason}"));
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|error| failed("key", error.to_string()))?;
    let key_der = private.to_pkcs8_der().map_err(|error| failed("key", error.to_string()))?;
    let key_pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|error| failed("key", error.to_string()))?;
    let key_pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).map_err(|error| failed("key", error.to_string()))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|error| failed("certificate", error.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365);
    let certificate = params.self_signed(&key_pair).map_err(|error| failed("certificate", error.to_string()))?;
    let der = certificate.der().to_vec();
    let secret_value = match content_type {
        PEM_CONTENT_TYPE => format!("{}{}", key_pem.as_str(), certificate.pem()),
        PKCS12_CONTENT_TYPE => {
            let chain = p12_keystore::PrivateKeyChain::new(
                URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)).into_bytes(),
                p12_keystore::PrivateKey::from_der(key_der.as_bytes()).map_err(|error| failed("PKCS#12", error.to_string()))?,
                [p12_keystore::Certificate::from_der(&der).map_err(|error| failed("PKCS#12", error.to_string()))?],
            );
            let mut store = p12_keystore::KeyStore::new();
            store.add_entry(name, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
            // Key Vault exports certificates as PKCS#12 without a password.
            STANDARD.encode(store.writer("").write().map_err(|error| failed("PKCS#12", error.to_string()))?)
        }
        other => return Err(failed("content type", format!("{other:?} is not {PKCS12_CONTENT_TYPE} or {PEM_CONTENT_TYPE}"))),
    };
    Ok(CertificateVersion {
        version: crate::key_vault::new_version(),
        x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)),
        der,
        secret_value,
        content_type: content_type.to_owned(),
        created: crate::tokens::now_secs(),
    })
}
