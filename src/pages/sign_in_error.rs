//! The page a failed sign-in lands on (CB-04): what happened and a way to
//! try again.
//!
//! Anyone can link to this page with any query (AUTHZ-05), so it shows only
//! text of its own: a known reason, a known OAuth error code, an AADSTS
//! number (digits). Nothing else from its URL reaches the page, and the
//! retry link is built from a same-origin path only.

use idweb_routes::{FailureReason, SignInError};
use leptos::prelude::*;

use crate::auth_links::sign_in_href;

/// Explains a failed sign-in. `page` is what the server read of the URL's
/// query ([`SignInError::read`] keeps only what the engine could have written).
#[component]
pub fn SignInErrorPage(page: SignInError) -> impl IntoView {
    let SignInError { reason, provider_error, aadsts, return_to } = page;
    let provider_error = provider_error.and_then(|code| describe_provider_error(code).map(|text| (code, text)));
    let declined = reason == Some(FailureReason::ConsentDeclined);
    let return_to = return_to.unwrap_or_else(|| "/".into());
    // After a declined consent the page that asked asks again itself; otherwise sign in again.
    let retry_href = if declined { return_to } else { sign_in_href(&return_to, &[], None) };
    view! {
        <section class="card" aria-labelledby="sign-in-error-title">
            <h1 id="sign-in-error-title">
                {if declined { "Access was not granted" } else { "You were not signed in" }}
            </h1>
            <p data-testid="error-reason">{describe_reason(reason)}</p>
            {provider_error.map(|(code, text)| view! {
                <p data-testid="provider-error-text">{text}</p>
                <p>"The identity provider said: " <code data-testid="provider-error">{code}</code></p>
            })}
            {aadsts.map(|code| view! {
                <p>"Error code for support: " <code data-testid="aadsts-code">{format!("AADSTS{code}")}</code></p>
            })}
            <p>
                <a class="button primary" href=retry_href rel="external" data-testid="retry-sign-in">"Try again"</a>
                " "
                <a href="/">"Back to the home page"</a>
            </p>
        </section>
    }
}

/// Human text for each reason the engine sends a failed sign-in here with.
fn describe_reason(reason: Option<FailureReason>) -> &'static str {
    let Some(reason) = reason else { return "Something went wrong while signing you in." };
    match reason {
        FailureReason::ProviderUnavailable => "The identity provider could not be reached. Please try again in a moment.",
        FailureReason::ProviderMisconfigured => {
            "The identity provider's answer does not match idweb's settings, so signing in cannot work until an administrator fixes them."
        }
        FailureReason::Expired => "The sign-in took too long. Please start again.",
        FailureReason::InvalidResponse => "The sign-in response did not match a sign-in started in this browser, so it was refused.",
        FailureReason::ProviderError => "The identity provider did not sign you in.",
        FailureReason::CodeRejected => "The identity provider refused to complete the sign-in.",
        FailureReason::IdTokenRejected => "The identity provider's answer failed validation, so you were not signed in.",
        FailureReason::ConsentDeclined => "You did not grant the permission the page asked for. The page stays unavailable until you do.",
        FailureReason::BadRequest => "The sign-in link was malformed, so it was not followed.",
        FailureReason::NotOffered => "The sign-in link asked for permissions this app does not use, so it was not followed.",
        FailureReason::StoreUnavailable => "idweb cannot reach its session or token store right now. Please try again in a moment.",
        FailureReason::InteractionRequired | FailureReason::NotSignedIn => "You need to sign in again.",
        FailureReason::Downstream | FailureReason::Internal => "Something went wrong while signing you in.",
    }
}

/// Text for the authorization error codes of RFC 6749 and OpenID Connect;
/// `None` for any other (not shown).
fn describe_provider_error(code: &str) -> Option<&'static str> {
    Some(match code {
        "access_denied" => "You or your organisation declined the request.",
        "consent_required" => "Your consent is needed before idweb can continue.",
        "interaction_required" | "login_required" | "account_selection_required" => "The identity provider needs you to sign in again.",
        "server_error" | "temporarily_unavailable" => "The identity provider had a problem. Please try again in a moment.",
        "invalid_request" | "unauthorized_client" | "unsupported_response_type" | "invalid_scope" | "invalid_request_uri"
        | "invalid_request_object" => "The identity provider refused idweb's request; an administrator needs to check the app registration.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authz_05_only_known_codes_have_text_on_the_page() {
        assert!(describe_provider_error("access_denied").is_some());
        assert!(describe_provider_error("call_support_at_1_800").is_none());
        assert!(describe_provider_error("<script>").is_none());
        assert_eq!(describe_reason(FailureReason::from_code("Your account is locked")), describe_reason(None));
    }

    #[test]
    fn every_code_the_engine_passes_on_is_explained() {
        for code in idweb_routes::KNOWN_PROVIDER_ERRORS {
            assert!(describe_provider_error(code).is_some(), "{code}");
        }
    }
}
