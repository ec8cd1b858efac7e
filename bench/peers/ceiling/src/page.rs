//! idweb's Profile page, byte for byte, written into one buffer: the
//! document's fixed text (taken from idweb's answer for a signed-in user:
//! the head with its hydration script, the frame, the card), the fresh
//! nonce where idweb puts it, and the user's fields, escaped. No template
//! engine, no formatting machinery: `push_str` into a `String` sized once.

use std::borrow::Cow;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// What the page shows of Graph's user resource, borrowed from the answer
/// where no JSON escape forces a copy.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me<'a> {
    #[serde(borrow)]
    display_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mail: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_principal_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    given_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    surname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    job_title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    office_location: Option<Cow<'a, str>>,
}

/// What a missing field shows (as idweb's page).
const NOT_SET: &str = "\u{2014}";

fn field<'a>(value: &'a Option<Cow<'_, str>>) -> &'a str {
    value.as_deref().unwrap_or(NOT_SET)
}

/// The page's bytes beyond its fixed text: room for the fields and the nonces.
const ROOM: usize = 512;

// The fixed text between the gaps, in order (generated from idweb's page; the
// islands' ids are those of the build it came from).
const PIECE_0: &str = r##"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link id="leptos" rel="stylesheet" href="/pkg/idweb.css"><link rel="icon" href="/favicon.svg" type="image/svg+xml"><title>Profile · idweb</title><link rel="modulepreload" href="/pkg/idweb.js" crossorigin=""##;
const PIECE_1: &str = r##""><link rel="preload" href="/pkg/idweb.wasm" as="fetch" type="application/wasm" crossorigin=""##;
const PIECE_2: &str = r##""><script type="module" nonce=""##;
const PIECE_3: &str = r##"">((root, pkg_path, output_name, wasm_output_name) => {
	let MOST_RECENT_CHILDREN_CB = [];

	function idle(c) {
		if ("requestIdleCallback" in window) {
			window.requestIdleCallback(c);
		} else {
			c();
		}
	}
	async function hydrateIslands(rootNode, mod) {
		async function traverse(node) {
			if (node.nodeType === Node.ELEMENT_NODE) {
				const tag = node.tagName.toLowerCase();
				if(tag === 'leptos-island') {
					const children = [];
					const id = node.dataset.component || null;

					await hydrateIsland(node, id, mod);
					
					for(const child of node.children) {
						await traverse(child, children);
					}
				} else {
					if (tag === 'leptos-children') {
						MOST_RECENT_CHILDREN_CB.push(node.$$on_hydrate);
						for(const child of node.children) {
							await traverse(child);
						};
						// un-set the "most recent children"
						MOST_RECENT_CHILDREN_CB.pop();
					} else {
						for(const child of node.children) {
							await traverse(child);
						};
					}
				}
			}
		}

		await traverse(rootNode);
	}
	async function hydrateIsland(el, id, mod) {
		const islandFn = mod[id];
		if (islandFn) {
			const children_cb = MOST_RECENT_CHILDREN_CB[MOST_RECENT_CHILDREN_CB.length-1];
			if (children_cb) {
				children_cb();
			}
			const res = islandFn(el);
			if (res && res.then) {
				await res;
			}
		} else {
			console.warn(`Could not find WASM function for the island ${id}.`);
		}
	}
	idle(() => {
		import(`${root}/${pkg_path}/${output_name}.js`)
			.then(mod => {
				mod.default({module_or_path: `${root}/${pkg_path}/${wasm_output_name}.wasm`}).then(() => {
					mod.hydrate();
					hydrateIslands(document.body, mod);
				});

				window.__hydrateIsland = (el, id) => hydrateIsland(el, id, mod);
			})
	});
})
("", "pkg", "idweb", "idweb", false);</script></head><body><div class="frame"><a class="skip-link" href="#content">Skip to content</a><header class="header"><a href="/" class="brand">idweb</a><nav aria-label="Main"><a href="/">Home</a><a href="/profile" aria-current="page">Profile</a><a href="/mail">Mail</a><a href="/todo">To-do</a></nav><div class="account"><span data-testid="account-name" class="account-name">"##;
const PIECE_4: &str = r##"</span><a href="/diagnostics" class="account-link">Diagnostics</a><form method="post" action="/auth/sign-out" class="inline-form"><button type="submit" class="button" data-testid="sign-out">Sign out</button></form></div></header><main id="content" tabindex="-1"><section class="card"><h1>Your profile</h1><img src="/profile/photo" alt="Photo of "##;
const PIECE_5: &str = r##"" width="96" height="96" data-testid="profile-photo" class="avatar"><dl class="fields"><dt>Name</dt><dd data-testid="profile-display-name">"##;
const PIECE_6: &str = r##"</dd><dt>Email</dt><dd data-testid="profile-mail">"##;
const PIECE_7: &str = r##"</dd><dt>Username</dt><dd>"##;
const PIECE_8: &str = r##"</dd></dl><details data-testid="profile-more" class="more"><summary data-testid="toggle-details">More details</summary><dl data-testid="profile-details" class="fields"><dt>First name</dt><dd>"##;
const PIECE_9: &str = r##"</dd><dt>Last name</dt><dd>"##;
const PIECE_10: &str = r##"</dd><dt>Job title</dt><dd data-testid="profile-job-title">"##;
const PIECE_11: &str = r##"</dd><dt>Office</dt><dd>"##;
const PIECE_12: &str = r##"</dd></dl></details></section></main><footer class="footer">idweb — sign in with the Microsoft identity platform, call APIs on your behalf.</footer></div><leptos-island data-component="NavigationProgress_10579994754556655569"><div aria-hidden="true" data-testid="navigation-progress" class="navigation-progress"></div><p role="status" data-testid="navigation-status" class="visually-hidden"><!></p></leptos-island><leptos-island data-component="HydrationMarker_13555583504569641109"><span hidden data-hydrated="false"></span></leptos-island></body></html>"##;

/// `text` as HTML text, or as a quoted attribute's value.
fn push_escaped(html: &mut String, text: &str, attribute: bool) {
    for character in text.chars() {
        match character {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' if attribute => html.push_str("&quot;"),
            other => html.push(other),
        }
    }
}

/// The document for `me`, its scripts allowed by `nonce`.
pub fn document(me: &Me<'_>, nonce: &str) -> String {
    const FIXED: usize = PIECE_0.len() + PIECE_1.len() + PIECE_2.len() + PIECE_3.len() + PIECE_4.len() + PIECE_5.len() + PIECE_6.len() + PIECE_7.len() + PIECE_8.len() + PIECE_9.len() + PIECE_10.len() + PIECE_11.len() + PIECE_12.len();
    let mut html = String::with_capacity(FIXED + ROOM);
    let name = me.display_name.as_deref().unwrap_or_default();
    html.push_str(PIECE_0);
    html.push_str(nonce);
    html.push_str(PIECE_1);
    html.push_str(nonce);
    html.push_str(PIECE_2);
    html.push_str(nonce);
    html.push_str(PIECE_3);
    push_escaped(&mut html, name, false);
    html.push_str(PIECE_4);
    push_escaped(&mut html, name, true);
    html.push_str(PIECE_5);
    push_escaped(&mut html, name, false);
    html.push_str(PIECE_6);
    push_escaped(&mut html, field(&me.mail), false);
    html.push_str(PIECE_7);
    push_escaped(&mut html, field(&me.user_principal_name), false);
    html.push_str(PIECE_8);
    push_escaped(&mut html, field(&me.given_name), false);
    html.push_str(PIECE_9);
    push_escaped(&mut html, field(&me.surname), false);
    html.push_str(PIECE_10);
    push_escaped(&mut html, field(&me.job_title), false);
    html.push_str(PIECE_11);
    push_escaped(&mut html, field(&me.office_location), false);
    html.push_str(PIECE_12);
    html
}

/// A fresh nonce: 128 random bits, URL-safe base64 (idweb's are as long).
fn nonce() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The page policy idweb sends with the page, naming `nonce`.
fn policy(nonce: &str, provider_origin: &str) -> Option<HeaderValue> {
    const BEFORE: &str = "default-src 'self'; script-src 'self' 'nonce-";
    const AFTER: &str = "' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self' ";
    const LAST: &str = "; frame-ancestors 'none'; object-src 'none'; base-uri 'none'";
    let mut text = String::with_capacity(BEFORE.len() + nonce.len() + AFTER.len() + provider_origin.len() + LAST.len());
    text.push_str(BEFORE);
    text.push_str(nonce);
    text.push_str(AFTER);
    text.push_str(provider_origin);
    text.push_str(LAST);
    HeaderValue::from_str(&text).ok()
}

/// The whole response: idweb's headers and document for `me`.
pub fn response(me: &Me<'_>, provider_origin: &str) -> Response {
    let nonce = nonce();
    let mut response = document(me, &nonce).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Some(policy) = policy(&nonce, provider_origin) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
