//! `GET /auth/sign-in`: starts an authorization request.
//!
//! Query parameters (what the app's links and "grant access" prompts send):
//! `returnUrl` (a same-origin path), `scopes` (space-separated scopes to ask
//! for beyond sign-in: incremental consent), `claims` (a claims challenge,
//! JSON) and `interactive=true` (skip the silent attempt). A signed-in user
//! is first re-authorized silently (`prompt=none` + `login_hint`, CACHE-01);
//! the callback falls back to an interactive request if that fails.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow};
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, Scope};
use serde::Deserialize;
use tower_sessions::Session;

use super::{no_store, safe_return_path, transaction, RANDOM_BYTES};
use crate::error::{IdentityError, SignInRejection};
use crate::Identity;

/// Most scopes one request may add, and the longest claims challenge accepted.
const MAX_EXTRA_SCOPES: usize = 20;
const MAX_CLAIMS_BYTES: usize = 4096;

#[derive(Debug, Deserialize)]
pub(super) struct SignInQuery {
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
    scopes: Option<String>,
    claims: Option<String>,
    interactive: Option<bool>,
}

/// What a sign-in asks of the provider beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInRequest {
    /// Where to go afterwards (already checked).
    pub return_to: String,
    /// Scopes beyond sign-in (empty: the configured initial scopes).
    pub scopes: Vec<String>,
    /// A claims challenge to pass on.
    pub claims: Option<String>,
    /// Never attempt a silent re-authorization.
    pub interactive: bool,
}

impl SignInRequest {
    /// The `/auth/sign-in` URL that starts this request.
    pub fn url(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("returnUrl", &self.return_to);
        if !self.scopes.is_empty() {
            query.append_pair("scopes", &self.scopes.join(" "));
        }
        if let Some(claims) = &self.claims {
            query.append_pair("claims", claims);
        }
        if self.interactive {
            query.append_pair("interactive", "true");
        }
        format!("{}?{}", crate::error::SIGN_IN_PATH, query.finish())
    }

    fn from_query(query: SignInQuery) -> Result<Self, IdentityError> {
        let scopes: Vec<String> = query.scopes.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        let printable = |scope: &String| scope.len() <= 200 && scope.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\'));
        if scopes.len() > MAX_EXTRA_SCOPES || !scopes.iter().all(printable) {
            return Err(IdentityError::SignInRejected(SignInRejection::BadRequest));
        }
        if let Some(claims) = &query.claims {
            let is_object = serde_json::from_str::<serde_json::Value>(claims).is_ok_and(|value| value.is_object());
            if claims.len() > MAX_CLAIMS_BYTES || !is_object {
                return Err(IdentityError::SignInRejected(SignInRejection::BadRequest));
            }
        }
        Ok(Self {
            return_to: safe_return_path(query.return_url.as_deref()),
            scopes,
            claims: query.claims,
            interactive: query.interactive.unwrap_or(false),
        })
    }
}

/// Starts a sign-in: remembers state, nonce and verifier, then sends the
/// browser to the provider's authorize endpoint.
pub(super) async fn sign_in(
    State(identity): State<Arc<Identity>>,
    session: Session,
    Query(query): Query<SignInQuery>,
) -> Result<Response, IdentityError> {
    let request = SignInRequest::from_query(query)?;
    let signed_in = identity.user(&session).await?;
    let provider = identity.provider().get().await?;
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let mut authorize = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            || CsrfToken::new_random_len(RANDOM_BYTES),
            || Nonce::new_random_len(RANDOM_BYTES),
        )
        .set_pkce_challenge(pkce_challenge)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()));
    // Incremental consent asks only for what is missing; a first sign-in for the initial scopes.
    let scopes = if request.scopes.is_empty() { &identity.config().graph.scopes } else { &request.scopes };
    for scope in scopes {
        authorize = authorize.add_scope(Scope::new(scope.clone()));
    }
    let capabilities = &identity.config().azure_ad.client_capabilities;
    if let Some(claims) = crate::claims::claims_request(request.claims.as_deref(), capabilities) {
        authorize = authorize.add_extra_param("claims", claims);
    }
    // A signed-in user is re-authorized silently first, as the account the session knows.
    let silent = signed_in.is_some() && !request.interactive;
    if let Some(user) = signed_in.as_ref().filter(|user| !user.username.is_empty()) {
        authorize = authorize.add_extra_param("login_hint", user.username.clone());
    }
    if silent {
        authorize = authorize.add_prompt(CoreAuthPrompt::None);
    }
    let (authorize_url, state, nonce) = authorize.url();
    transaction::remember(
        &session,
        transaction::PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: pkce_verifier.secret().clone(),
            return_to: request.return_to.clone(),
            scopes: request.scopes.clone(),
            claims: request.claims.clone(),
            silent,
            started_at: 0,
        },
    )
    .await?;
    tracing::info!(silent, extra_scopes = request.scopes.len(), "sign-in started");
    Ok(no_store(Redirect::to(authorize_url.as_str()).into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(scopes: Option<&str>, claims: Option<&str>) -> SignInQuery {
        SignInQuery { return_url: Some("/mail".into()), scopes: scopes.map(str::to_owned), claims: claims.map(str::to_owned), interactive: None }
    }

    #[test]
    fn a_request_round_trips_through_its_url() {
        let request = SignInRequest {
            return_to: "/mail".into(),
            scopes: vec!["Mail.Read".into(), "api://x/access_as_user".into()],
            claims: Some(r#"{"access_token":{}}"#.into()),
            interactive: true,
        };
        let url = url::Url::parse(&format!("http://app{}", request.url())).unwrap();
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let parsed = SignInRequest::from_query(SignInQuery {
            return_url: pairs.get("returnUrl").cloned(),
            scopes: pairs.get("scopes").cloned(),
            claims: pairs.get("claims").cloned(),
            interactive: pairs.get("interactive").map(|value| value == "true"),
        })
        .unwrap();
        assert_eq!(parsed, request);
    }

    #[test]
    fn hostile_scopes_and_claims_are_refused() {
        assert!(SignInRequest::from_query(query(Some("Mail.Read <script>"), None)).is_err());
        assert!(SignInRequest::from_query(query(Some(&"a ".repeat(21)), None)).is_err());
        assert!(SignInRequest::from_query(query(None, Some("not json"))).is_err());
        assert!(SignInRequest::from_query(query(None, Some("[1]"))).is_err());
        assert!(SignInRequest::from_query(query(Some("Mail.Read"), Some("{}"))).is_ok());
    }
}
