//! The RS256 signing keys, generated at start, their JWKS, and rotation.
//!
//! Two keys are always published, like Microsoft's JWKS: the one that signs
//! and the one before it, so tokens signed just before a rotation still
//! verify while clients that cached the old JWKS meet an unknown `kid`.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::EmulatorError;

/// A signing key: private half for minting, public half for verifying and publishing.
pub struct SigningKey {
    /// Key id (`kid`), also sent as `x5t` like Microsoft does.
    pub kid: String,
    // Signs with ring rather than jsonwebtoken's RustCrypto backend: several
    // times less CPU per RS256 signature, so a sign-in burst measures the app
    // under test and not the emulator.
    signer: RsaKeyPair,
    /// For verifying tokens presented to Graph and the sample API.
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
        let signer = RsaKeyPair::from_der(der.as_bytes()).map_err(|e| EmulatorError::Key(e.to_string()))?;
        Ok(Self { kid, signer, decoding, modulus, exponent })
    }

    /// A compact JWS (RS256) of `claims` under `header`, whose `alg` must be RS256.
    pub fn sign_jwt<T: Serialize + ?Sized>(&self, header: &Header, claims: &T) -> Result<String, EmulatorError> {
        let json = |error: serde_json::Error| EmulatorError::Key(format!("token part not serializable: {error}"));
        let mut jwt = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).map_err(json)?);
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(json)?));
        let mut signature = vec![0; self.signer.public().modulus_len()];
        self.signer
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), jwt.as_bytes(), &mut signature)
            .map_err(|_| EmulatorError::Key("RS256 signing failed".into()))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
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

/// The published keys; the first one signs.
pub struct KeySet {
    // Newest first; always two entries.
    published: RwLock<[Arc<SigningKey>; 2]>,
}

impl KeySet {
    /// Two fresh keys: one signing, one published beside it.
    pub fn generate() -> Result<Self, EmulatorError> {
        let signing = Arc::new(SigningKey::generate()?);
        let previous = Arc::new(SigningKey::generate()?);
        Ok(Self { published: RwLock::new([signing, previous]) })
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> Arc<SigningKey> {
        self.read()[0].clone()
    }

    /// The published key with this `kid`, if any.
    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.read().iter().find(|key| key.kid == kid).cloned()
    }

    /// The JWKS document.
    pub fn jwks(&self, issuer: &str) -> Value {
        json!({ "keys": self.read().iter().map(|key| key.jwk(issuer)).collect::<Vec<_>>() })
    }

    /// Generates a new signing key; the current one stays published as the
    /// previous key and the older one is withdrawn. Returns the new `kid`.
    /// CPU-bound (RSA key generation): call it off the async workers.
    pub fn rotate(&self) -> Result<String, EmulatorError> {
        let fresh = Arc::new(SigningKey::generate()?);
        let kid = fresh.kid.clone();
        let mut published = self.published.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = published[0].clone();
        *published = [fresh, current];
        Ok(kid)
    }

    // Each write replaces the whole array, so a poisoned lock still holds a consistent set.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, [Arc<SigningKey>; 2]> {
        self.published.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
