//! The one place an engine error becomes an HTTP answer: a redirect to the
//! sign-in page, to a sign-in asking for what is missing, or to the error
//! page naming a known reason.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use idweb_routes::{SignInError, SignInLink, SIGN_IN_PATH};

use crate::error::{ErrorClass, IdentityError};

impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        self.log("sign-in flow");
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
            _ => {}
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

impl IdentityError {
    /// The status a route that answers with a bare status (no page, no
    /// redirect) gives this error, from its class: 401 signed out, 403
    /// another need of the user, 503 an outage (502 an API's), 400 a
    /// refused request (502 an API's refusal), 500 a defect.
    pub fn status(&self) -> StatusCode {
        match (self.class(), self) {
            (ErrorClass::NeedsUser, IdentityError::NotSignedIn) => StatusCode::UNAUTHORIZED,
            (ErrorClass::NeedsUser, _) => StatusCode::FORBIDDEN,
            (ErrorClass::Outage, IdentityError::DownstreamUnavailable(_)) | (ErrorClass::Refused, IdentityError::Downstream { .. }) => StatusCode::BAD_GATEWAY,
            (ErrorClass::Outage, _) => StatusCode::SERVICE_UNAVAILABLE,
            (ErrorClass::Refused, _) => StatusCode::BAD_REQUEST,
            (ErrorClass::Defect, _) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::error::IdentityError;

    #[test]
    fn a_bare_status_follows_the_class() {
        assert_eq!(IdentityError::NotSignedIn.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(IdentityError::InteractionRequired { scopes: vec![], claims: None, reason: String::new() }.status(), StatusCode::FORBIDDEN);
        assert_eq!(IdentityError::ProviderUnavailable("down".into()).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(IdentityError::DownstreamUnavailable("down".into()).status(), StatusCode::BAD_GATEWAY);
        assert_eq!(IdentityError::Downstream { status: 404, code: String::new(), message: String::new() }.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(IdentityError::InvalidRequest("tenant".into()).status(), StatusCode::BAD_REQUEST);
        assert_eq!(IdentityError::Misconfigured("x".into()).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
