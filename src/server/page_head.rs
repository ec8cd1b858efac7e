//! The `<head>` of every page and its Content-Security-Policy (HDR-01),
//! prepared once: per response only a fresh nonce is filled in.
//!
//! The head is Leptos' own markup (`app::head_content`: the stylesheet and
//! the hydration scripts, which read the build's file names), rendered at
//! start-up with a throwaway nonce and cut where that nonce stood.
//! Rendering it per request cost a Profile page about 15 000 instructions
//! (docs/BENCHMARKS.md).

use axum::http::HeaderValue;
use leptos::nonce::Nonce;
use leptos::prelude::*;

use super::headers::page_policy;
use crate::app::head_content;

/// The head's HTML around its nonces, and the identity provider's origin
/// for the policy.
pub struct PageHead {
    head_around_nonces: Vec<String>,
    provider_origin: String,
}

/// One response's head and the policy that allows its script.
pub struct ResponseHead {
    /// The inner HTML of `<head>`.
    pub html: String,
    /// The `Content-Security-Policy` naming the nonce; `None` only if it
    /// could not be a header value (then the default policy, which runs
    /// nothing, stays).
    pub policy: Option<HeaderValue>,
}

impl PageHead {
    /// Renders the head for `options`; `provider_origin` is the identity
    /// provider's origin (the policy's `form-action`).
    pub fn new(options: LeptosOptions, provider_origin: String) -> Self {
        let nonce = Nonce::new();
        let owner = super::owner::fresh_root();
        let html = owner.with(|| {
            provide_context(nonce.clone());
            head_content(options).to_html()
        });
        let head_around_nonces = html.split(&*nonce).map(str::to_owned).collect();
        Self { head_around_nonces, provider_origin }
    }

    /// The head and policy of one response, with a fresh nonce.
    pub fn fresh(&self) -> ResponseHead {
        let nonce = Nonce::new();
        let html = self.head_around_nonces.join(&*nonce);
        let policy = match HeaderValue::from_str(&page_policy(&nonce, &self.provider_origin)) {
            Ok(policy) => Some(policy),
            Err(error) => {
                tracing::error!(%error, "the page policy is not a header value; pages keep the default policy");
                None
            }
        };
        ResponseHead { html, policy }
    }
}

#[cfg(test)]
mod tests {
    use super::PageHead;

    fn options() -> leptos::prelude::LeptosOptions {
        leptos::prelude::LeptosOptions::builder().output_name("idweb").build()
    }

    #[test]
    fn hdr_01_each_response_gets_its_own_nonce_in_the_script_and_the_policy() {
        let head = PageHead::new(options(), "https://login.microsoftonline.com".into());
        let (first, second) = (head.fresh(), head.fresh());
        let nonce_of = |html: &str| html.split("nonce=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned).expect("a nonced script");
        let (first_nonce, second_nonce) = (nonce_of(&first.html), nonce_of(&second.html));
        assert_ne!(first_nonce, second_nonce);
        assert!(first_nonce.len() >= 16, "{first_nonce}");
        let policy = first.policy.expect("a policy").to_str().unwrap().to_owned();
        assert!(policy.contains(&format!("'nonce-{first_nonce}'")), "{policy}");
        assert!(first.html.contains(r#"<link id="leptos" rel="stylesheet" href="/pkg/idweb.css">"#), "{}", first.html);
        assert!(first.html.contains("<script type=\"module\""), "{}", first.html);
    }
}
