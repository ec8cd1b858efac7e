//! appsettings trees: the loader must refuse, naming a key, never panic.
#![no_main]

use idweb_identity::IdentityConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Err(error) = IdentityConfig::from_json(&tree) {
            let _ = error.to_string();
        }
    }
});
