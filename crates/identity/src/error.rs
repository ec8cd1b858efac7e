//! The identity engine's errors (`web/failure.rs` is the one place they become HTTP answers).

use idweb_routes::FailureReason;

pub use idweb_routes::{KNOWN_PROVIDER_ERRORS, SIGN_IN_ERROR_PATH, SIGN_IN_PATH};

/// Everything that can go wrong in sign-in, token acquisition and API calls.
/// Messages never contain tokens, codes or secrets.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The identity provider could not be reached or answered garbage.
    #[error("the identity provider is unavailable: {0}")]
    ProviderUnavailable(String),
    /// The identity provider answered, but not as the configured authority
    /// must (its discovery document names an issuer of another shape or
    /// host): the settings or the provider need an administrator, and
    /// retrying will not help.
    #[error("the identity provider is misconfigured: {}", crate::telemetry::outside_text(.0))]
    ProviderMisconfigured(String),
    /// The authorization response failed our checks before any token request.
    #[error("sign-in response rejected: {0}")]
    SignInRejected(SignInRejection),
    /// The provider answered the authorization request with an error (CB-04).
    #[error("the identity provider returned {}", crate::telemetry::outside_text(.error))]
    ProviderError {
        /// OAuth error code such as `access_denied`.
        error: String,
        /// The provider's human text, to be shown escaped.
        description: Option<String>,
    },
    /// The token endpoint refused to redeem the authorization code (TOK-02).
    #[error("the identity provider refused the authorization code: {}", crate::telemetry::outside_text(.0))]
    CodeRejected(String),
    /// The ID token names a signing key the provider has not published
    /// (JWKS-01: the keys are fetched again once, then it is rejected).
    #[error("ID token rejected: its signing key is not published")]
    UnknownSigningKey,
    /// The ID token failed validation (IDT-*).
    #[error("ID token rejected: {}", crate::telemetry::outside_text(.0))]
    IdTokenRejected(String),
    /// No token can be had silently; the user must go through the provider.
    #[error("interaction required for scopes {scopes:?}: {reason}")]
    InteractionRequired {
        /// The scopes that were asked for.
        scopes: Vec<String>,
        /// A claims challenge the authorize request must carry, if any.
        claims: Option<String>,
        /// Why, for logs and diagnostics.
        reason: String,
    },
    /// The user declined to consent to scopes asked for incrementally.
    #[error("the user declined consent to {scopes:?}")]
    ConsentDeclined {
        /// What was declined.
        scopes: Vec<String>,
        /// The page that asked, for the retry link.
        return_to: String,
    },
    /// The request needs a signed-in user and there is none.
    #[error("not signed in")]
    NotSignedIn,
    /// A downstream API answered with an error.
    #[error("downstream API error {status} {}: {}", crate::telemetry::outside_text(.code), crate::telemetry::outside_text(.message))]
    Downstream {
        /// HTTP status.
        status: u16,
        /// The API's error code.
        code: String,
        /// The API's message.
        message: String,
    },
    /// A downstream API refused the user's access token though it was just
    /// renewed (a 401 without a claims challenge, twice, FLT-05): the
    /// resource no longer accepts this grant, and only a new interactive
    /// sign-in can help.
    #[error("the API refused a renewed access token for {scopes:?}")]
    TokenRefused {
        /// The scopes of the refused token.
        scopes: Vec<String>,
    },
    /// A downstream API could not be reached.
    #[error("downstream API unavailable: {0}")]
    DownstreamUnavailable(String),
    /// The token cache store failed (Redis or PostgreSQL down, an entry
    /// sealed with a key this instance lacks): try again shortly.
    #[error("the token cache is unavailable")]
    TokenCache(#[from] crate::cache::StoreError),
    /// The session store failed.
    #[error("the session store is unavailable")]
    Session(#[from] tower_sessions::session::Error),
    /// The app's credential could not be used (certificate signing, assertion file).
    #[error("the app's credential cannot be used")]
    Credential(#[from] crate::credentials::CredentialError),
    /// The provider refused a request of the app itself (`invalid_client`,
    /// `unauthorized_client`, ...): the registration or credential is wrong.
    #[error("the identity provider refused the app's request: {}", crate::telemetry::outside_text(.0))]
    AppRequestRefused(String),
    /// The configuration does not allow what was asked (no such API, no token endpoint).
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// A caller asked for something malformed (a tenant override, a paging
    /// link to another host, a path outside an API's base URL).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Microsoft Graph was asked for, but the configured provider is a
    /// generic OpenID provider whose tokens Graph does not accept.
    #[error("Microsoft Graph needs the Microsoft identity platform; this app signs in with another provider")]
    GraphNotOffered,
    /// The HTTP client could not be built (TLS set-up).
    #[error("the HTTP client cannot be built")]
    HttpClient(#[source] reqwest::Error),
}

/// Why an authorization response was refused before redeeming its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignInRejection {
    /// No `state` parameter.
    #[error("state is missing")]
    StateMissing,
    /// The `state` matches no sign-in started in this browser: forged,
    /// replayed, or started in another browser (CB-01, CB-02).
    #[error("state does not match a sign-in started in this browser")]
    UnknownState,
    /// The sign-in was started too long ago.
    #[error("the sign-in took too long")]
    Expired,
    /// RFC 9207 `iss` names another issuer (CB-03).
    #[error("the response came from an unexpected issuer")]
    IssuerMismatch,
    /// RFC 9207 `iss` is absent though the provider says it sends it (CB-03).
    #[error("the response does not name its issuer")]
    IssuerMissing,
    /// A parameter came twice (RFC 6749 3.1 forbids it).
    #[error("a response parameter is repeated")]
    DuplicateParameter,
    /// The sign-in request itself is malformed (scopes or claims).
    #[error("the sign-in request is malformed")]
    BadRequest,
    /// The sign-in link asks for scopes no configured API uses, carries
    /// claims, or names a claims challenge this session never received (AUTHZ-05).
    #[error("the sign-in link asks for something this app did not offer")]
    NotOffered,
    /// Neither a code nor an error came back.
    #[error("the response carries no authorization code")]
    CodeMissing,
    /// The provider ended the session this sign-in belongs to (a logout for
    /// its `sid`) while the sign-in was completing.
    #[error("the provider ended this sign-in's session")]
    ProviderSessionEnded,
}

impl IdentityError {
    /// Why, as the error page explains it (a stable, non-sensitive code).
    pub fn reason(&self) -> FailureReason {
        match self {
            Self::ProviderUnavailable(_) => FailureReason::ProviderUnavailable,
            Self::ProviderMisconfigured(_) => FailureReason::ProviderMisconfigured,
            Self::SignInRejected(SignInRejection::Expired) => FailureReason::Expired,
            Self::SignInRejected(SignInRejection::BadRequest) => FailureReason::BadRequest,
            Self::SignInRejected(SignInRejection::NotOffered) => FailureReason::NotOffered,
            Self::SignInRejected(_) => FailureReason::InvalidResponse,
            Self::ProviderError { .. } => FailureReason::ProviderError,
            Self::ConsentDeclined { .. } => FailureReason::ConsentDeclined,
            Self::CodeRejected(_) => FailureReason::CodeRejected,
            Self::IdTokenRejected(_) | Self::UnknownSigningKey => FailureReason::IdTokenRejected,
            Self::InteractionRequired { .. } | Self::TokenRefused { .. } => FailureReason::InteractionRequired,
            Self::NotSignedIn => FailureReason::NotSignedIn,
            Self::Downstream { .. } | Self::DownstreamUnavailable(_) | Self::GraphNotOffered => FailureReason::Downstream,
            Self::TokenCache(_) | Self::Session(_) => FailureReason::StoreUnavailable,
            Self::Credential(_) | Self::AppRequestRefused(_) | Self::Misconfigured(_) | Self::InvalidRequest(_) | Self::HttpClient(_) => {
                FailureReason::Internal
            }
        }
    }

    /// [`Self::reason`]'s code, for logs.
    pub fn reason_code(&self) -> &'static str {
        self.reason().code()
    }
}
