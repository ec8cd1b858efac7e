//! A certificate whose private key signs `private_key_jwt` client
//! assertions (RFC 7523), loaded from PEM or PKCS#12 bytes wherever they
//! came from (a file, configuration, Key Vault).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use super::CredentialError;

/// Lifetime of the assertions idweb signs: long enough for clock skew, short enough to be useless if seen.
const ASSERTION_LIFETIME_SECS: u64 = 10 * 60;

/// A certificate and its private key, ready to sign.
pub struct CertificateCredential {
    key: EncodingKey,
    /// base64url SHA-256 thumbprint of the certificate (`x5t#S256`).
    thumbprint_s256: String,
    /// base64 DER of the certificate, for `x5c`.
    der_base64: String,
    /// Send the certificate itself (`x5c`), for subject-name/issuer authentication.
    send_x5c: bool,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

impl CertificateCredential {
    /// A PEM certificate (the first `CERTIFICATE` block of
    /// `certificate_pem`) and its RSA private key (in `key_pem`, which may be
    /// the same text).
    pub fn from_pem(certificate_pem: &str, key_pem: &str, send_x5c: bool) -> Result<Self, String> {
        let certificate_block = pem_block(certificate_pem, "CERTIFICATE").ok_or("no PEM certificate found")?;
        let certificate = Certificate::from_pem(certificate_block.as_bytes()).map_err(|error| format!("certificate: {error}"))?;
        let der = certificate.to_der().map_err(|error| format!("certificate: {error}"))?;
        let private = private_key(key_pem)?;
        Self::from_parts(&der, &private, send_x5c)
    }

    /// PKCS#12 (`.pfx`/`.p12`) bytes holding the certificate and its key.
    pub fn from_pkcs12(bytes: &[u8], password: &str, send_x5c: bool) -> Result<Self, String> {
        let store = p12_keystore::KeyStore::from_pkcs12(bytes, password, p12_keystore::Pkcs12ImportPolicy::Strict)
            .map_err(|error| format!("cannot open the PKCS#12 content (wrong CertificatePassword?): {error}"))?;
        let (_, chain) = store.private_key_chain().ok_or("the PKCS#12 file holds no private key with its certificate")?;
        let certificate = chain.certs().first().ok_or("the PKCS#12 file holds no certificate for its key")?;
        let private = RsaPrivateKey::from_pkcs8_der(chain.key().as_der()).map_err(|_| "the PKCS#12 key is not an RSA key".to_owned())?;
        Self::from_parts(certificate.as_der(), &private, send_x5c)
    }

    /// A credential from a DER certificate and its key, checking that they belong together.
    fn from_parts(certificate_der: &[u8], private: &RsaPrivateKey, send_x5c: bool) -> Result<Self, String> {
        let certificate = Certificate::from_der(certificate_der).map_err(|error| format!("certificate: {error}"))?;
        let spki = certificate.tbs_certificate.subject_public_key_info.to_der().map_err(|error| error.to_string())?;
        let public = RsaPublicKey::from_public_key_der(&spki).map_err(|_| "the certificate's key is not RSA".to_owned())?;
        if private.n() != public.n() {
            return Err("the private key does not belong to the certificate".into());
        }
        let pkcs1 = private.to_pkcs1_der().map_err(|error| format!("private key: {error}"))?;
        Ok(Self {
            key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
            thumbprint_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(certificate_der)),
            der_base64: STANDARD.encode(certificate_der),
            send_x5c,
        })
    }

    /// base64url SHA-256 thumbprint of the certificate (`x5t#S256`): which certificate this is.
    pub fn thumbprint_s256(&self) -> &str {
        &self.thumbprint_s256
    }

    /// A fresh client assertion for `token_endpoint`: unique `jti`, ten minutes.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str) -> Result<String, CredentialError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0);
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let claims = AssertionClaims {
            aud: token_endpoint,
            iss: client_id,
            sub: client_id,
            jti: URL_SAFE_NO_PAD.encode(jti),
            iat: now,
            nbf: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.x5t_s256 = Some(self.thumbprint_s256.clone());
        if self.send_x5c {
            header.x5c = Some(vec![self.der_base64.clone()]);
        }
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(CredentialError::Sign)
    }
}

/// The first PEM block labelled `label`.
fn pem_block(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = text[start..].find(&end)? + start + end.len();
    Some(text[start..stop].to_owned())
}

fn private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    const NOT_RSA: &str = "the private key is not an RSA key (Microsoft Entra ID takes client assertions signed with RSA keys only)";
    if let Some(block) = pem_block(pem, "RSA PRIVATE KEY") {
        return RsaPrivateKey::from_pkcs1_pem(&block).map_err(|error| format!("the RSA private key does not parse: {error}"));
    }
    if pem_block(pem, "EC PRIVATE KEY").is_some() {
        return Err(NOT_RSA.into());
    }
    if pem_block(pem, "ENCRYPTED PRIVATE KEY").is_some() {
        return Err("the private key is encrypted; give it unencrypted (PKCS#1 or PKCS#8 PEM), or use a PKCS#12 file with CertificatePassword".into());
    }
    let block = pem_block(pem, "PRIVATE KEY").ok_or("no private key found (an RSA key in PKCS#1 or unencrypted PKCS#8 PEM)")?;
    // PKCS#8 names the key's algorithm: an EC or Ed25519 key is told apart from a damaged RSA one.
    let (_, document) = rsa::pkcs8::SecretDocument::from_pem(&block).map_err(|error| format!("the private key does not parse: {error}"))?;
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(document.as_bytes()).map_err(|error| format!("the private key does not parse: {error}"))?;
    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(NOT_RSA.into());
    }
    RsaPrivateKey::try_from(info).map_err(|error| format!("the RSA private key does not parse: {error}"))
}
