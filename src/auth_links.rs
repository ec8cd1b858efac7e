//! Links into the identity engine's sign-in route, built by `idweb_routes`
//! the same way on the server and in the browser (claims never travel in a
//! link: a challenge the server kept is named by its id).

use leptos::prelude::*;
use idweb_routes::SignInLink as Link;

use crate::error::AppError;

/// `/auth/sign-in?returnUrl=...[&scopes=...][&challenge=...]`.
pub fn sign_in_href(return_to: &str, scopes: &[String], challenge: Option<&str>) -> String {
    Link { scopes, challenge, ..Link::to(return_to) }.href()
}

/// A sign-in that goes to the provider's page, never a silent attempt.
pub fn interactive_sign_in_href(return_to: &str) -> String {
    Link { interactive: true, ..Link::to(return_to) }.href()
}

/// A link that leaves the app for the provider's sign-in page.
#[component]
pub fn SignInLink(#[prop(into)] return_to: String) -> impl IntoView {
    let href = sign_in_href(&return_to, &[], None);
    // rel="external": it leaves the app (and stays a page load should a client-side router come back).
    view! { <a class="button primary" href=href rel="external" data-testid="sign-in">"Sign in"</a> }
}

/// What a page shows when a server function needs the user's permission:
/// why, and a button to grant it that returns to `return_to`. On a full
/// page load the server answers with a redirect to the same place instead.
#[component]
pub fn GrantAccess(#[prop(into)] return_to: String, scopes: Vec<String>, challenge: Option<String>) -> impl IntoView {
    let href = sign_in_href(&return_to, &scopes, challenge.as_deref());
    #[cfg(feature = "ssr")]
    leptos_axum::redirect(&href);
    let what = if scopes.is_empty() { "your sign-in to be renewed".to_owned() } else { format!("your permission: {}", scopes.join(", ")) };
    view! {
        <div class="grant-access" role="status" data-testid="grant-access">
            <p>"To show this page, idweb needs " {what} "."</p>
            // rel="external": it leaves the app for the identity provider.
            <a class="button primary" href=href rel="external" data-testid="grant-access-button">"Grant access"</a>
        </div>
    }
}

/// What a page shows when its server function failed: a way to sign in,
/// a "grant access" prompt, or the error with a retry link. `what` names
/// the page's data ("your mail").
#[component]
pub fn PageFailure(error: AppError, #[prop(into)] return_to: String, #[prop(into)] what: String) -> impl IntoView {
    match error {
        AppError::NotSignedIn => view! {
            <p>"Sign in to see " {what} "."</p>
            <p><SignInLink return_to/></p>
        }
        .into_any(),
        AppError::InteractionRequired { scopes, challenge } => view! { <GrantAccess return_to scopes challenge/> }.into_any(),
        // FLT-05: no automatic redirect (the same refusal would bring the user back here).
        AppError::SignInAgain => {
            let href = interactive_sign_in_href(&return_to);
            view! {
                <p role="alert" class="error" data-testid="sign-in-again-reason">{AppError::SignInAgain.to_string()}</p>
                <p><a class="button primary" href=href rel="external" data-testid="sign-in-again">"Sign in again"</a></p>
            }
            .into_any()
        }
        AppError::NotConfigured(message) | AppError::NotFound(message) => view! {
            <p data-testid="page-not-configured">{message}</p>
            <p><a href="/" class="button">"Back to the home page"</a></p>
        }
        .into_any(),
        other => {
            let support = match &other {
                AppError::Upstream { support, .. } => Some(support.clone()),
                _ => None,
            };
            view! {
                <p role="alert" class="error" data-testid="page-error">{other.to_string()}</p>
                {support.map(|support| view! { <p class="support-detail" data-testid="support-detail">"Details for support: " {support}</p> })}
                <p><a href=return_to class="button">"Try again"</a></p>
            }
            .into_any()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sign_in_href;

    #[test]
    fn scopes_and_claims_are_encoded_into_the_sign_in_link() {
        let href = sign_in_href("/mail?page=2", &["Mail.Read".into(), "api://x/y".into()], Some("Yk3p9xQ2_-abc"));
        assert_eq!(href, "/auth/sign-in?returnUrl=/mail%3Fpage%3D2&scopes=Mail.Read%20api%3A//x/y&challenge=Yk3p9xQ2_-abc");
        assert_eq!(sign_in_href("/", &[], None), "/auth/sign-in?returnUrl=/");
    }
}
