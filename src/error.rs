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
        /// A claims challenge to pass on, if a resource sent one.
        claims: Option<String>,
    },
    /// What the user entered cannot be used; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// The identity provider or a downstream API is unreachable or failing.
    #[error("{0}")]
    Unavailable(String),
    /// The server function machinery failed (network, encoding).
    #[error("The request failed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<idweb_identity::IdentityError> for AppError {
    fn from(error: idweb_identity::IdentityError) -> Self {
        use idweb_identity::IdentityError as E;
        match error {
            E::NotSignedIn => Self::NotSignedIn,
            E::InteractionRequired { scopes, claims, .. } => Self::InteractionRequired { scopes, claims },
            E::Downstream { status, code, .. } => {
                tracing::warn!(status, code = %code, "downstream API refused the call");
                Self::Unavailable(format!("The service answered {status} ({code}). Please try again."))
            }
            E::TokenCache(_) | E::Session(_) => {
                let outage = matches!(&error, E::TokenCache(store) if store.is_outage());
                if outage {
                    // Logged once per outage by the engine; the user retries.
                    tracing::debug!(error = %idweb_identity::telemetry::error_chain(&error), "a store is unavailable");
                } else {
                    tracing::error!(error = %idweb_identity::telemetry::error_chain(&error), "a store failed");
                }
                Self::Unavailable("idweb cannot reach its session or token store right now. Please try again in a moment.".into())
            }
            other => {
                tracing::warn!(error = %idweb_identity::telemetry::error_chain(&other), "server function failed");
                Self::Unavailable("A service this page needs is not available right now. Please try again.".into())
            }
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use idweb_identity::{CacheError, IdentityError};

    use super::AppError;

    #[test]
    fn flt_03_a_store_outage_is_a_clear_try_again_message_not_a_crash() {
        let outage = CacheError::TimedOut { store: "redis", timeout: std::time::Duration::from_secs(1) };
        match AppError::from(IdentityError::TokenCache(outage)) {
            AppError::Unavailable(message) => {
                assert!(message.contains("try again in a moment"), "{message}");
                assert!(!message.contains("redis"), "no internals in the page: {message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
