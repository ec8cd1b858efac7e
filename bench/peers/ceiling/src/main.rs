//! The benchmarks' ceiling: the least work that does what idweb's measured
//! paths do, so whatever idweb spends above it is the price of its features.
//!
//! - Sign-in (`GET /auth/sign-in`, `GET /signin-oidc`): the authorization
//!   code flow with state, nonce and PKCE through openidconnect-rs and
//!   nothing else: discovery and the key set read once at start, the
//!   pending sign-in kept in a hash map by `state`, the code redeemed with
//!   the client secret, the ID token's signature and claims checked, a new
//!   session (a random id) holding the access token in a hash map.
//! - Profile (`GET /profile`): the session cookie looked up in that hash
//!   map, Graph `/me` with the session's token through one pooled client,
//!   and the bytes of idweb's Profile page for that user (its document, a
//!   fresh nonce in the scripts and the policy, the same headers) written
//!   with `write!` into one buffer sized once (`page.rs`).
//!
//! It does not: renew or cache tokens beyond the session, expire sessions,
//! limit sign-in starts, check CSRF, log, keep metrics, render with a
//! framework, or survive a restart. docs/BENCHMARKS.md says so too.
//!
//! Settings from the environment (the benchmark script sets them):
//! `CEILING_ADDR` (listen), `CEILING_ISSUER` (the tenant's issuer, whose
//! discovery document is read), `CEILING_CLIENT_ID`, `CEILING_CLIENT_SECRET`,
//! `CEILING_REDIRECT_URI`, `CEILING_GRAPH` (Graph's base URL),
//! `CEILING_CA_FILE` (a PEM CA to trust, the emulator's; optional).

mod page;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;

/// The session cookie's name (idweb's in development, over plain http).
const COOKIE: &str = "idweb";

type Oidc = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

struct Ceiling {
    http: reqwest::Client,
    oidc: Oidc,
    me: reqwest::Url,
    /// The provider's origin, for the page policy's `form-action` (as idweb's).
    provider_origin: String,
    /// Sign-ins between start and callback, by `state`.
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
    /// Sessions: id -> the user's Graph access token.
    sessions: RwLock<HashMap<String, Arc<str>>>,
}

fn setting(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let address = setting("CEILING_ADDR")?;
    let mut http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(std::time::Duration::from_secs(20));
    if let Ok(ca_file) = std::env::var("CEILING_CA_FILE") {
        let pem = std::fs::read(&ca_file).map_err(|error| format!("{ca_file}: {error}"))?;
        http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).map_err(|error| format!("{ca_file}: {error}"))?);
    }
    let http = http.build().map_err(|error| error.to_string())?;
    let issuer = IssuerUrl::new(setting("CEILING_ISSUER")?).map_err(|error| error.to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http).await.map_err(|error| format!("discovery: {error}"))?;
    let oidc = CoreClient::from_provider_metadata(metadata, ClientId::new(setting("CEILING_CLIENT_ID")?), Some(ClientSecret::new(setting("CEILING_CLIENT_SECRET")?)))
        .set_redirect_uri(RedirectUrl::new(setting("CEILING_REDIRECT_URI")?).map_err(|error| error.to_string())?);
    let graph = setting("CEILING_GRAPH")?;
    let me = reqwest::Url::parse(&format!("{}/me", graph.trim_end_matches('/'))).map_err(|error| error.to_string())?;
    let provider_origin = issuer.url().origin().ascii_serialization();
    let state = Arc::new(Ceiling { http, oidc, me, provider_origin, pending: Mutex::default(), sessions: RwLock::default() });
    let app = Router::new()
        .route("/auth/sign-in", get(start))
        .route("/signin-oidc", get(callback))
        .route("/profile", get(profile))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|error| format!("{address}: {error}"))?;
    axum::serve(listener, app).await.map_err(|error| error.to_string())
}

/// A random id of 128 bits, URL-safe.
fn random_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

async fn start(State(ceiling): State<Arc<Ceiling>>) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = ceiling
        .oidc
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("offline_access".into()))
        .add_scope(Scope::new("User.Read".into()))
        .set_pkce_challenge(challenge)
        .url();
    ceiling.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(state.into_secret(), (verifier, nonce));
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct AuthorizationResponse {
    code: String,
    state: String,
}

async fn callback(State(ceiling): State<Arc<Ceiling>>, Query(answer): Query<AuthorizationResponse>) -> Response {
    let Some((verifier, nonce)) = ceiling.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&answer.state) else {
        return (StatusCode::BAD_REQUEST, "unknown state").into_response();
    };
    let request = match ceiling.oidc.exchange_code(AuthorizationCode::new(answer.code)) {
        Ok(request) => request.set_pkce_verifier(verifier),
        Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    };
    let tokens = match request.request_async(&ceiling.http).await {
        Ok(tokens) => tokens,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let Some(id_token) = tokens.id_token() else {
        return (StatusCode::BAD_GATEWAY, "no ID token").into_response();
    };
    if let Err(error) = id_token.claims(&ceiling.oidc.id_token_verifier(), &nonce) {
        return (StatusCode::UNAUTHORIZED, error.to_string()).into_response();
    }
    let id = random_id();
    let token: Arc<str> = Arc::from(tokens.access_token().secret().as_str());
    ceiling.sessions.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(id.clone(), token);
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The session's token, if the request names a session.
fn session_token(ceiling: &Ceiling, headers: &HeaderMap) -> Option<Arc<str>> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let id = cookies.split(';').find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))?;
    ceiling.sessions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(id).cloned()
}

async fn profile(State(ceiling): State<Arc<Ceiling>>, headers: HeaderMap) -> Response {
    let Some(token) = session_token(&ceiling, &headers) else {
        return Redirect::to("/auth/sign-in").into_response();
    };
    let answer = ceiling.http.get(ceiling.me.clone()).bearer_auth(&token).send().await;
    let body = match answer {
        Ok(response) if response.status().is_success() => response.bytes().await.ok(),
        _ => None,
    };
    let Some(me) = body.as_deref().and_then(|body| serde_json::from_slice::<page::Me<'_>>(body).ok()) else {
        return (StatusCode::BAD_GATEWAY, "Graph did not answer").into_response();
    };
    page::response(&me, &ceiling.provider_origin)
}
