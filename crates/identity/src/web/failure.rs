//! The one place an engine error becomes an HTTP answer: a redirect to the
//! sign-in page, to a sign-in asking for what is missing, or to the error
//! page naming a known reason.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use idweb_routes::{SignInError, SignInLink, SIGN_IN_PATH};

use crate::error::IdentityError;

impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        match &self {
            IdentityError::NotSignedIn => return Redirect::to(SIGN_IN_PATH).into_response(),
            IdentityError::InteractionRequired { scopes, claims: None, .. } => {
                // Ask for exactly what is missing, not a plain sign-in.
                let link = SignInLink { scopes, ..SignInLink::to("/") };
                return Redirect::to(&link.href()).into_response();
            }
            IdentityError::InteractionRequired { claims: Some(_), .. } => {
                // A claims challenge is kept in the session (AUTHZ-05), which a bare
                // response cannot reach: the handler should have used
                // `Identity::sign_in_request`. Asking without the claims would loop.
                tracing::error!("a claims challenge reached a handler without a session; use Identity::sign_in_request")
            }
            // The store logs its outage once (`outage::OutageLog`); each request, at debug.
            IdentityError::TokenCache(_) | IdentityError::Session(_) => {
                tracing::debug!(error = %crate::telemetry::error_chain(&self), "sign-in flow: a store is unavailable")
            }
            IdentityError::ProviderUnavailable(_) => tracing::warn!(error = %self, "sign-in flow: the identity provider is unavailable"),
            // The error page says "sign in again"; not an attack.
            IdentityError::TokenRefused { .. } => tracing::info!(error = %self, "an API refused the user's tokens"),
            IdentityError::Credential(_)
            | IdentityError::AppRequestRefused(_)
            | IdentityError::Misconfigured(_)
            | IdentityError::ProviderMisconfigured(_)
            | IdentityError::InvalidRequest(_)
            | IdentityError::HttpClient(_) => {
                tracing::error!(error = %crate::telemetry::error_chain(&self), "sign-in flow failed")
            }
            _ => tracing::warn!(target: "idweb::security", reason = self.reason_code(), error = %self, "sign-in refused"),
        }
        // AUTHZ-05: the error page is a URL anyone can link to, so it carries
        // only known codes and numbers, never text it would show.
        let mut page = SignInError::new(self.reason());
        if let IdentityError::ProviderError { error, description } = &self {
            page = page.with_provider_error(error);
            if let Some(description) = description {
                page = page.with_aadsts(description);
            }
        }
        if let IdentityError::ConsentDeclined { return_to, .. } = &self {
            // "Try again" goes back to the page that asked; it asks again itself.
            page = page.with_return_to(return_to);
        }
        let mut response = Redirect::to(&page.href()).into_response();
        response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        response
    }
}
