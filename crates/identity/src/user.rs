//! The signed-in user as the rest of the app sees it.

use serde::{Deserialize, Serialize};

pub use idweb_stores::HomeAccountId;

/// Who is signed in, as kept in the server-side session. Holds no tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    /// Cache partition key and identity of the user.
    pub home_account_id: HomeAccountId,
    /// `oid`: the user's object id in their tenant.
    pub object_id: String,
    /// `tid`: the tenant that issued the user's ID token.
    pub tenant_id: String,
    /// `name`: display name for greetings.
    pub name: String,
    /// `preferred_username`: usually the UPN; a hint for re-authentication, never a key.
    pub username: String,
    /// `sid`: the provider's session id, for front-channel logout.
    pub provider_session_id: Option<String>,
    /// What the ID token said, for the diagnostics page (never the token itself).
    #[serde(default)]
    pub id_token: IdTokenSummary,
    /// When the user signed in to this session, seconds since the epoch
    /// (the absolute session lifetime counts from here; 0 reads as long ago).
    #[serde(default)]
    pub signed_in_at: u64,
}

impl SignedInUser {
    /// How long ago the user signed in to this session.
    pub fn signed_in_for(&self) -> std::time::Duration {
        std::time::Duration::from_secs(crate::clock::unix_seconds().saturating_sub(self.signed_in_at))
    }
}

/// The checked ID token's registered claims, kept for diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenSummary {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audiences: Vec<String>,
    /// `sub` (pairwise per app).
    pub subject: String,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
}
