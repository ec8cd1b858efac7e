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
    let bytes = URL_SAFE_NO_PAD.decode(member).ok()?;
    let first = bytes.iter().position(|byte| *byte != 0).unwrap_or(bytes.len());
    Some(bytes[first..].to_vec())
}

impl<'de> Deserialize<'de> for ProviderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // openidconnect reads the key (its rules for duplicate, padded or malformed members), and
        // ring's pair is taken from what it read, so both paths always hold the same key.
        let core = CoreJsonWebKey::deserialize(deserializer)?;
        let rsa = serde_json::to_value(&core)
            .ok()
            .and_then(|value| RsaMembers::deserialize(value).ok())
            .and_then(|members| Some((unsigned(&members.n)?, unsigned(&members.e)?)));
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
        // The algorithms above are RSA's, so a key of their type is an RSA key.
        let of_the_type = alg.key_type().as_ref() == Some(self.key_type());
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
            let key = jwk(&private, 0, members.clone());
            assert!(key.ring_parameters(&alg).is_none(), "{members}");
            assert!(key.verify_signature(&alg, MESSAGE, &signature).is_err(), "{members}");
        }
        // HS256 never takes the ring path (and idweb pins it out elsewhere).
        let key = jwk(&private, 0, serde_json::json!({}));
        assert!(key.ring_parameters(&CoreJwsSigningAlgorithm::HmacSha256).is_none());
    }

    #[test]
    fn ring_and_the_rsa_crate_agree_on_every_signature_tried() {
        let private = private_key(2048);
        let key = jwk(&private, 0, serde_json::json!({}));
        let good = rs256(&private, MESSAGE);
        let short = good[..good.len() - 1].to_vec();
        let long = [good.clone(), vec![0]].concat();
        let other_key = rs256(&private_key(2048), MESSAGE);
        for alg in [CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512] {
            assert!(key.ring_parameters(&alg).is_some());
            for signature in [&good, &tampered(good.clone()), &short, &long, &other_key, &Vec::new()] {
                assert_eq!(
                    key.verify_signature(&alg, MESSAGE, signature).is_ok(),
                    key.core.verify_signature(&alg, MESSAGE, signature).is_ok(),
                    "{alg:?}, a signature of {} bytes",
                    signature.len()
                );
            }
        }
        let rs512 = private.sign(Pkcs1v15Sign::new::<sha2::Sha512>(), &sha2::Sha512::digest(MESSAGE)).unwrap();
        assert!(key.verify_signature(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512, MESSAGE, &rs512).is_ok());
    }

    #[test]
    fn members_openidconnect_cannot_read_give_ring_no_key_either() {
        let private = private_key(2048);
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        let signature = rs256(&private, MESSAGE);
        let mut value = serde_json::to_value(jwk(&private, 0, serde_json::json!({}))).unwrap();
        // Padded base64url: openidconnect reads no modulus, so neither may ring.
        let padded = format!("{}==", value["n"].as_str().unwrap());
        value["n"] = padded.into();
        let key: ProviderKey = serde_json::from_value(value).unwrap();
        assert!(key.rsa.is_none() && key.ring_parameters(&alg).is_none());
        assert!(key.verify_signature(&alg, MESSAGE, &signature).is_err());
        // A member given twice is openidconnect's to refuse; the set then lacks the key.
        let twice = r#"{"keys":[{"kty":"RSA","use":"enc","use":"sig","n":"AQAB","e":"AQAB"}]}"#;
        let set: openidconnect::JsonWebKeySet<ProviderKey> = serde_json::from_str(twice).unwrap();
        let core_set: openidconnect::JsonWebKeySet<CoreJsonWebKey> = serde_json::from_str(twice).unwrap();
        assert_eq!(set.keys().len(), core_set.keys().len());
    }

    #[test]
    fn keys_outside_rings_sizes_stay_with_openidconnect() {
        let private = private_key(1024);
        let key = jwk(&private, 0, serde_json::json!({}));
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert!(key.ring_parameters(&alg).is_none());
        let signature = rs256(&private, MESSAGE);
        // openidconnect accepts 1024-bit keys, as before this type.
        assert!(key.verify_signature(&alg, MESSAGE, &signature).is_ok());
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
