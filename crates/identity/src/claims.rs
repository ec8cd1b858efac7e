//! Microsoft-specific ID token claims on top of the OpenID Connect standard ones.

use openidconnect::{core, AdditionalClaims, IdToken, IdTokenClaims, IdTokenFields, StandardTokenResponse};
use serde::{Deserialize, Serialize};

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

/// An ID token carrying [`MicrosoftClaims`].
pub type MicrosoftIdToken = IdToken<
    MicrosoftClaims,
    core::CoreGenderClaim,
    core::CoreJweContentEncryptionAlgorithm,
    core::CoreJwsSigningAlgorithm,
>;

/// The token endpoint response, with an optional ID token.
pub type MicrosoftTokenResponse = StandardTokenResponse<
    IdTokenFields<
        MicrosoftClaims,
        openidconnect::EmptyExtraTokenFields,
        core::CoreGenderClaim,
        core::CoreJweContentEncryptionAlgorithm,
        core::CoreJwsSigningAlgorithm,
    >,
    core::CoreTokenType,
>;
