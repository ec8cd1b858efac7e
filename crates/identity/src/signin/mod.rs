//! Sign-in, callback and sign-out routes (OpenID Connect authorization code
//! flow with state, nonce and PKCE S256).

mod response;
mod return_url;
mod transaction;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, RequestTokenError, Scope,
};
use serde::Deserialize;
use tower_sessions::Session;

pub use response::AuthorizationResponse;
pub use return_url::safe_return_path;
pub use transaction::PENDING_LIFETIME;

use crate::cache::{normalise_scopes, TokenSource};
use crate::claims::check_authorized_party;
use crate::error::{IdentityError, SignInRejection, SIGN_IN_PATH};
use crate::provider::{error_chain, redirect_url};
use crate::user::{HomeAccountId, SignedInUser};
use crate::Identity;

/// Session key of the signed-in user.
pub(crate) const USER_KEY: &str = "idweb.user";
/// Bytes of randomness in `state` and `nonce` (AUTHZ-01 asks for at least 16).
const RANDOM_BYTES: u32 = 32;
/// Longest we wait for the token endpoint before showing an error page.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Path that signs the user out (POST).
pub const SIGN_OUT_PATH: &str = "/auth/sign-out";

/// The sign-in routes, bound to `identity`.
pub fn router(identity: Arc<Identity>) -> Router {
    let azure_ad = &identity.config().azure_ad;
    Router::new()
        .route(SIGN_IN_PATH, get(sign_in))
        .route(&azure_ad.callback_path, get(callback))
        .route(SIGN_OUT_PATH, post(sign_out))
        .route(&azure_ad.signed_out_callback_path, get(signed_out))
        .with_state(identity)
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
}

/// Starts a sign-in: remembers state, nonce and verifier, then sends the
/// browser to the provider's authorize endpoint.
async fn sign_in(
    State(identity): State<Arc<Identity>>,
    session: Session,
    Query(query): Query<SignInQuery>,
) -> Result<Response, IdentityError> {
    let provider = identity.provider().get().await?;
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            || CsrfToken::new_random_len(RANDOM_BYTES),
            || Nonce::new_random_len(RANDOM_BYTES),
        )
        .set_pkce_challenge(pkce_challenge)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()));
    for scope in &identity.config().graph.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (authorize_url, state, nonce) = request.url();
    transaction::remember(
        &session,
        transaction::PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: pkce_verifier.secret().clone(),
            return_to: safe_return_path(query.return_url.as_deref()),
            started_at: 0,
        },
    )
    .await?;
    tracing::info!("sign-in started");
    Ok(no_store(Redirect::to(authorize_url.as_str()).into_response()))
}

/// The authorization response: checks it, redeems the code, validates the
/// ID token, caches the tokens and signs the user in.
async fn callback(
    State(identity): State<Arc<Identity>>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = match AuthorizationResponse::from_query(query.as_deref()) {
        Ok(authorization) => complete_sign_in(&identity, &session, authorization).await,
        Err(error) => Err(error),
    };
    let response = match outcome {
        Ok(return_to) => Redirect::to(&return_to).into_response(),
        Err(error) => error.into_response(),
    };
    // CB-05: the URL with the code must not leak through Referer.
    let mut response = no_store(response);
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn complete_sign_in(
    identity: &Identity,
    session: &Session,
    query: AuthorizationResponse,
) -> Result<String, IdentityError> {
    let state = query.state.ok_or(IdentityError::SignInRejected(SignInRejection::StateMissing))?;
    let pending = transaction::take(session, &state).await?;
    if let Some(error) = query.error {
        return Err(IdentityError::ProviderError { error, description: query.error_description });
    }
    let provider = identity.provider().get().await?;
    // RFC 9207: a response naming another issuer may come from a mix-up attack.
    if let Some(iss) = query.iss {
        if iss != provider.issuer.as_str() {
            return Err(IdentityError::SignInRejected(SignInRejection::IssuerMismatch));
        }
    }
    let code = query.code.ok_or(IdentityError::SignInRejected(SignInRejection::CodeMissing))?;
    let exchange = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|error| IdentityError::Internal(format!("token endpoint not configured: {error}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier));
    let exchange = identity.tokens().authenticate(exchange, &provider.client)?;
    let response = match tokio::time::timeout(TOKEN_TIMEOUT, exchange.request_async(identity.http())).await {
        Err(_) => return Err(IdentityError::ProviderUnavailable("token request timed out".into())),
        Ok(Err(RequestTokenError::ServerResponse(error))) => {
            // TOK-02: a replayed or stolen code surfaces here as invalid_grant.
            tracing::warn!(target: "idweb::security", error = %error, "token endpoint refused the authorization code");
            return Err(IdentityError::CodeRejected(error.to_string()));
        }
        Ok(Err(RequestTokenError::Parse(error, _body))) => {
            // The body holds tokens: only the parser's complaint is kept. An ID
            // token whose claims do not parse (no `sub`, no `iat`) lands here.
            return Err(IdentityError::IdTokenRejected(format!("the token response does not parse: {}", error.inner())));
        }
        Ok(Err(error)) => {
            return Err(IdentityError::ProviderUnavailable(format!("token request failed: {}", error_chain(&error))))
        }
        Ok(Ok(response)) => response,
    };
    let id_token = response
        .extra_fields()
        .id_token()
        .ok_or_else(|| IdentityError::IdTokenRejected("the token response carries no ID token".into()))?;
    let nonce = Nonce::new(pending.nonce);
    let claims = id_token
        .claims(&provider.client.id_token_verifier(), &nonce)
        .map_err(|error| IdentityError::IdTokenRejected(error.to_string()))?;
    check_authorized_party(claims, provider.client.client_id())?;
    let microsoft = claims.additional_claims();
    let (Some(object_id), Some(tenant_id)) = (microsoft.oid.clone(), microsoft.tid.clone()) else {
        return Err(IdentityError::IdTokenRejected("the ID token has no oid or tid claim".into()));
    };
    let user = SignedInUser {
        home_account_id: HomeAccountId::new(&object_id, &tenant_id),
        name: claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_owned())
            .unwrap_or_default(),
        username: claims.preferred_username().map(|name| name.as_str().to_owned()).unwrap_or_default(),
        provider_session_id: microsoft.sid.clone(),
        object_id,
        tenant_id,
    };
    let requested = normalise_scopes(identity.config().graph.scopes.iter().map(String::as_str));
    identity.tokens().store_response(&user, &response, &requested, TokenSource::AuthorizationCode).await?;
    // Session fixation: the pre-sign-in id must not survive into the signed-in session.
    session.cycle_id().await?;
    session.insert(USER_KEY, &user).await?;
    tracing::info!("user signed in");
    Ok(pending.return_to)
}

/// Signs out everywhere it must: the user's cached tokens, the session, and
/// then the provider's session via its end-session endpoint (OUT-01).
async fn sign_out(State(identity): State<Arc<Identity>>, session: Session) -> Result<Response, IdentityError> {
    if let Some(user) = session.get::<SignedInUser>(USER_KEY).await? {
        identity.tokens().remove_user(&user).await?;
    }
    session.flush().await?;
    tracing::info!("user signed out");
    let config = identity.config();
    let end_session = match identity.provider().get().await {
        Ok(provider) => provider.end_session_endpoint.clone(),
        Err(error) => {
            tracing::warn!(error = %error, "signed out locally; provider unreachable for end-session");
            None
        }
    };
    let Some(end_session) = end_session else {
        return Ok(no_store(Redirect::to("/").into_response()));
    };
    let after_logout = redirect_url(&config.hosting.public_url, &config.azure_ad.signed_out_callback_path)?;
    let logout = LogoutRequest::from(end_session)
        .set_client_id(ClientId::new(config.azure_ad.client_id.clone()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(after_logout.url().clone()));
    Ok(no_store(Redirect::to(logout.http_get_url().as_str()).into_response()))
}

/// Where the provider returns after its sign-out.
async fn signed_out() -> Redirect {
    Redirect::to("/")
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
