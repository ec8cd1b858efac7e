//! What Microsoft's token endpoint answers, beyond RFC 6749: the extra
//! fields of a token response and the fields of an error response that
//! decide what happens next (`suberror`, `claims`).

use openidconnect::{core, ErrorResponse, ExtraTokenFields, IdTokenFields, StandardTokenResponse};
use serde::{Deserialize, Serialize};

use crate::protocol::claims::MicrosoftClaims;
use crate::error::IdentityError;

/// Microsoft's extra token response fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftTokenFields {
    /// `refresh_in`: seconds after which the access token should be renewed
    /// although it is still valid (sent for long-lived tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_in: Option<u64>,
}

impl ExtraTokenFields for MicrosoftTokenFields {}

/// The token endpoint response, with an optional ID token.
pub type MicrosoftTokenResponse = StandardTokenResponse<
    IdTokenFields<
        MicrosoftClaims,
        MicrosoftTokenFields,
        core::CoreGenderClaim,
        core::CoreJweContentEncryptionAlgorithm,
        core::CoreJwsSigningAlgorithm,
    >,
    core::CoreTokenType,
>;

/// An error from Microsoft's token endpoint. Only the codes are kept:
/// `error_description` is free text the provider controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftErrorResponse {
    /// The OAuth error code (`invalid_grant`, `interaction_required`, ...).
    pub error: String,
    /// Microsoft's refinement (`consent_required`, `bad_token`, `basic_action`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    /// A claims challenge to send back on the next authorize request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// AADSTS numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<u64>,
}

impl std::fmt::Display for MicrosoftErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The provider's words: cut, so an answer cannot fill a log line (LOG-02).
        f.write_str(&crate::telemetry::outside_text(&self.error))?;
        if let Some(suberror) = &self.suberror {
            write!(f, " ({})", crate::telemetry::outside_text(suberror))?;
        }
        if let Some(code) = self.error_codes.first() {
            write!(f, " AADSTS{code}")?;
        }
        Ok(())
    }
}

impl ErrorResponse for MicrosoftErrorResponse {}

/// What a refused silent token request means for the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The refresh token is dead (revoked, expired): only interaction helps.
    GrantDead,
    /// The grant lives but these scopes need the user (consent, MFA, claims).
    ScopesNeedUser,
    /// Anything else: a client or server problem, not the user's.
    Other,
}

impl MicrosoftErrorResponse {
    /// The provider's own trouble, worth a later retry; anything else that is
    /// not the user's is a problem with this app's request or credential.
    pub fn into_error(&self, what: &str) -> IdentityError {
        if self.is_transient() {
            IdentityError::ProviderUnavailable(format!("{what}: {self}"))
        } else {
            IdentityError::AppRequestRefused(format!("{what} was refused: {self}"))
        }
    }

    /// Whether the app's credential itself was refused as unknown, revoked,
    /// expired or badly signed (`invalid_client` with AADSTS700027 and its
    /// kin): loading it again may find a rotated one. A wrong client secret
    /// is not among them: configuration does not change while idweb runs.
    pub fn rejects_client_credential(&self) -> bool {
        /// 700027 unknown certificate or bad signature, 700024 assertion out of
        /// its time range, 7000274 invalid assertion signature, 7000214
        /// revoked certificate, 1000502 certificate outside its validity.
        const CREDENTIAL_REJECTED: [u64; 5] = [700027, 700024, 7000274, 7000214, 1000502];
        self.error == "invalid_client" && self.error_codes.iter().any(|code| CREDENTIAL_REJECTED.contains(code))
    }

    /// `temporarily_unavailable` or `server_error`: the provider's own trouble.
    pub fn is_transient(&self) -> bool {
        matches!(self.error.as_str(), "temporarily_unavailable" | "server_error")
    }

    /// Classifies the refusal (RT-03).
    pub fn refusal(&self) -> Refusal {
        match (self.error.as_str(), self.suberror.as_deref()) {
            ("invalid_grant", Some("consent_required" | "basic_action" | "additional_action" | "message_only" | "user_password_expired")) => {
                Refusal::ScopesNeedUser
            }
            ("invalid_grant", _) => Refusal::GrantDead,
            ("interaction_required" | "consent_required" | "login_required", _) => Refusal::ScopesNeedUser,
            _ => Refusal::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> MicrosoftErrorResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn refusals_are_classified_by_error_and_suberror() {
        assert_eq!(parse(r#"{"error":"invalid_grant","suberror":"bad_token"}"#).refusal(), Refusal::GrantDead);
        assert_eq!(parse(r#"{"error":"invalid_grant"}"#).refusal(), Refusal::GrantDead);
        assert_eq!(parse(r#"{"error":"invalid_grant","suberror":"consent_required"}"#).refusal(), Refusal::ScopesNeedUser);
        assert_eq!(parse(r#"{"error":"interaction_required","claims":"{}"}"#).refusal(), Refusal::ScopesNeedUser);
        assert_eq!(parse(r#"{"error":"invalid_client"}"#).refusal(), Refusal::Other);
    }

    #[test]
    fn the_display_holds_codes_not_the_providers_text() {
        let error = parse(r#"{"error":"invalid_grant","suberror":"bad_token","error_codes":[50173],"error_description":"AADSTS50173: secret text"}"#);
        assert_eq!(error.to_string(), "invalid_grant (bad_token) AADSTS50173");
    }
}
