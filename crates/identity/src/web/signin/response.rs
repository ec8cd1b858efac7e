//! The authorization response as the callback receives it.

use crate::error::{IdentityError, SignInRejection};

/// The parameters of an authorization response (RFC 6749 4.1.2, RFC 9207).
#[derive(Default)]
pub struct AuthorizationResponse {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` this app sent.
    pub state: Option<String>,
    /// An OAuth error code instead of a code.
    pub error: Option<String>,
    /// The provider's text for `error`.
    pub error_description: Option<String>,
    /// RFC 9207: the issuer that answered.
    pub iss: Option<String>,
}

impl AuthorizationResponse {
    /// Parses the callback's query string. A parameter given twice is
    /// refused (RFC 6749 3.1): which copy to trust is exactly what an
    /// attacker would like to choose.
    pub fn from_query(raw: Option<&str>) -> Result<Self, IdentityError> {
        let mut response = Self::default();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut response.code,
                "state" => &mut response.state,
                "error" => &mut response.error,
                "error_description" => &mut response.error_description,
                "iss" => &mut response.iss,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(IdentityError::SignInRejected(SignInRejection::DuplicateParameter));
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_parameters_are_read_and_others_ignored() {
        let response = AuthorizationResponse::from_query(Some("code=c&state=s&session_state=x&iss=https%3A%2F%2Fi")).unwrap();
        assert_eq!(response.code.as_deref(), Some("c"));
        assert_eq!(response.state.as_deref(), Some("s"));
        assert_eq!(response.iss.as_deref(), Some("https://i"));
        assert!(response.error.is_none());
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        for query in ["state=a&state=b", "code=a&code=b&state=s", "iss=a&state=s&iss=b"] {
            assert!(matches!(
                AuthorizationResponse::from_query(Some(query)),
                Err(IdentityError::SignInRejected(SignInRejection::DuplicateParameter))
            ));
        }
    }
}
