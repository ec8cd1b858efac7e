//! Reading a resource's `WWW-Authenticate` claims challenge (CAE-01):
//! `Bearer realm="", ..., error="insufficient_claims", claims="<base64 JSON>"`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The decoded claims JSON of an `insufficient_claims` challenge, if the
/// header carries one.
pub fn insufficient_claims(www_authenticate: &str) -> Option<String> {
    let params = auth_params(www_authenticate.trim().strip_prefix("Bearer")?);
    let error = params.iter().find(|(name, _)| name.eq_ignore_ascii_case("error"))?;
    if error.1 != "insufficient_claims" {
        return None;
    }
    let encoded = &params.iter().find(|(name, _)| name.eq_ignore_ascii_case("claims"))?.1;
    // Microsoft sends standard base64; accept base64url too.
    let bytes = STANDARD.decode(encoded).or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('='))).ok()?;
    let claims = String::from_utf8(bytes).ok()?;
    serde_json::from_str::<serde_json::Value>(&claims).ok()?.is_object().then_some(claims)
}

/// `name="value"` pairs (RFC 9110 auth-params; quoted values may contain commas).
fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = text.trim_start();
    while let Some(equals) = rest.find('=') {
        let name = rest[..equals].trim().trim_start_matches(',').trim().to_owned();
        rest = rest[equals + 1..].trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            let value = quoted[..end].to_owned();
            rest = quoted.get(end + 1..).unwrap_or_default();
            value
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let value = rest[..end].trim().to_owned();
            rest = &rest[end..];
            value
        };
        params.push((name, value));
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_microsoft_challenge_yields_its_decoded_claims() {
        let claims = r#"{"access_token":{"nbf":{"essential":true, "value":"1604106651"}}}"#;
        let header = format!(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="{}""#,
            STANDARD.encode(claims)
        );
        assert_eq!(insufficient_claims(&header).as_deref(), Some(claims));
    }

    #[test]
    fn other_challenges_and_garbage_yield_nothing() {
        assert_eq!(insufficient_claims(r#"Bearer realm="", error="invalid_token""#), None);
        assert_eq!(insufficient_claims(r#"Basic realm="token""#), None);
        assert_eq!(insufficient_claims(r#"Bearer error="insufficient_claims", claims="not base64!""#), None);
        assert_eq!(insufficient_claims("Bearer error=insufficient_claims, claims"), None);
    }
}
