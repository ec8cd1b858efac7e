//! Bodies from the token endpoint: token responses and error responses.
#![no_main]

use idweb_identity::token_response::{MicrosoftErrorResponse, MicrosoftTokenResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<MicrosoftTokenResponse>(data);
    if let Ok(error) = serde_json::from_slice::<MicrosoftErrorResponse>(data) {
        let _ = error.refusal();
        let _ = error.to_string();
        let _ = error.into_error("fuzzing");
    }
});
