//! A downstream API's `WWW-Authenticate` header (claims challenges, CAE-01).
#![no_main]

use idweb_identity::downstream::challenge::insufficient_claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        if let Some(claims) = insufficient_claims(header) {
            // What comes out is JSON idweb will put into an authorize request.
            assert!(serde_json::from_str::<serde_json::Value>(&claims).is_ok(), "a challenge that is not JSON got through");
        }
    }
});
