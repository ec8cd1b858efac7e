//! Encryption at rest of shared token cache entries: AES-256-GCM with a key
//! ring (the first key encrypts, every key decrypts, so keys rotate without
//! losing entries), the key id stored with each entry, and the partition's
//! name and version bound as associated data, so an entry copied under
//! another user's name, or an old entry replayed under a new version, does
//! not decrypt.
//!
//! Entry layout: `0x01 | id length (1 byte) | id | nonce (12 bytes) | ciphertext and tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

/// The first byte of every entry; another value is a format this code does not read.
const FORMAT_V1: u8 = 1;
const NONCE_BYTES: usize = 12;
/// Longest key id, so the length fits one byte with room to spare.
const MAX_KEY_ID_CHARS: usize = 64;
/// Domain separation: these bytes start every entry's associated data.
const AAD_LABEL: &[u8] = b"idweb token cache v1";

/// One named AES-256 key.
pub struct EncryptionKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey").field("id", &self.id).field("key", &"[redacted]").finish()
    }
}

/// Why a key could not be built from configuration (the caller names the key's path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The id is empty, too long, or has characters other than letters, digits, `-`, `_`, `.`.
    #[error("the key id must be 1 to 64 letters, digits, '-', '_' or '.'")]
    BadId,
    /// The key is not base64.
    #[error("the key is not base64")]
    NotBase64,
    /// The key does not decode to 32 bytes.
    #[error("the key must be 32 bytes (44 base64 characters), not {0} bytes")]
    WrongLength(usize),
    /// Two keys share an id.
    #[error("two keys have the id {0:?}")]
    DuplicateId(String),
    /// The ring is empty.
    #[error("at least one key is needed")]
    Empty,
}

impl EncryptionKey {
    /// A key from its id and the base64 of 32 random bytes.
    pub fn from_base64(id: &str, key_base64: &str) -> Result<Self, KeyError> {
        let id_ok = !id.is_empty()
            && id.len() <= MAX_KEY_ID_CHARS
            && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(KeyError::BadId);
        }
        let bytes = STANDARD.decode(key_base64.trim()).map_err(|_| KeyError::NotBase64)?;
        if bytes.len() != 32 {
            return Err(KeyError::WrongLength(bytes.len()));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self { id: id.to_owned(), cipher })
    }

    /// The key's id, as stored with each entry.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// AES-GCM refused to seal (only a plaintext beyond its size limit does that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the entry is too large to encrypt")]
pub struct SealError;

/// Why an entry could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The entry names a key this ring does not hold: not tampering, a
    /// configuration difference between instances.
    #[error("encrypted with key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    /// The entry is not in the expected layout.
    #[error("the entry is malformed")]
    Malformed,
    /// Authentication failed: the entry was altered, moved to another
    /// partition, or replayed under another version.
    #[error("the entry failed authentication")]
    Tampered,
}

/// The keys of `TokenCache:EncryptionKeys`.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<EncryptionKey>,
}

impl KeyRing {
    /// A ring whose first key encrypts.
    pub fn new(keys: Vec<EncryptionKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|earlier| earlier.id == key.id) {
                return Err(KeyError::DuplicateId(key.id.clone()));
            }
        }
        Ok(Self { keys })
    }

    /// The id of the key new entries are encrypted with.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `plaintext` for the partition `name` at `version`. A random
    /// 96-bit nonce per entry: rotate keys well before 2^32 entries are
    /// sealed with one key (docs/OPERATIONS.md).
    pub fn seal(&self, name: &str, version: u64, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(name, version);
        let ciphertext = key.cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad }).map_err(|_| SealError)?;
        let mut sealed = Vec::with_capacity(2 + key.id.len() + NONCE_BYTES + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.push(key.id.len() as u8);
        sealed.extend_from_slice(key.id.as_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts an entry stored for the partition `name` at `version`.
    pub fn open(&self, name: &str, version: u64, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&format, rest) = sealed.split_first().ok_or(OpenError::Malformed)?;
        if format != FORMAT_V1 {
            return Err(OpenError::Malformed);
        }
        let (&id_length, rest) = rest.split_first().ok_or(OpenError::Malformed)?;
        let id_length = usize::from(id_length);
        if rest.len() < id_length + NONCE_BYTES {
            return Err(OpenError::Malformed);
        }
        let (id, rest) = rest.split_at(id_length);
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let id = std::str::from_utf8(id).map_err(|_| OpenError::Malformed)?;
        let key = self.keys.iter().find(|key| key.id == id).ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let aad = associated_data(name, version);
        key.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| OpenError::Tampered)
    }
}

/// Label, partition name and version, each delimited so no two inputs collide.
fn associated_data(name: &str, version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + name.len() + 18);
    aad.extend_from_slice(AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(&(name.len() as u64).to_be_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> EncryptionKey {
        EncryptionKey::from_base64(id, &STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn an_entry_opens_only_for_its_partition_and_version() {
        let ring = KeyRing::new(vec![key("k1", 1)]).unwrap();
        let sealed = ring.seal("u:adele", 7, b"tokens").unwrap();
        assert_eq!(ring.open("u:adele", 7, &sealed).unwrap(), b"tokens");
        assert_eq!(ring.open("u:alex", 7, &sealed), Err(OpenError::Tampered), "copied to another user");
        assert_eq!(ring.open("u:adele", 8, &sealed), Err(OpenError::Tampered), "replayed under another version");
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_ciphertext_is_tampering() {
        let ring = KeyRing::new(vec![key("k1", 1)]).unwrap();
        let sealed = ring.seal("u:adele", 1, b"tokens").unwrap();
        for index in (2 + 2 + NONCE_BYTES)..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 0x01;
            assert_eq!(ring.open("u:adele", 1, &altered), Err(OpenError::Tampered), "byte {index}");
        }
        assert_eq!(ring.open("u:adele", 1, &sealed[..5]), Err(OpenError::Malformed));
        assert_eq!(ring.open("u:adele", 1, &[]), Err(OpenError::Malformed));
    }

    #[test]
    fn rotation_reads_old_entries_and_writes_with_the_first_key() {
        let old = KeyRing::new(vec![key("2026-01", 1)]).unwrap();
        let sealed_by_old = old.seal("u:adele", 1, b"old").unwrap();
        let rotated = KeyRing::new(vec![key("2026-06", 2), key("2026-01", 1)]).unwrap();
        assert_eq!(rotated.open("u:adele", 1, &sealed_by_old).unwrap(), b"old");
        let sealed_by_new = rotated.seal("u:adele", 2, b"new").unwrap();
        assert_eq!(sealed_by_new[2..2 + 7], *b"2026-06");
        assert_eq!(old.open("u:adele", 2, &sealed_by_new), Err(OpenError::UnknownKey("2026-06".into())));
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert_eq!(EncryptionKey::from_base64("k", "c2hvcnQ=").unwrap_err(), KeyError::WrongLength(5));
        assert_eq!(EncryptionKey::from_base64("k", "not base64!").unwrap_err(), KeyError::NotBase64);
        assert_eq!(EncryptionKey::from_base64("bad id", &STANDARD.encode([0; 32])).unwrap_err(), KeyError::BadId);
        assert_eq!(KeyRing::new(vec![key("a", 1), key("a", 2)]).unwrap_err(), KeyError::DuplicateId("a".into()));
        assert_eq!(KeyRing::new(Vec::new()).unwrap_err(), KeyError::Empty);
        let printed = format!("{:?}", key("k1", 0x41));
        assert!(printed.contains("[redacted]") && !printed.contains("QUFB"));
    }

    #[test]
    fn the_same_plaintext_never_seals_to_the_same_bytes() {
        let ring = KeyRing::new(vec![key("k1", 1)]).unwrap();
        assert_ne!(ring.seal("u:adele", 1, b"tokens").unwrap(), ring.seal("u:adele", 1, b"tokens").unwrap());
    }
}
