//! The error type server functions return to components.
//!
//! It carries what a person needs to read and what the UI needs to decide
//! (sign in again or not), never a token or the provider's raw answer.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Why a server function could not give a page its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// There is no signed-in user in this session.
    #[error("You are not signed in.")]
    NotSignedIn,
    /// A token cannot be obtained silently: the user must grant access to
    /// these scopes (or answer this claims challenge) at the identity provider.
    #[error("idweb needs your permission to continue.")]
    InteractionRequired {
        /// The scopes to ask for.
        scopes: Vec<String>,
        /// The id of the claims challenge the server kept for this session,
        /// if a resource sent one (the claims themselves stay on the server).
        challenge: Option<String>,
    },
    /// A service the page reads refused the user's sign-in even after it
    /// was renewed (FLT-05): the user signs in again, interactively.
    #[error("The service this page reads no longer accepts your sign-in. Sign in again to continue.")]
    SignInAgain,
    /// What the user entered cannot be used; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// The identity provider or a session or token store is unreachable: try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// A web API the page reads answered with an error or not at all.
    #[error("{0}")]
    Upstream(String),
    /// A defect or misconfiguration on idweb's side (the log says which).
    #[error("Something went wrong on idweb's side. Please try again later.")]
    Internal,
    /// The server function machinery failed (network, encoding).
    #[error("The request failed: {0}")]
    Transport(String),
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status a server function answers with for this error, so
    /// monitoring counts an anonymous call as 401, not as a server error.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::NotSignedIn => StatusCode::UNAUTHORIZED,
            // The user must go to the provider; the page says how.
            Self::InteractionRequired { .. } | Self::SignInAgain => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal | Self::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<idweb_identity::IdentityError> for AppError {
    /// Decided by the error's class ([`idweb_identity::ErrorClass`]), as
    /// the engine's own answers are; the variant only picks the words.
    fn from(error: idweb_identity::IdentityError) -> Self {
        use idweb_identity::{ErrorClass, IdentityError as E};
        error.log("server function");
        match (error.class(), error) {
            (ErrorClass::NeedsUser, E::TokenRefused { .. }) => Self::SignInAgain,
            // A challenge with claims is kept in the session first (server::context::failure); none reaches here.
            (ErrorClass::NeedsUser, E::InteractionRequired { scopes, .. } | E::ConsentDeclined { scopes, .. }) => {
                Self::InteractionRequired { scopes, challenge: None }
            }
            (ErrorClass::NeedsUser, _) => Self::NotSignedIn,
            (ErrorClass::Outage, E::DownstreamUnavailable(_)) => Self::Upstream("A service this page reads is not answering. Please try again.".into()),
            (ErrorClass::Outage, E::ProviderUnavailable(_)) => {
                Self::Unavailable("The sign-in service is unavailable right now. Please try again in a moment.".into())
            }
            (ErrorClass::Outage, _) => Self::Unavailable("idweb cannot reach its session or token store right now. Please try again in a moment.".into()),
            (ErrorClass::Refused, E::Downstream { status, code, .. }) => {
                Self::Upstream(format!("The service answered {status} ({}). Please try again.", idweb_identity::telemetry::outside_text(&code)))
            }
            (ErrorClass::Refused, _) => Self::Invalid("That request cannot be served.".into()),
            (ErrorClass::Defect, E::GraphNotOffered) => Self::Unavailable(
                "This page reads Microsoft Graph, which needs the Microsoft identity platform; this idweb signs in with another provider.".into(),
            ),
            (ErrorClass::Defect, _) => Self::Internal,
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use idweb_identity::{StoreError, IdentityError};

    use super::AppError;

    #[test]
    fn flt_03_a_store_outage_is_a_clear_try_again_message_not_a_crash() {
        let outage = StoreError::TimedOut { store: "redis", timeout: std::time::Duration::from_secs(1) };
        match AppError::from(IdentityError::TokenCache(outage)) {
            AppError::Unavailable(message) => {
                assert!(message.contains("try again in a moment"), "{message}");
                assert!(!message.contains("redis"), "no internals in the page: {message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
