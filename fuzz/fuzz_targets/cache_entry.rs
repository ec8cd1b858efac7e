//! Entries read back from Redis or PostgreSQL (L2): whatever the store
//! holds, opening it fails cleanly unless it was sealed with our key for
//! this partition and version.
#![no_main]

use idweb_identity::cache::encryption::{EncryptionKey, KeyRing};
use idweb_identity::cache::TokenPartition;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fuzz_target!(|data: &[u8]| {
    let Ok(key) = EncryptionKey::from_base64("fuzz", KEY) else { return };
    let Ok(ring) = KeyRing::new(vec![key]) else { return };
    // Random bytes never open (they would have to forge AES-GCM's tag).
    if let Ok(plaintext) = ring.open("u:fuzz", 1, data) {
        let _ = serde_json::from_slice::<TokenPartition>(&plaintext);
    }
    // What is sealed opens again to the same bytes, and only for its own name and version.
    if let Ok(sealed) = ring.seal("u:fuzz", 7, data) {
        assert_eq!(ring.open("u:fuzz", 7, &sealed).ok().as_deref(), Some(data));
        assert!(ring.open("u:other", 7, &sealed).is_err());
        assert!(ring.open("u:fuzz", 8, &sealed).is_err());
    }
    // And a partition decoded from arbitrary JSON never panics.
    let _ = serde_json::from_slice::<TokenPartition>(data);
});
