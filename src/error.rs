//! The error type server functions return to components.
//!
//! It carries what a person needs to read and what the UI needs to decide
//! (sign in again or not), never a token or the provider's raw answer.

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
    /// The identity provider, a session or token store or a web API is
    /// unreachable or failing: the text names which and says to try again.
    #[error("{0}")]
    Unavailable(String),
    /// A web API the page reads refused the call: the text names the
    /// service and what to do; `support` is its status and error code, for
    /// a support ticket (shown apart, never in the sentence).
    #[error("{message}")]
    Upstream {
        /// What happened and what to do, for people.
        message: String,
        /// The service's status and code ("Microsoft Graph answered 404 itemNotFound").
        support: String,
    },
    /// The page's service is not configured in this deployment (the text
    /// names the setting): the page has nothing to show, and retrying will
    /// not change that.
    #[error("{0}")]
    NotConfigured(String),
    /// What the page names does not exist (a message deleted since): the text says so.
    #[error("{0}")]
    NotFound(String),
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
            Self::NotConfigured(_) | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal | Self::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl FromServerFnError for AppError {
    // JSON, read as text in the browser (crate::json_text).
    type Encoder = crate::json_text::JsonTextEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // A call whose arguments are not the function's (a field missing, a number that is not one):
            // the caller's mistake, said as such (server_fn still answers it with 500).
            ServerFnErrorErr::Args(message) => Self::Invalid(format!("This request does not carry what the action takes: {message}")),
            other => Self::Transport(other.to_string()),
        }
    }
}

/// A service a page reads, by the name people know it by: errors say
/// which one failed ("Microsoft Graph is unavailable right now").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service(&'static str);

impl Service {
    /// Microsoft Graph (Profile, Mail, the photo).
    pub const GRAPH: Self = Self("Microsoft Graph");
    /// The sample web API behind the To-do page.
    pub const TODO_LIST: Self = Self("The to-do list service");
    /// What a failure outside any one service's call names.
    pub const UNNAMED: Self = Self("A service this page reads");

    /// The name, at the start of a sentence.
    pub fn name(self) -> &'static str {
        self.0
    }
}

#[cfg(feature = "ssr")]
impl From<idweb_identity::IdentityError> for AppError {
    fn from(error: idweb_identity::IdentityError) -> Self {
        Self::from_identity(error, Service::UNNAMED)
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// What the page says for an engine error met while reading `service`.
    /// Decided by the error's class ([`idweb_identity::ErrorClass`]), as
    /// the engine's own answers are; the variant and the service only pick
    /// the words.
    pub fn from_identity(error: idweb_identity::IdentityError, service: Service) -> Self {
        use idweb_identity::{ErrorClass, IdentityError as E};
        error.log("server function");
        let name = service.name();
        match (error.class(), error) {
            (ErrorClass::NeedsUser, E::TokenRefused { .. }) => Self::SignInAgain,
            // A challenge with claims is kept in the session first (server::context::failure); none reaches here.
            (ErrorClass::NeedsUser, E::InteractionRequired { scopes, .. } | E::ConsentDeclined { scopes, .. }) => {
                Self::InteractionRequired { scopes, challenge: None }
            }
            (ErrorClass::NeedsUser, _) => Self::NotSignedIn,
            (ErrorClass::Outage, E::DownstreamUnavailable(_)) => Self::Unavailable(format!("{name} is not answering right now. Try again in a minute.")),
            (ErrorClass::Outage, E::ProviderUnavailable(_)) => {
                Self::Unavailable("The Microsoft sign-in service is unavailable right now. Try again in a minute.".into())
            }
            (ErrorClass::Outage, _) => {
                Self::Unavailable("idweb cannot reach the store that keeps your sign-in right now. Try again in a minute.".into())
            }
            (ErrorClass::Refused, E::Downstream { status, code, .. }) => {
                let support = format!("{name} answered {status} {}", idweb_identity::telemetry::outside_text(&code));
                Self::Upstream { message: refusal_words(name, status), support }
            }
            (ErrorClass::Refused, _) => Self::Invalid("That request cannot be served.".into()),
            (ErrorClass::Defect, E::GraphNotOffered) => Self::Unavailable(
                "This page reads Microsoft Graph, which needs the Microsoft identity platform; this idweb signs in with another provider.".into(),
            ),
            (ErrorClass::Defect, _) => Self::Internal,
        }
    }
}

/// What a service's refusal with `status` means for the person reading the page.
#[cfg(feature = "ssr")]
fn refusal_words(name: &str, status: u16) -> String {
    match status {
        429 => format!("{name} is busy right now. Try again in a minute."),
        500..=599 => format!("{name} is unavailable right now. Try again in a minute."),
        403 => format!("{name} does not let your account do this. If you need it, ask your administrator for access."),
        404 | 410 => format!("{name} no longer has what this page asked for. Reload the page to see what is there now."),
        409 | 412 => format!("{name} changed since this page was loaded. Reload the page and try again."),
        _ => format!("{name} refused the request. Try again; if it keeps happening, contact support with the details below."),
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
                assert!(message.contains("Try again in a minute"), "{message}");
                assert!(!message.contains("redis"), "no internals in the page: {message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod words {
    use idweb_identity::IdentityError;

    use super::{AppError, Service};

    #[test]
    fn a_failing_service_is_named_with_what_to_do_and_its_code_kept_apart() {
        let unavailable = IdentityError::Downstream { status: 503, code: "serviceNotAvailable".into(), message: "x".into() };
        match AppError::from_identity(unavailable, Service::GRAPH) {
            AppError::Upstream { message, support } => {
                assert_eq!(message, "Microsoft Graph is unavailable right now. Try again in a minute.");
                assert_eq!(support, "Microsoft Graph answered 503 serviceNotAvailable");
            }
            other => panic!("{other:?}"),
        }
        let gone = IdentityError::Downstream { status: 404, code: "Request_ResourceNotFound".into(), message: "x".into() };
        let text = AppError::from_identity(gone, Service::TODO_LIST).to_string();
        assert!(text.starts_with("The to-do list service no longer has"), "{text}");
        let down = AppError::from_identity(IdentityError::DownstreamUnavailable("connect refused".into()), Service::GRAPH).to_string();
        assert_eq!(down, "Microsoft Graph is not answering right now. Try again in a minute.");
        assert!(!down.contains("refused"), "no internals: {down}");
    }
}
