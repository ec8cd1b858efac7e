//! Certificates registered on app registrations, whose private keys sign
//! client assertions (`private_key_jwt`). Microsoft identifies the
//! certificate by its thumbprint in the assertion header: `x5t` (SHA-1)
//! or `x5t#S256` (SHA-256), both base64url of the DER encoding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use crate::error::EmulatorError;
use crate::lock;

/// The certificates registered on each app (by client id): the ones the
/// configuration lists, and those the Key Vault issues or rotates for an app.
#[derive(Debug, Default)]
pub struct CertificateRegistry {
    by_client: Mutex<HashMap<String, Vec<RegisteredCertificate>>>,
}

impl CertificateRegistry {
    /// The certificates registered on `client_id` now.
    pub fn of_app(&self, client_id: &str) -> Vec<RegisteredCertificate> {
        lock(&self.by_client).get(client_id).cloned().unwrap_or_default()
    }

    /// Registers `certificate` on `client_id` (once).
    pub fn register(&self, client_id: &str, certificate: RegisteredCertificate) {
        let mut by_client = lock(&self.by_client);
        let registered = by_client.entry(client_id.to_owned()).or_default();
        if !registered.iter().any(|known| known.x5t_s256 == certificate.x5t_s256) {
            registered.push(certificate);
        }
    }

    /// Removes the certificate with this SHA-256 thumbprint from `client_id`
    /// (a rotated certificate: assertions it signs are refused from now on).
    pub fn unregister(&self, client_id: &str, x5t_s256: &str) {
        if let Some(registered) = lock(&self.by_client).get_mut(client_id) {
            registered.retain(|known| known.x5t_s256 != x5t_s256);
        }
    }
}

/// One registered certificate, ready to verify assertions.
#[derive(Debug, Clone)]
pub struct RegisteredCertificate {
    /// base64url SHA-1 thumbprint (`x5t`).
    pub x5t: String,
    /// base64url SHA-256 thumbprint (`x5t#S256`).
    pub x5t_s256: String,
    /// RSA modulus, base64url (for jsonwebtoken).
    pub modulus: String,
    /// RSA exponent, base64url.
    pub exponent: String,
}

impl RegisteredCertificate {
    /// Reads a PEM certificate: the text itself, or a path to a file holding it.
    pub fn load(source: &str) -> Result<Self, EmulatorError> {
        let pem = if source.trim_start().starts_with("-----BEGIN") {
            source.to_owned()
        } else {
            std::fs::read_to_string(source)
                .map_err(|error| EmulatorError::Config(format!("certificate {source}: {error}")))?
        };
        let named = |reason: String| EmulatorError::Config(format!("certificate {}: {reason}", short(source)));
        let certificate = Certificate::from_pem(pem.as_bytes()).map_err(|error| named(error.to_string()))?;
        let der = certificate.to_der().map_err(|error| named(error.to_string()))?;
        Self::from_certificate(&certificate, &der).map_err(named)
    }

    /// A DER certificate (one the Key Vault issued).
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let certificate = Certificate::from_der(der).map_err(|error| error.to_string())?;
        Self::from_certificate(&certificate, der)
    }

    fn from_certificate(certificate: &Certificate, der: &[u8]) -> Result<Self, String> {
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|error| error.to_string())?;
        let public = RsaPublicKey::from_public_key_der(&spki).map_err(|_| "only RSA certificates can sign client assertions".to_owned())?;
        Ok(Self {
            x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(der)),
            modulus: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            exponent: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// Whether the assertion header's thumbprint names this certificate.
    pub fn matches(&self, x5t: Option<&str>, x5t_s256: Option<&str>) -> bool {
        x5t_s256.is_some_and(|thumbprint| thumbprint == self.x5t_s256) || x5t.is_some_and(|thumbprint| thumbprint == self.x5t)
    }
}

/// A source as an error message may name it: a path, or the start of inline PEM.
fn short(source: &str) -> String {
    if source.trim_start().starts_with("-----BEGIN") {
        "(inline PEM)".into()
    } else {
        source.to_owned()
    }
}
