//! `GET /auth/sign-in`: starts an authorization request.
//!
//! Query parameters (what the app's links and "grant access" prompts send):
//! `returnUrl` (a same-origin path), `scopes` (space-separated scopes to ask
//! for beyond sign-in: incremental consent), `challenge` (the id of a claims
//! challenge this session received, see `challenges`) and
//! `interactive=true` (skip the silent attempt). A signed-in user is first
//! re-authorized silently (`prompt=none` + `login_hint`, CACHE-01); the
//! callback falls back to an interactive request if that fails.
//!
//! AUTHZ-05: a link is not trusted to say what to ask. Scopes must belong to
//! an API named in configuration, claims come only from a challenge the
//! server kept, and a link carrying `claims` itself is refused.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow};
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, Scope};
use serde::Deserialize;
use tower_sessions::Session;

use super::{challenges, no_store, pending, safe_return_path, RANDOM_BYTES};
use crate::error::{IdentityError, SignInRejection};
use crate::Identity;

/// Most scopes one request may add.
const MAX_EXTRA_SCOPES: usize = 20;
/// The longest return path a sign-in keeps, in bytes (it travels in the sign-in's cookie).
const MAX_RETURN_PATH_BYTES: usize = 512;
/// The longest challenge id accepted (ids are 22 characters).
const MAX_CHALLENGE_ID_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
pub(super) struct SignInQuery {
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
    scopes: Option<String>,
    challenge: Option<String>,
    /// Never honoured: present only to refuse links that carry claims (AUTHZ-05).
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
    /// The id of a claims challenge kept in the session (`challenges::remember`).
    pub challenge: Option<String>,
    /// Never attempt a silent re-authorization.
    pub interactive: bool,
}

impl SignInRequest {
    /// The `/auth/sign-in` URL that starts this request.
    pub fn url(&self) -> String {
        idweb_routes::SignInLink { return_to: &self.return_to, scopes: &self.scopes, challenge: self.challenge.as_deref(), interactive: self.interactive }.href()
    }

    fn from_query(query: SignInQuery) -> Result<Self, IdentityError> {
        let mut scopes: Vec<String> = Vec::new();
        for scope in query.scopes.as_deref().unwrap_or_default().split_whitespace() {
            if !scopes.iter().any(|kept| kept.eq_ignore_ascii_case(scope)) {
                scopes.push(scope.to_owned());
            }
        }
        if query.return_url.as_ref().is_some_and(|path| path.len() > MAX_RETURN_PATH_BYTES) {
            return Err(IdentityError::SignInRejected(SignInRejection::BadRequest));
        }
        let printable = |scope: &String| scope.len() <= 200 && scope.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\'));
        if scopes.len() > MAX_EXTRA_SCOPES || !scopes.iter().all(printable) {
            return Err(IdentityError::SignInRejected(SignInRejection::BadRequest));
        }
        if query.claims.is_some() {
            return Err(IdentityError::SignInRejected(SignInRejection::NotOffered));
        }
        let id_shaped = |id: &String| id.len() <= MAX_CHALLENGE_ID_CHARS && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if query.challenge.as_ref().is_some_and(|id| !id_shaped(id)) {
            return Err(IdentityError::SignInRejected(SignInRejection::NotOffered));
        }
        Ok(Self {
            return_to: safe_return_path(query.return_url.as_deref()),
            scopes,
            challenge: query.challenge,
            interactive: query.interactive.unwrap_or(false),
        })
    }
}

/// Starts a sign-in: remembers state, nonce and verifier, then sends the
/// browser to the provider's authorize endpoint.
pub(super) async fn sign_in(
    State(identity): State<Arc<Identity>>,
    session: Session,
    headers: HeaderMap,
    extensions: Extensions,
    Query(query): Query<SignInQuery>,
) -> Result<Response, IdentityError> {
    // SES-04: first, and cheaply, so a loop of starts costs nothing else.
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
    if peer.is_none() {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!("sign-in starts are not limited: serve the router with into_make_service_with_connect_info::<SocketAddr>() so the engine sees client addresses");
        });
    }
    if let Some(client) = identity.sign_in_throttle().client(peer, &headers) {
        if let Err(wait) = identity.sign_in_throttle().admit(client) {
            tracing::warn!(target: "idweb::security", wait_secs = wait.as_secs(), "too many sign-in starts from one address; refused");
            return Ok(too_many_sign_ins(wait));
        }
    }
    let request = SignInRequest::from_query(query)?;
    // AUTHZ-05: only what this app uses may be asked for, whoever wrote the link.
    let offered = identity.offered_scopes();
    if let Some(scope) = identity.tokens().scopes().normalise(request.scopes.iter().map(String::as_str)).into_iter().find(|scope| !offered.contains(scope)) {
        tracing::warn!(target: "idweb::security", scope = %crate::telemetry::outside_text(&scope), "sign-in link asks for a scope no configured API uses; refused");
        return Err(IdentityError::SignInRejected(SignInRejection::NotOffered));
    }
    let claims = match &request.challenge {
        Some(id) => match challenges::find(&session, id).await? {
            Some(claims) => Some(claims),
            None => {
                tracing::warn!(target: "idweb::security", "sign-in link names a claims challenge this session did not receive; refused");
                return Err(IdentityError::SignInRejected(SignInRejection::NotOffered));
            }
        },
        None => None,
    };
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
    let scopes = provider.profile.sign_in_scopes(&request.scopes, &identity.config().graph.scopes);
    for scope in scopes {
        authorize = authorize.add_scope(Scope::new(scope.clone()));
    }
    let capabilities = &identity.config().azure_ad.client_capabilities;
    if let Some(claims) = crate::protocol::claims::claims_request(claims.as_deref(), capabilities) {
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
    let cookies = identity.pending_sign_ins().remember(
        &headers,
        pending::PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: pkce_verifier.secret().clone(),
            return_to: request.return_to.clone(),
            scopes: request.scopes.clone(),
            challenge: request.challenge.clone(),
            silent,
            started_at: 0,
        },
    )?;
    tracing::info!(silent, extra_scopes = request.scopes.len(), "sign-in started");
    let mut response = no_store(Redirect::to(authorize_url.as_str()).into_response());
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// 429 with `Retry-After` and a page that says what happened and when to try again.
fn too_many_sign_ins(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Too many sign-in attempts · idweb</title>\
         <h1>Too many sign-in attempts</h1><p>Too many sign-ins were started from your network in the last minute. \
         Please try again in {seconds} seconds.</p><p><a href=\"/\">Back to idweb</a></p></html>"
    );
    let mut response = (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], Html(page)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(scopes: Option<&str>, challenge: Option<&str>, claims: Option<&str>) -> SignInQuery {
        SignInQuery {
            return_url: Some("/mail".into()),
            scopes: scopes.map(str::to_owned),
            challenge: challenge.map(str::to_owned),
            claims: claims.map(str::to_owned),
            interactive: None,
        }
    }

    #[test]
    fn a_request_round_trips_through_its_url() {
        let request = SignInRequest {
            return_to: "/mail".into(),
            scopes: vec!["Mail.Read".into(), "api://x/access_as_user".into()],
            challenge: Some("Yk3p9xQ2_-abcdefghijkl".into()),
            interactive: true,
        };
        let url = url::Url::parse(&format!("http://app{}", request.url())).unwrap();
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let parsed = SignInRequest::from_query(SignInQuery {
            return_url: pairs.get("returnUrl").cloned(),
            scopes: pairs.get("scopes").cloned(),
            challenge: pairs.get("challenge").cloned(),
            claims: None,
            interactive: pairs.get("interactive").map(|value| value == "true"),
        })
        .unwrap();
        assert_eq!(parsed, request);
    }

    #[test]
    fn hostile_scopes_and_claims_are_refused() {
        assert!(SignInRequest::from_query(query(Some("Mail.Read <script>"), None, None)).is_err());
        let too_many: Vec<String> = (0..=MAX_EXTRA_SCOPES).map(|index| format!("scope{index}")).collect();
        assert!(SignInRequest::from_query(query(Some(&too_many.join(" ")), None, None)).is_err());
        assert!(SignInRequest::from_query(query(Some("Mail.Read"), Some("a\nb"), None)).is_err());
        assert!(SignInRequest::from_query(query(Some("Mail.Read"), Some("abc"), None)).is_ok());
    }

    #[test]
    fn ses_04_a_sign_in_keeps_no_duplicate_scope_and_no_long_return_path() {
        let request = SignInRequest::from_query(query(Some("Mail.Read mail.read User.Read Mail.Read"), None, None)).unwrap();
        assert_eq!(request.scopes, ["Mail.Read", "User.Read"]);
        let mut long = query(None, None, None);
        long.return_url = Some(format!("/{}", "é".repeat(MAX_RETURN_PATH_BYTES / 2)));
        assert!(matches!(SignInRequest::from_query(long), Err(IdentityError::SignInRejected(SignInRejection::BadRequest))));
    }

    #[test]
    fn authz_05_a_link_carrying_claims_is_refused_whatever_they_say() {
        for claims in ["{}", r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#, "not json"] {
            let refused = SignInRequest::from_query(query(None, None, Some(claims)));
            assert!(matches!(refused, Err(IdentityError::SignInRejected(SignInRejection::NotOffered))), "{claims}");
        }
    }
}
