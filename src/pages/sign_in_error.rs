//! The page a failed sign-in lands on (CB-04): what happened, the provider's
//! words (escaped by the view), and a way to try again.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth_links::sign_in_href;

/// Explains a failed sign-in.
#[component]
pub fn SignInErrorPage() -> impl IntoView {
    let query = use_query_map();
    let reason = move || query.read().get("reason").unwrap_or_default();
    let provider_error = move || query.read().get("error");
    let provider_description = move || query.read().get("error_description");
    // After a declined consent: what was declined, and the same request again.
    let declined = move || query.read().get("scopes").filter(|scopes| !scopes.is_empty());
    let retry_href = move || {
        let return_to = query.read().get("returnUrl").unwrap_or_else(|| "/".into());
        let scopes: Vec<String> = declined().map(|scopes| scopes.split(' ').map(str::to_owned).collect()).unwrap_or_default();
        sign_in_href(&return_to, &scopes, None)
    };
    view! {
        <section class="card" aria-labelledby="sign-in-error-title">
            <h1 id="sign-in-error-title">
                {move || if declined().is_some() { "Access was not granted" } else { "You were not signed in" }}
            </h1>
            <p data-testid="error-reason">{move || describe_reason(&reason())}</p>
            {move || provider_error().map(|code| view! {
                <p>"The identity provider said: " <code data-testid="provider-error">{code}</code></p>
            })}
            {move || provider_description().map(|text| view! {
                <blockquote data-testid="provider-error-description">{text}</blockquote>
            })}
            {move || declined().map(|scopes| view! {
                <p>"You declined: " <code data-testid="declined-scopes">{scopes}</code>
                   ". The page that needs it stays unavailable until you grant it."</p>
            })}
            <p>
                <a class="button primary" href=retry_href rel="external" data-testid="retry-sign-in">"Try again"</a>
                " "
                <a href="/">"Back to the home page"</a>
            </p>
        </section>
    }
}

/// Human text for the identity engine's reason codes (see `IdentityError::reason_code`).
fn describe_reason(reason_code: &str) -> &'static str {
    match reason_code {
        "provider_unavailable" => "The identity provider could not be reached. Please try again in a moment.",
        "provider_misconfigured" => {
            "The identity provider's answer does not match idweb's settings, so signing in cannot work until an administrator fixes them."
        }
        "expired" => "The sign-in took too long. Please start again.",
        "invalid_response" => "The sign-in response did not match a sign-in started in this browser, so it was refused.",
        "provider_error" => "The identity provider did not sign you in.",
        "code_rejected" => "The identity provider refused to complete the sign-in.",
        "id_token_rejected" => "The identity provider's answer failed validation, so you were not signed in.",
        "consent_declined" => "You did not grant the permission the page asked for.",
        "bad_request" => "The sign-in link was malformed, so it was not followed.",
        "store_unavailable" => "idweb cannot reach its session or token store right now. Please try again in a moment.",
        _ => "Something went wrong while signing you in.",
    }
}
