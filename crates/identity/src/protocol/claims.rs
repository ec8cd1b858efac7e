//! Microsoft-specific ID token claims on top of the OpenID Connect standard ones.

use openidconnect::{core, AdditionalClaims, ClientId, IdToken, IdTokenClaims};
use serde::{Deserialize, Serialize};

use crate::error::IdentityError;

/// Claims Microsoft adds to v2.0 ID tokens that we rely on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftClaims {
    /// `oid`: the user's immutable object id.
    pub oid: Option<String>,
    /// `tid`: the tenant id.
    pub tid: Option<String>,
    /// `sid`: the provider session id.
    pub sid: Option<String>,
    /// `nbf`: not valid before (seconds since the epoch); Microsoft sends it.
    pub nbf: Option<i64>,
}

impl AdditionalClaims for MicrosoftClaims {}

/// ID token claims as verified by openidconnect.
pub type MicrosoftIdTokenClaims = IdTokenClaims<MicrosoftClaims, core::CoreGenderClaim>;

/// IDT-10: an `azp` claim, when present, must name this client (OpenID
/// Connect Core 3.1.3.7). openidconnect checks it only when there are
/// several audiences, so idweb checks it always.
pub fn check_authorized_party(claims: &MicrosoftIdTokenClaims, client_id: &ClientId) -> Result<(), IdentityError> {
    match claims.authorized_party() {
        Some(party) if party != client_id => {
            Err(IdentityError::IdTokenRejected("the ID token was issued to another party (azp)".into()))
        }
        _ => Ok(()),
    }
}

/// An ID token carrying [`MicrosoftClaims`].
pub type MicrosoftIdToken = IdToken<
    MicrosoftClaims,
    core::CoreGenderClaim,
    core::CoreJweContentEncryptionAlgorithm,
    core::CoreJwsSigningAlgorithm,
>;

/// The `claims` request parameter: a claims challenge (if any) with the
/// client capabilities (`xms_cc`) merged into its `access_token` member.
/// `None` when there is nothing to ask.
pub fn claims_request(challenge: Option<&str>, capabilities: &[String]) -> Option<String> {
    if capabilities.is_empty() {
        return challenge.map(str::to_owned);
    }
    let mut request = challenge
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    let access_token = request
        .as_object_mut()?
        .entry("access_token")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(members) = access_token.as_object_mut() {
        members.insert("xms_cc".into(), serde_json::json!({ "values": capabilities }));
    }
    Some(request.to_string())
}

#[cfg(test)]
mod tests {
    use super::claims_request;

    #[test]
    fn capabilities_merge_into_a_challenge_or_stand_alone() {
        let cp1 = vec!["cp1".to_owned()];
        assert_eq!(claims_request(None, &[]), None);
        assert_eq!(claims_request(Some("{}"), &[]).as_deref(), Some("{}"));
        assert_eq!(claims_request(None, &cp1).as_deref(), Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#));
        let merged: serde_json::Value =
            serde_json::from_str(&claims_request(Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#), &cp1).unwrap()).unwrap();
        assert_eq!(merged["access_token"]["nbf"]["value"], "1");
        assert_eq!(merged["access_token"]["xms_cc"]["values"][0], "cp1");
    }
}
