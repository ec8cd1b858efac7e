//! The `<head>` of every page and its Content-Security-Policy (HDR-01),
//! prepared once: per response only a fresh nonce is filled in.
//!
//! The head is Leptos' own markup (`app::head_content`: the stylesheet and
//! the hydration scripts, which read the build's file names), rendered at
//! start-up with a throwaway nonce and a placeholder title, and cut where
//! they stood: per response the nonce and the page's title fill the gaps.
//! Rendering it per request cost a Profile page about 15 000 instructions
//! (docs/BENCHMARKS.md).

use axum::http::HeaderValue;
use leptos::nonce::Nonce;
use leptos::prelude::*;

use super::headers::page_policy;
use crate::app::head_content;

/// The head's HTML in pieces, and the identity provider's origin for the policy.
pub struct PageHead {
    pieces: Vec<Piece>,
    provider_origin: String,
}

/// A piece of the head: its own text, or a gap a response fills.
enum Piece {
    Text(String),
    Nonce,
    Title,
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
            head_content(options, TITLE_PLACEHOLDER).to_html()
        });
        let mut pieces = Vec::new();
        for (index, between_nonces) in html.split(&*nonce).enumerate() {
            if index > 0 {
                pieces.push(Piece::Nonce);
            }
            for (index, between_titles) in between_nonces.split(TITLE_PLACEHOLDER).enumerate() {
                if index > 0 {
                    pieces.push(Piece::Title);
                }
                pieces.push(Piece::Text(between_titles.to_owned()));
            }
        }
        Self { pieces, provider_origin }
    }

    /// The head and policy of one response titled `title`, with a fresh nonce.
    pub fn fresh(&self, title: &str) -> ResponseHead {
        let nonce = Nonce::new();
        let mut html = String::with_capacity(self.pieces.iter().map(|piece| if let Piece::Text(text) = piece { text.len() } else { 64 }).sum());
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => html.push_str(text),
                Piece::Nonce => html.push_str(&nonce),
                Piece::Title => push_escaped(&mut html, title),
            }
        }
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

/// What the head is rendered with where the page's title goes (text no title has).
const TITLE_PLACEHOLDER: &str = "idweb-page-title-placeholder";

/// `text` as HTML text.
fn push_escaped(html: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            other => html.push(other),
        }
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
        let (first, second) = (head.fresh("Mail · idweb"), head.fresh("<b> & co"));
        let nonce_of = |html: &str| html.split("nonce=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned).expect("a nonced script");
        let (first_nonce, second_nonce) = (nonce_of(&first.html), nonce_of(&second.html));
        assert_ne!(first_nonce, second_nonce);
        assert!(first_nonce.len() >= 16, "{first_nonce}");
        let policy = first.policy.expect("a policy").to_str().unwrap().to_owned();
        assert!(policy.contains(&format!("'nonce-{first_nonce}'")), "{policy}");
        assert!(first.html.contains(r#"<link id="leptos" rel="stylesheet" href="/pkg/idweb.css">"#), "{}", first.html);
        assert!(first.html.contains("<script type=\"module\""), "{}", first.html);
        assert!(first.html.contains("<title>Mail · idweb</title>"), "{}", first.html);
        assert!(second.html.contains("<title>&lt;b&gt; &amp; co</title>"), "{}", second.html);
        assert!(first.html.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#), "{}", first.html);
    }
}
