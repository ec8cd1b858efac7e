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
