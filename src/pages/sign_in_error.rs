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
            {provider_error.map(|(_, text)| view! { <p data-testid="provider-error-text">{text}</p> })}
            {aadsts.as_deref().and_then(describe_aadsts).map(|text| view! { <p data-testid="aadsts-text">{text}</p> })}
            // The codes themselves only for support, apart from the sentences.
            {(provider_error.is_some() || aadsts.is_some()).then(|| view! {
                <p class="support-detail">
                    "Details for support: "
                    {provider_error.map(|(code, _)| view! { <code data-testid="provider-error">{code}</code> })}
                    {(provider_error.is_some() && aadsts.is_some()).then_some(" · ")}
                    {aadsts.map(|code| view! { <code data-testid="aadsts-code">{format!("AADSTS{code}")}</code> })}
                </p>
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

/// What the Microsoft identity platform's most common AADSTS codes mean
/// for the person signing in, and what they can do; `None` for the others
/// (the code alone is shown, for support).
fn describe_aadsts(code: &str) -> Option<&'static str> {
    Some(match code {
        "50126" => "The user name or password was not right. Try again, or reset your password with your organisation.",
        "50053" => "Your account is locked for now (too many attempts, or a sign-in from a blocked address). Wait a few minutes, or ask your administrator.",
        "50057" => "Your account is disabled. Ask your administrator to enable it.",
        "50055" => "Your password has expired. Change it with your organisation, then sign in again.",
        "50173" => "Your earlier sign-in is no longer valid (a password change or a revoked session). Sign in again.",
        "50058" => "You are not signed in at Microsoft any more. Sign in again.",
        "50074" | "50076" | "50079" => "Your organisation asks for a second way to prove it is you. Sign in again and complete that step.",
        "500121" => "The second step of signing in was not completed. Sign in again and approve the request.",
        "50105" => "Your account has not been given access to this app. Ask your administrator for access.",
        "50020" | "90072" => "This account is not a member or invited guest of the organisation this app belongs to. Sign in with an account of that organisation, or ask to be invited.",
        "53003" => "Your organisation's access policy blocked this sign-in (for this device, place or app). Ask your administrator.",
        "65001" => "This app needs permission before it can continue. Sign in again and grant it; if only an administrator can grant it, ask them.",
        "65004" => "You declined to give this app the permission it asked for.",
        "700016" | "7000215" | "7000222" | "50011" | "700054" => {
            "This app's registration or its settings do not match at Microsoft. An administrator needs to fix them; signing in again will not help."
        }
        "70008" | "54005" => "The sign-in took too long or was used twice. Start again.",
        "70000" => "The sign-in could not be completed (the grant was not valid). Start again.",
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
    fn common_aadsts_codes_read_as_sentences_and_others_as_nothing() {
        assert!(describe_aadsts("50126").unwrap().contains("password was not right"));
        assert!(describe_aadsts("65004").unwrap().contains("declined"));
        assert!(describe_aadsts("7000222").unwrap().contains("administrator"));
        assert_eq!(describe_aadsts("99999"), None);
        assert_eq!(describe_aadsts("<b>"), None);
    }

    #[test]
    fn every_code_the_engine_passes_on_is_explained() {
        for code in idweb_routes::KNOWN_PROVIDER_ERRORS {
            assert!(describe_provider_error(code).is_some(), "{code}");
        }
    }
}
