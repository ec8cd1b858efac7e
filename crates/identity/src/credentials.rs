//! How idweb proves its identity to the token endpoint (TOK-01): a client
//! secret, a certificate (`private_key_jwt` assertion signed with its key),
//! or a signed assertion read from a file on each use (workload identity
//! federation). Loaded and checked at start-up; held on the server only.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::ClientSecret;
use rand::RngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use crate::error::IdentityError;

/// `client_assertion_type` for JWT assertions (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of the assertions idweb signs: long enough for clock skew, short enough to be useless if seen.
const ASSERTION_LIFETIME_SECS: u64 = 10 * 60;

/// The credential of the confidential client.
pub enum ClientCredential {
    /// A client secret.
    Secret(ClientSecret),
    /// A certificate whose private key signs client assertions.
    Certificate(Box<CertificateCredential>),
    /// A file holding an assertion signed by someone else (e.g. a Kubernetes
    /// service account token), read again on every use because it is rotated.
    SignedAssertionFile(PathBuf),
}

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

// Hand-written so no key material or secret can reach a log.
impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("ClientCredential::Secret([redacted])"),
            Self::Certificate(certificate) => write!(f, "ClientCredential::Certificate(x5t#S256={})", certificate.thumbprint_s256),
            Self::SignedAssertionFile(path) => write!(f, "ClientCredential::SignedAssertionFile({})", path.display()),
        }
    }
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
    /// Loads a PEM certificate and its RSA private key (both in `certificate_path`,
    /// or the key in `key_path`).
    pub fn load_pem(certificate_path: &Path, key_path: Option<&Path>, send_x5c: bool) -> Result<Self, String> {
        let read = |path: &Path| std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()));
        let certificate_pem = read(certificate_path)?;
        let key_pem = match key_path {
            Some(path) => read(path)?,
            None => certificate_pem.clone(),
        };
        let certificate_block = pem_block(&certificate_pem, "CERTIFICATE")
            .ok_or_else(|| format!("{} holds no PEM certificate", certificate_path.display()))?;
        let certificate = Certificate::from_pem(certificate_block.as_bytes()).map_err(|error| format!("certificate: {error}"))?;
        let der = certificate.to_der().map_err(|error| format!("certificate: {error}"))?;
        let private = private_key(&key_pem).ok_or("no RSA private key (PKCS#1 or unencrypted PKCS#8 PEM) found")?;
        Self::from_parts(&der, &private, send_x5c)
    }

    /// Loads a PKCS#12 (`.pfx`/`.p12`) file holding the certificate and its key.
    pub fn load_pkcs12(path: &Path, password: &str, send_x5c: bool) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let store = p12_keystore::KeyStore::from_pkcs12(&bytes, password, p12_keystore::Pkcs12ImportPolicy::Strict)
            .map_err(|error| format!("cannot open the PKCS#12 file (wrong CertificatePassword?): {error}"))?;
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

    /// A fresh client assertion for `token_endpoint`: unique `jti`, ten minutes.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str) -> Result<String, IdentityError> {
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
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|error| CredentialError::Sign(error).into())
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
    pub fn client_assertion(&self, client_id: &str, token_endpoint: &str) -> Result<Option<String>, IdentityError> {
        match self {
            Self::Secret(_) => Ok(None),
            Self::Certificate(certificate) => certificate.assertion(client_id, token_endpoint).map(Some),
            Self::SignedAssertionFile(path) => std::fs::read_to_string(path)
                .map(|text| Some(text.trim().to_owned()))
                .map_err(|error| CredentialError::ReadAssertion { path: path.clone(), source: error }.into()),
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
        path: std::path::PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
}

/// The first PEM block labelled `label`.
fn pem_block(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = text[start..].find(&end)? + start + end.len();
    Some(text[start..stop].to_owned())
}

fn private_key(pem: &str) -> Option<RsaPrivateKey> {
    if let Some(block) = pem_block(pem, "RSA PRIVATE KEY") {
        return RsaPrivateKey::from_pkcs1_pem(&block).ok();
    }
    RsaPrivateKey::from_pkcs8_pem(&pem_block(pem, "PRIVATE KEY")?).ok()
}
