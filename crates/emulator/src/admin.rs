//! The admin API: fault injection and controls for tests and demos, under
//! `/_emulator`. It answers loopback peers only, whatever address the
//! emulator listens on. Documented in docs/EMULATOR.md.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::faults::{ApiFault, AuthorizeIssFault, DiscoveryFault, Faults, IdTokenFault, TokenFault};
use crate::EmulatorState;

/// Where the admin API lives.
pub const PREFIX: &str = "/_emulator";

/// The admin routes (relative to [`PREFIX`]).
pub fn router() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/", get(overview))
        .route("/faults", axum::routing::delete(clear_faults))
        .route("/faults/token", post(arm_token))
        .route("/faults/id-token", post(arm_id_token))
        .route("/faults/authorize-iss", post(arm_authorize_iss))
        .route("/faults/api", post(arm_api))
        .route("/faults/jwks", post(fail_jwks))
        .route("/faults/discovery", post(arm_discovery))
        .route("/policies/claims", post(require_claims))
        .route("/keys/rotate", post(rotate_keys))
        .route("/workload-identity/token", post(workload_identity_token))
        .route("/managed-identity", get(managed_identity))
        .route("/key-vault/certificates/{name}/rotate", post(rotate_vault_certificate))
        .route("/users/{oid}/refresh-tokens/revoke", post(revoke_refresh_tokens))
        .route("/access-tokens/revoke", post(revoke_access_tokens))
        .route("/users/{oid}/refresh-tokens/expire", post(expire_refresh_tokens))
        .layer(middleware::from_fn(loopback_only))
}

/// Refuses peers that are not on this machine. A request without peer
/// information (a router driven in-process) is from this process.
async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    match peer {
        Some(peer) if !peer.ip().is_loopback() => {
            tracing::warn!(%peer, "admin API refused a non-loopback peer");
            admin_error(StatusCode::FORBIDDEN, "the admin API answers loopback clients only")
        }
        _ => next.run(request).await,
    }
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn armed(state: &EmulatorState) -> Json<Value> {
    Json(json!({ "armed": state.faults.armed() }))
}

/// Arms the fault in a JSON body, or answers 400 saying what is wrong with
/// it (unknown field, bad value); either way nothing half-armed remains.
fn arm_from<T>(
    state: &EmulatorState,
    payload: Result<Json<T>, JsonRejection>,
    arm: impl FnOnce(&Faults, T) -> Result<(), String>,
) -> Response {
    let armed_now = match payload {
        Ok(Json(fault)) => arm(&state.faults, fault),
        Err(rejection) => Err(rejection.body_text()),
    };
    match armed_now {
        Ok(()) => armed(state).into_response(),
        Err(problem) => admin_error(StatusCode::BAD_REQUEST, problem),
    }
}

/// `GET /_emulator`: counters and what is armed.
async fn overview(State(state): State<Arc<EmulatorState>>) -> Json<Value> {
    Json(json!({
        "tokenRequests": state.token_requests.load(Ordering::Relaxed),
        "signingKid": state.keys.signing().kid,
        "armed": state.faults.armed(),
    }))
}

/// `DELETE /_emulator/faults`
async fn clear_faults(State(state): State<Arc<EmulatorState>>) -> Json<Value> {
    state.faults.clear();
    armed(&state)
}

/// `POST /_emulator/faults/token` with a [`TokenFault`].
async fn arm_token(State(state): State<Arc<EmulatorState>>, payload: Result<Json<TokenFault>, JsonRejection>) -> Response {
    arm_from(&state, payload, Faults::arm_token)
}

/// `POST /_emulator/faults/id-token` with an [`IdTokenFault`].
async fn arm_id_token(State(state): State<Arc<EmulatorState>>, payload: Result<Json<IdTokenFault>, JsonRejection>) -> Response {
    arm_from(&state, payload, Faults::arm_id_token)
}

/// `POST /_emulator/faults/authorize-iss` with an [`AuthorizeIssFault`].
async fn arm_authorize_iss(
    State(state): State<Arc<EmulatorState>>,
    payload: Result<Json<AuthorizeIssFault>, JsonRejection>,
) -> Response {
    arm_from(&state, payload, Faults::arm_authorize_iss)
}

/// `POST /_emulator/faults/api` with an [`ApiFault`].
async fn arm_api(State(state): State<Arc<EmulatorState>>, payload: Result<Json<ApiFault>, JsonRejection>) -> Response {
    arm_from(&state, payload, Faults::arm_api)
}

/// `POST /_emulator/faults/discovery` with a [`DiscoveryFault`].
async fn arm_discovery(State(state): State<Arc<EmulatorState>>, payload: Result<Json<DiscoveryFault>, JsonRejection>) -> Response {
    arm_from(&state, payload, Faults::arm_discovery)
}

/// How many JWKS requests fail, or (`duplicateKids`) list their `kid`s more than once.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JwksFailure {
    count: u32,
    #[serde(default)]
    duplicate_kids: bool,
    #[serde(default)]
    single_key: bool,
}

/// `POST /_emulator/faults/jwks` with `{"count": n}`: the next n JWKS requests
/// answer 503; with `"duplicateKids": true` they answer, listing kids twice.
async fn fail_jwks(State(state): State<Arc<EmulatorState>>, payload: Result<Json<JwksFailure>, JsonRejection>) -> Response {
    arm_from(&state, payload, |faults, failure: JwksFailure| {
        if failure.duplicate_kids {
            faults.duplicate_jwks_kids(failure.count);
        } else if failure.single_key {
            faults.single_jwks_key(failure.count);
        } else {
            faults.fail_jwks(failure.count);
        }
        Ok(())
    })
}

/// A claims policy, or `null` to lift it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClaimsPolicy {
    claims: Option<String>,
}

/// `POST /_emulator/policies/claims` with `{"claims": "{...}"}`: Graph and the
/// sample API challenge every token that does not satisfy it (`null` lifts it).
async fn require_claims(State(state): State<Arc<EmulatorState>>, payload: Result<Json<ClaimsPolicy>, JsonRejection>) -> Response {
    arm_from(&state, payload, |faults, policy: ClaimsPolicy| {
        if let Some(claims) = &policy.claims {
            let parsed: Value = serde_json::from_str(claims).map_err(|error| format!("claims: not JSON: {error}"))?;
            if !parsed.is_object() {
                return Err("claims: expected a JSON object".into());
            }
        }
        faults.require_claims(policy.claims);
        Ok(())
    })
}

/// `POST /_emulator/keys/rotate`: a new signing key; the old one stays published.
async fn rotate_keys(State(state): State<Arc<EmulatorState>>) -> Response {
    // RSA key generation is CPU-bound: keep it off the async workers.
    let rotating = state.clone();
    match tokio::task::spawn_blocking(move || rotating.keys.rotate()).await {
        Ok(Ok(kid)) => {
            tracing::info!(%kid, "signing key rotated");
            Json(json!({ "signingKid": kid })).into_response()
        }
        Ok(Err(error)) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        Err(error) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

/// What a workload identity token is asked for.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WorkloadTokenRequest {
    subject: String,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    lifetime_secs: Option<u64>,
}

/// Longest lifetime of a workload identity token the admin API mints.
const MAX_WORKLOAD_TOKEN_SECS: u64 = 24 * 3600;

/// `POST /_emulator/workload-identity/token` `{"subject": "..."}`: a token
/// to put in a signed assertion file (workload identity federation).
async fn workload_identity_token(
    State(state): State<Arc<EmulatorState>>,
    payload: Result<Json<WorkloadTokenRequest>, JsonRejection>,
) -> Response {
    let request = match payload {
        Ok(Json(request)) => request,
        Err(rejection) => return admin_error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    if request.subject.trim().is_empty() {
        return admin_error(StatusCode::BAD_REQUEST, "subject must not be empty");
    }
    let audience = request.audience.unwrap_or_else(|| crate::config::FEDERATED_AUDIENCE.into());
    let lifetime = request.lifetime_secs.unwrap_or(3600).min(MAX_WORKLOAD_TOKEN_SECS);
    let token = state.minter().workload_identity_token(&state.workload_issuer(), &request.subject, &audience, lifetime);
    Json(json!({ "token": token, "issuer": state.workload_issuer() })).into_response()
}

/// `GET /_emulator/managed-identity`: what a host gives an app in
/// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, and the identities.
async fn managed_identity(State(state): State<Arc<EmulatorState>>) -> Json<Value> {
    Json(json!({
        "identityEndpoint": format!("{}{}", state.base_url, crate::managed_identity::APP_SERVICE_PATH.trim_start_matches('/')),
        "identityHeader": state.identity_header.expose(),
        "identities": state.config.managed_identities,
    }))
}

/// `POST /_emulator/key-vault/certificates/{name}/rotate`: a new version
/// becomes current; the app it is registered on trusts only the new one.
async fn rotate_vault_certificate(State(state): State<Arc<EmulatorState>>, Path(name): Path<String>) -> Response {
    match crate::key_vault::Vault::rotate(&state, &name).await {
        Ok(Some(issued)) => Json(json!({ "version": issued.version, "x5t": issued.x5t })).into_response(),
        Ok(None) => admin_error(StatusCode::NOT_FOUND, format!("the vault has no certificate {name}")),
        Err(error) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

/// `POST /_emulator/users/{oid}/refresh-tokens/revoke`: like a password
/// reset, it also ends the user's sessions at the emulator.
async fn revoke_refresh_tokens(State(state): State<Arc<EmulatorState>>, Path(oid): Path<String>) -> Response {
    change_user_tokens(&state, &oid, "revoked", |state, oid| {
        state.sso.sign_out_user(oid);
        state.grants.revoke_user(oid)
    })
}

/// `POST /_emulator/access-tokens/revoke`: Graph and the sample API refuse
/// every access token minted so far with a plain 401 (no claims challenge),
/// as after a restart with new keys, a revocation or a policy change;
/// tokens minted afterwards are accepted.
async fn revoke_access_tokens(State(state): State<Arc<EmulatorState>>) -> Response {
    let minted = state.faults.revoke_access_tokens_minted_so_far();
    tracing::info!(minted, "access tokens revoked");
    Json(json!({ "revokedMintedBefore": minted })).into_response()
}

/// `POST /_emulator/users/{oid}/refresh-tokens/expire`
async fn expire_refresh_tokens(State(state): State<Arc<EmulatorState>>, Path(oid): Path<String>) -> Response {
    change_user_tokens(&state, &oid, "expired", |state, oid| state.grants.expire_user(oid))
}

fn change_user_tokens(
    state: &EmulatorState,
    oid: &str,
    verb: &str,
    change: impl Fn(&EmulatorState, &str) -> usize,
) -> Response {
    if state.config.user(oid).is_none() {
        return admin_error(StatusCode::NOT_FOUND, format!("no test user has objectId {oid}"));
    }
    let count = change(state, oid);
    tracing::info!(user = %oid, count, "refresh tokens {verb}");
    Json(json!({ verb: count })).into_response()
}
