//! The provider's published signing keys, verified with ring.
//!
//! openidconnect's own key type checks RSA signatures with the `rsa`
//! crate, whose modular exponentiation was three quarters of the CPU of a
//! whole sign-in (docs/BENCHMARKS.md). [`ProviderKey`] is that key type with
//! the RSA PKCS#1 v1.5 algorithms (RS256, RS384, RS512: what Microsoft
//! signs with) checked by ring instead. Everything else, and every key the
//! ring path does not take, goes to openidconnect unchanged, so which
//! tokens are accepted does not depend on the path.

use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse, JwsSigningAlgorithm, SignatureVerificationError};
use ring::signature::{RsaParameters, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Modulus sizes (bytes) the ring path takes: from ring's least (2048 bits)
/// to the `rsa` crate's most (4096 bits), so both paths accept the same keys.
const RING_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=512;

/// A published key: openidconnect's, with its RSA components kept for ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderKey {
    core: CoreJsonWebKey,
    /// `n` and `e` without leading zero bytes (ring refuses them; RFC 7518
    /// 6.3.1.1 says they are unsigned integers either way); `None` when the
    /// key has no readable pair.
    rsa: Option<(Vec<u8>, Vec<u8>)>,
}

/// The members of a JWK the ring path reads (base64url, RFC 7518 6.3.1).
#[derive(Deserialize)]
struct RsaMembers {
    n: String,
    e: String,
}

/// A base64url member as an unsigned big-endian integer without leading zeros.
fn unsigned(member: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(member.trim_end_matches('=')).ok()?;
    let first = bytes.iter().position(|byte| *byte != 0).unwrap_or(bytes.len());
    Some(bytes[first..].to_vec())
}

impl<'de> Deserialize<'de> for ProviderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let core = CoreJsonWebKey::deserialize(&value).map_err(serde::de::Error::custom)?;
        // A pair openidconnect could not read either stays with openidconnect.
        let rsa = RsaMembers::deserialize(&value).ok().and_then(|members| Some((unsigned(&members.n)?, unsigned(&members.e)?)));
        Ok(Self { core, rsa })
    }
}

impl Serialize for ProviderKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.core.serialize(serializer)
    }
}

impl ProviderKey {
    /// Ring's parameters for `alg` when this key can be checked by ring:
    /// an RSA PKCS#1 v1.5 algorithm, a key openidconnect would use for it
    /// (same checks of use, type and `alg`), a modulus in range.
    fn ring_parameters(&self, alg: &CoreJwsSigningAlgorithm) -> Option<(&'static RsaParameters, &[u8], &[u8])> {
        let parameters = match alg {
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => &RSA_PKCS1_2048_8192_SHA256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => &RSA_PKCS1_2048_8192_SHA384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512 => &RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        };
        let usable_for_signatures = self.key_use().is_none_or(|key_use| key_use.allows_signature());
        let of_the_type = alg.key_type().as_ref() == Some(self.key_type()) && *self.key_type() == CoreJsonWebKeyType::RSA;
        let alg_allowed = match self.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => true,
            JsonWebKeyAlgorithm::Algorithm(key_alg) => key_alg == alg,
            JsonWebKeyAlgorithm::Unsupported => false,
        };
        let (n, e) = self.rsa.as_ref()?;
        (usable_for_signatures && of_the_type && alg_allowed && RING_MODULUS_BYTES.contains(&n.len())).then_some((parameters, n, e))
    }
}

impl JsonWebKey for ProviderKey {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.core.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.core.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.core.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.core.signing_alg()
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        Self { core: CoreJsonWebKey::new_symmetric(key), rsa: None }
    }

    fn verify_signature(&self, alg: &CoreJwsSigningAlgorithm, message: &[u8], signature: &[u8]) -> Result<(), SignatureVerificationError> {
        match self.ring_parameters(alg) {
            Some((parameters, n, e)) => RsaPublicKeyComponents { n, e }
                .verify(parameters, message, signature)
                .map_err(|_| SignatureVerificationError::CryptoError("bad signature".into())),
            None => self.core.verify_signature(alg, message, signature),
        }
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.core.hash_bytes(bytes, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;
    use rsa::{Pkcs1v15Sign, RsaPrivateKey};
    use sha2::{Digest, Sha256, Sha384};

    const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0";

    fn private_key(bits: usize) -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).unwrap()
    }

    /// The JWK of `private`'s public half, `n` with `zeros` leading zero bytes, plus `members`.
    fn jwk(private: &RsaPrivateKey, zeros: usize, members: serde_json::Value) -> ProviderKey {
        let mut n = vec![0; zeros];
        n.extend(private.n().to_bytes_be());
        let mut value = serde_json::json!({
            "kty": "RSA", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        });
        value.as_object_mut().unwrap().extend(members.as_object().unwrap().clone());
        serde_json::from_value(value).unwrap()
    }

    fn rs256(private: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
        private.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message)).unwrap()
    }

    fn tampered(mut signature: Vec<u8>) -> Vec<u8> {
        signature[17] ^= 1;
        signature
    }

    #[test]
    fn ring_checks_rsa_pkcs1_signatures_as_openidconnect_does() {
        let private = private_key(2048);
        let key = jwk(&private, 0, serde_json::json!({ "use": "sig" }));
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert!(key.ring_parameters(&alg).is_some(), "a 2048-bit signing key takes the ring path");
        let signature = rs256(&private, MESSAGE);
        assert!(key.verify_signature(&alg, MESSAGE, &signature).is_ok());
        assert!(key.core.verify_signature(&alg, MESSAGE, &signature).is_ok());
        assert!(key.verify_signature(&alg, MESSAGE, &tampered(signature.clone())).is_err());
        assert!(key.verify_signature(&alg, b"another message", &signature).is_err());
        // RS384 with an RS384 signature; an RS256 signature is not one.
        let rs384 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384;
        let signature384 = private.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(MESSAGE)).unwrap();
        assert!(key.verify_signature(&rs384, MESSAGE, &signature384).is_ok());
        assert!(key.verify_signature(&rs384, MESSAGE, &signature).is_err());
    }

    #[test]
    fn a_modulus_written_with_leading_zeros_is_the_same_key() {
        let private = private_key(2048);
        let key = jwk(&private, 2, serde_json::json!({}));
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert!(key.ring_parameters(&alg).is_some());
        assert!(key.verify_signature(&alg, MESSAGE, &rs256(&private, MESSAGE)).is_ok());
    }

    #[test]
    fn keys_openidconnect_would_not_use_for_the_algorithm_are_refused_as_it_refuses_them() {
        let private = private_key(2048);
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        let signature = rs256(&private, MESSAGE);
        for members in [serde_json::json!({ "use": "enc" }), serde_json::json!({ "alg": "RS384" }), serde_json::json!({ "kty": "EC" })] {
            let Ok(key) = serde_json::from_value::<ProviderKey>({
                let mut value = serde_json::to_value(jwk(&private, 0, serde_json::json!({}))).unwrap();
                value.as_object_mut().unwrap().extend(members.as_object().unwrap().clone());
                value
            }) else {
                continue; // openidconnect cannot even read it: no key at all
            };
            assert!(key.ring_parameters(&alg).is_none(), "{members}");
            assert!(key.verify_signature(&alg, MESSAGE, &signature).is_err(), "{members}");
        }
        // HS256 never takes the ring path (and idweb pins it out elsewhere).
        let key = jwk(&private, 0, serde_json::json!({}));
        assert!(key.ring_parameters(&CoreJwsSigningAlgorithm::HmacSha256).is_none());
    }

    #[test]
    fn keys_outside_rings_sizes_stay_with_openidconnect() {
        let private = private_key(1024);
        let key = jwk(&private, 0, serde_json::json!({}));
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert!(key.ring_parameters(&alg).is_none());
        let signature = rs256(&private, MESSAGE);
        assert_eq!(key.verify_signature(&alg, MESSAGE, &signature).is_ok(), key.core.verify_signature(&alg, MESSAGE, &signature).is_ok());
        assert!(key.verify_signature(&alg, MESSAGE, &tampered(signature)).is_err());
    }

    #[test]
    fn the_key_serializes_as_the_jwk_it_was_read_from() {
        let private = private_key(2048);
        let key = jwk(&private, 0, serde_json::json!({ "use": "sig" }));
        let again: ProviderKey = serde_json::from_value(serde_json::to_value(&key).unwrap()).unwrap();
        assert_eq!(again, key);
        assert_eq!(key.key_id().map(|id| id.as_str()), Some("k1"));
    }
}
