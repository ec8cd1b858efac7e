//! The callback's query string, as any browser (or attacker) can send it.
#![no_main]

use idweb_identity::signin::AuthorizationResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = std::str::from_utf8(data).ok();
    if let Ok(response) = AuthorizationResponse::from_query(query) {
        // Every field parsed is one value, never a repeated parameter's second copy.
        let fields = [&response.code, &response.state, &response.error, &response.error_description, &response.iss];
        let _ = fields.iter().filter_map(|field| field.as_deref()).map(str::len).sum::<usize>();
    }
});
