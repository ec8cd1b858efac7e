//! OpenID Connect and OAuth 2.0 as the Microsoft identity platform (or a
//! generic certified provider) speaks them: discovery and the signing keys
//! ([`provider`]), ID token claims ([`claims`]), token endpoint answers
//! ([`token_response`]) and requests (`token_endpoint`), and the one type
//! that says how the two kinds of provider differ ([`profile`]).

pub mod claims;
pub mod profile;
pub mod provider;
pub mod signing_key;
pub(crate) mod token_endpoint;
pub mod token_response;
