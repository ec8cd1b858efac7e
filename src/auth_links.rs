//! Links into the identity engine's sign-in route (`/auth/sign-in`), built
//! the same way on the server and in the browser.
//!
//! The route reads `returnUrl`, `scopes` (space-separated, beyond sign-in)
//! and `challenge` (the id of a claims challenge the server kept for this
//! session: claims never travel in a link); see
//! `idweb_identity::signin::SignInRequest`.

use leptos::prelude::*;

use crate::app::SignInLink;
use crate::error::AppError;

/// `/auth/sign-in?returnUrl=...[&scopes=...][&challenge=...]`.
pub fn sign_in_href(return_to: &str, scopes: &[String], challenge: Option<&str>) -> String {
    let mut href = format!("/auth/sign-in?returnUrl={}", urlencode(return_to));
    if !scopes.is_empty() {
        href.push_str(&format!("&scopes={}", urlencode(&scopes.join(" "))));
    }
    if let Some(challenge) = challenge {
        href.push_str(&format!("&challenge={}", urlencode(challenge)));
    }
    href
}

/// `path` when it is a path of this site (AUTHZ-03: `/x`, never `//host`,
/// `/\host` or a scheme); the error page's links come from its own URL.
pub fn same_origin_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let acceptable = !rest.starts_with('/') && !rest.starts_with('\\') && !path.chars().any(|c| c.is_control());
    acceptable.then_some(path)
}

/// Percent-encodes a query value (everything but unreserved characters and `/`).
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
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
            // rel="external": a real navigation to the identity provider, not client-side routing.
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
        other => view! {
            <p role="alert" class="error" data-testid="page-error">{other.to_string()}</p>
            <p><a href=return_to>"Try again"</a></p>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::{same_origin_path, sign_in_href};

    #[test]
    fn only_same_origin_paths_are_return_targets() {
        assert_eq!(same_origin_path("/mail?count=20"), Some("/mail?count=20"));
        for hostile in ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", "", "mail"] {
            assert_eq!(same_origin_path(hostile), None, "{hostile}");
        }
    }

    #[test]
    fn scopes_and_claims_are_encoded_into_the_sign_in_link() {
        let href = sign_in_href("/mail?page=2", &["Mail.Read".into(), "api://x/y".into()], Some("Yk3p9xQ2_-abc"));
        assert_eq!(href, "/auth/sign-in?returnUrl=/mail%3Fpage%3D2&scopes=Mail.Read%20api%3A//x/y&challenge=Yk3p9xQ2_-abc");
        assert_eq!(sign_in_href("/", &[], None), "/auth/sign-in?returnUrl=/");
    }
}
