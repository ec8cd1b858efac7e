//! The RS256 signing key, generated at start, and its JWKS entry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::EmulatorError;

/// A signing key: private half for minting, public half for verifying and publishing.
pub struct SigningKey {
    /// Key id (`kid`), also sent as `x5t` like Microsoft does.
    pub kid: String,
    /// For signing tokens.
    pub encoding: EncodingKey,
    /// For verifying tokens presented to Graph.
    pub decoding: DecodingKey,
    modulus: String,
    exponent: String,
}

impl SigningKey {
    /// A fresh 2048-bit RSA key.
    pub fn generate() -> Result<Self, EmulatorError> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| EmulatorError::Key(e.to_string()))?;
        let der = private.to_pkcs1_der().map_err(|e| EmulatorError::Key(e.to_string()))?;
        let modulus_bytes = private.n().to_bytes_be();
        let modulus = URL_SAFE_NO_PAD.encode(&modulus_bytes);
        let exponent = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        let decoding = DecodingKey::from_rsa_components(&modulus, &exponent).map_err(|e| EmulatorError::Key(e.to_string()))?;
        // Stable for the key, short like Microsoft's kids.
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&modulus_bytes)[..20]);
        Ok(Self { kid, encoding: EncodingKey::from_rsa_der(der.as_bytes()), decoding, modulus, exponent })
    }

    /// The key as a JWK, the way Microsoft publishes signing keys.
    pub fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.modulus,
            "e": self.exponent,
            "issuer": issuer,
        })
    }
}
