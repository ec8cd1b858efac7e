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

/// What kind of failure an error is, the one question every place that
/// answers an engine error asks first: what status, what to tell the user,
/// how loud to log ([`IdentityError::class`], [`IdentityError::log`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Something idweb depends on is down or slow (the provider, a store, an
    /// API): nothing is wrong with the request; trying again shortly works.
    Outage,
    /// Someone else said no: a sign-in response that fails its checks, a
    /// malformed request, an API refusing a call. Not idweb's defect.
    Refused,
    /// The user must act at the provider: sign in, consent, answer a claims
    /// challenge, sign in again.
    NeedsUser,
    /// A defect or a misconfiguration on idweb's side: an administrator or a
    /// developer must act.
    Defect,
}

impl IdentityError {
    /// Which kind of failure this is ([`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::ProviderUnavailable(_) | Self::DownstreamUnavailable(_) => ErrorClass::Outage,
            // A compare-and-set write that kept losing is load, not a defect: trying again works.
            Self::TokenCache(store) if store.is_outage() || matches!(store, crate::cache::StoreError::Contended { .. }) => ErrorClass::Outage,
            Self::Session(tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Backend(_))) => ErrorClass::Outage,
            Self::SignInRejected(_)
            | Self::ProviderError { .. }
            | Self::CodeRejected(_)
            | Self::IdTokenRejected(_)
            | Self::UnknownSigningKey
            | Self::Downstream { .. }
            | Self::InvalidRequest(_) => ErrorClass::Refused,
            Self::InteractionRequired { .. } | Self::ConsentDeclined { .. } | Self::NotSignedIn | Self::TokenRefused { .. } => ErrorClass::NeedsUser,
            Self::TokenCache(_)
            | Self::Session(_)
            | Self::ProviderMisconfigured(_)
            | Self::Credential(_)
            | Self::AppRequestRefused(_)
            | Self::Misconfigured(_)
            | Self::GraphNotOffered
            | Self::HttpClient(_) => ErrorClass::Defect,
        }
    }

    /// Logs this error once, where it is answered (`context`: "sign-in
    /// flow", "server function"), as loud as its class says: an outage at
    /// warn (a store's at debug: the store logs each outage once itself), a
    /// refused sign-in or request at warn on `idweb::security`, an API's
    /// refusal at info (status and code, never its message), what needs the user at debug (an API refusing a renewed
    /// token at info), a defect at error with its causes.
    pub fn log(&self, context: &'static str) {
        let reason = self.reason_code();
        match (self.class(), self) {
            (ErrorClass::Outage, Self::TokenCache(_) | Self::Session(_)) => {
                tracing::debug!(context, error = %crate::telemetry::error_chain(self), "a store is unavailable")
            }
            (ErrorClass::Outage, _) => tracing::warn!(context, error = %crate::telemetry::error_chain(self), "a service idweb depends on is unavailable"),
            // An API's message can quote the user's data: its status and code only.
            (ErrorClass::Refused, Self::Downstream { status, code, .. }) => {
                tracing::info!(context, status, code = %crate::telemetry::outside_text(code), "an API refused the call")
            }
            (ErrorClass::Refused, Self::InvalidRequest(_)) => tracing::warn!(target: "idweb::security", context, error = %self, "request refused"),
            (ErrorClass::Refused, _) => tracing::warn!(target: "idweb::security", context, reason, error = %self, "sign-in refused"),
            // An API that refused even a renewed token is worth an operator's eye; a sign-in link is not.
            (ErrorClass::NeedsUser, Self::TokenRefused { .. }) => tracing::info!(context, error = %self, "an API refused the user's renewed token"),
            (ErrorClass::NeedsUser, _) => tracing::debug!(context, reason, error = %self, "the user must act at the identity provider"),
            (ErrorClass::Defect, _) => tracing::error!(context, error = %crate::telemetry::error_chain(self), "failed"),
        }
    }

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

    /// This error as start-up prints it: what failed and each cause, and
    /// for a credential that did not load each entry tried on a line of
    /// its own, with its key, its `SourceType` and why.
    pub fn report(&self) -> String {
        if let Self::Credential(crate::credentials::CredentialError::NoneLoaded { attempts }) = self {
            let mut text = format!("{self}: no configured client credential could be loaded; each entry tried:");
            for attempt in attempts {
                text.push_str("\n  ");
                text.push_str(attempt);
            }
            return text;
        }
        crate::telemetry::error_chain(self)
    }

    /// [`Self::reason`]'s code, for logs.
    pub fn reason_code(&self) -> &'static str {
        self.reason().code()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ErrorClass, IdentityError, SignInRejection};
    use crate::cache::{Etag, StoreError};

    #[test]
    fn a_store_down_is_an_outage_and_an_entry_it_cannot_read_a_defect() {
        let down = IdentityError::TokenCache(StoreError::TimedOut { store: "redis", timeout: Duration::from_secs(1) });
        assert_eq!(down.class(), ErrorClass::Outage);
        let unreadable = IdentityError::TokenCache(StoreError::UnknownKey { key_id: "k9".into(), etag: Etag(1) });
        assert_eq!(unreadable.class(), ErrorClass::Defect);
        let session_down = IdentityError::Session(tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Backend("down".into())));
        assert_eq!(session_down.class(), ErrorClass::Outage);
        let undecodable = IdentityError::Session(tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Decode("bad".into())));
        assert_eq!(undecodable.class(), ErrorClass::Defect);
    }

    #[test]
    fn what_others_refuse_and_what_the_user_must_do_are_told_apart_from_defects() {
        assert_eq!(IdentityError::SignInRejected(SignInRejection::UnknownState).class(), ErrorClass::Refused);
        assert_eq!(IdentityError::Downstream { status: 404, code: "NotFound".into(), message: String::new() }.class(), ErrorClass::Refused);
        assert_eq!(IdentityError::NotSignedIn.class(), ErrorClass::NeedsUser);
        assert_eq!(IdentityError::TokenRefused { scopes: vec![] }.class(), ErrorClass::NeedsUser);
        assert_eq!(IdentityError::ProviderUnavailable("down".into()).class(), ErrorClass::Outage);
        assert_eq!(IdentityError::ProviderMisconfigured("issuer".into()).class(), ErrorClass::Defect);
        assert_eq!(IdentityError::Misconfigured("no such API".into()).class(), ErrorClass::Defect);
    }
}
