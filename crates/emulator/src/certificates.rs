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
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use crate::error::EmulatorError;

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
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|error| named(error.to_string()))?;
        let public = RsaPublicKey::from_public_key_der(&spki)
            .map_err(|_| named("only RSA certificates can sign client assertions".into()))?;
        Ok(Self {
            x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
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
