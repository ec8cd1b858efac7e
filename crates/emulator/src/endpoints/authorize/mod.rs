//! The authorize endpoint: checks the request, shows the account picker
//! and the consent page (or signs in silently for `prompt=none`), and
//! answers with a code or an error at the app's redirect URI.

mod pages;
mod request;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Form;

pub use request::{AuthorizeRequest, Prompt, ResponseMode};

use crate::config::TestUser;
use crate::consent::{ConsentStore, PendingScope};
use crate::store::CodeGrant;
use crate::tokens::{now_secs, random_guid, random_token};
use crate::{sso, EmulatorState};

/// `GET /{tenant}/oauth2/v2.0/authorize`
pub async fn show_sign_in(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let request = match AuthorizeRequest::validate(&state, &tenant, &params) {
        Ok(request) => request,
        Err(rejection) => return *rejection,
    };
    if request.prompt == Some(Prompt::None) {
        return sign_in_silently(&state, request, &headers);
    }
    // Like Entra: a login_hint naming the account already signed in here skips the picker.
    if let Some(response) = continue_as_hinted_user(&state, &tenant, &request, &params, &headers) {
        return response;
    }
    pages::sign_in_page(&state, &tenant, &request, &params, None).into_response()
}

/// The consent page or a code for the `login_hint` user, when this browser
/// is signed in here as that user and `prompt` does not ask for a choice.
fn continue_as_hinted_user(
    state: &EmulatorState,
    tenant: &str,
    request: &AuthorizeRequest,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Option<Response> {
    if matches!(request.prompt, Some(Prompt::Login | Prompt::SelectAccount)) {
        return None;
    }
    let hint = request.login_hint.as_deref()?;
    let (session_id, session) = state.sso.from_headers(headers)?;
    let user = state.config.user(&session.user_oid)?;
    if !hint.eq_ignore_ascii_case(&user.user_principal_name) && !hint.eq_ignore_ascii_case(&user.mail) {
        return None;
    }
    let pending = scopes_to_consent(state, request, user);
    if !pending.is_empty() {
        return Some(pages::consent_page(tenant, request, params, user, &pending).into_response());
    }
    Some(issue_code(state, request, user, Some(&session_id)))
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the answer of the picker or the consent page.
pub async fn complete_sign_in(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let request = match AuthorizeRequest::validate(&state, &tenant, &params) {
        Ok(request) => request,
        Err(rejection) => return *rejection,
    };
    if params.contains_key("cancel") {
        return request.error_redirect("access_denied", "AADSTS50126: The user cancelled the sign-in.");
    }
    let field = |name: &str| params.get(name).map(String::as_str).filter(|value| !value.trim().is_empty());
    let user = match (field("user_oid"), field("username")) {
        (Some(oid), _) => state.config.user(oid),
        (None, Some(name)) => state.config.user_named(name),
        (None, None) => {
            return pages::sign_in_page(&state, &tenant, &request, &params, Some("Enter an account to sign in with.")).into_response()
        }
    };
    let Some(user) = user else {
        let problem = "AADSTS50034: This account does not exist in this directory. Pick one of the listed accounts.";
        return pages::sign_in_page(&state, &tenant, &request, &params, Some(problem)).into_response();
    };
    match field("consent") {
        Some("decline") => {
            tracing::info!(client_id = %request.app.client_id, "user declined consent");
            return request.error_redirect("access_denied", "AADSTS65004: User declined to consent to access the app.");
        }
        Some("accept") => state.consent.grant(&user.object_id, &request.app, &request.scopes),
        _ => {
            let pending = scopes_to_consent(&state, &request, user);
            if !pending.is_empty() {
                return pages::consent_page(&tenant, &request, &params, user, &pending).into_response();
            }
        }
    }
    let existing = state.sso.from_headers(&headers).map(|(id, _)| id);
    issue_code(&state, &request, user, existing.as_deref())
}

/// What the consent page must ask: every scope with `prompt=consent`, else
/// those neither the user nor an administrator consented to.
fn scopes_to_consent(state: &EmulatorState, request: &AuthorizeRequest, user: &TestUser) -> Vec<PendingScope> {
    if request.prompt == Some(Prompt::Consent) {
        ConsentStore::all(&request.scopes)
    } else {
        state.consent.missing(&state.config, &user.object_id, &request.app, &request.scopes)
    }
}

/// `prompt=none`: a code if this browser is signed in (as the `login_hint`
/// user, when given) and consent covers the scopes; otherwise the error
/// that tells the app which interaction is needed.
fn sign_in_silently(state: &EmulatorState, request: AuthorizeRequest, headers: &HeaderMap) -> Response {
    let Some((session_id, session)) = state.sso.from_headers(headers) else {
        return request.error_redirect("login_required", "AADSTS50058: A silent sign-in request was sent but no user is signed in.");
    };
    let Some(user) = state.config.user(&session.user_oid) else {
        return request.error_redirect("login_required", "AADSTS50058: A silent sign-in request was sent but no user is signed in.");
    };
    if let Some(hint) = &request.login_hint {
        if !hint.eq_ignore_ascii_case(&user.user_principal_name) && !hint.eq_ignore_ascii_case(&user.mail) {
            return request.error_redirect(
                "interaction_required",
                "AADSTS16000: The signed-in account is not the one named in login_hint; the user must choose an account.",
            );
        }
    }
    if !state.consent.missing(&state.config, &user.object_id, &request.app, &request.scopes).is_empty() {
        return request.error_redirect(
            "consent_required",
            &format!(
                "AADSTS65001: The user or administrator has not consented to use the application with ID '{}'.",
                request.app.client_id
            ),
        );
    }
    issue_code(state, &request, user, Some(&session_id))
}

/// Issues a one-time code, signs the browser in at the emulator, and sends the code back.
fn issue_code(
    state: &EmulatorState,
    request: &AuthorizeRequest,
    user: &TestUser,
    sso_session: Option<&str>,
) -> Response {
    let (cookie, sid) = state.sso.sign_in(sso_session, &user.object_id, &request.app.client_id);
    let code = random_token(48);
    state.grants.insert_code(
        code.clone(),
        CodeGrant {
            client_id: request.app.client_id.clone(),
            redirect_uri: request.redirect_uri.to_string(),
            scope: request.scope_text.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            claims: request.claims.clone(),
            user_oid: user.object_id.clone(),
            session_id: sid,
            expires_at: now_secs() + state.config.code_lifetime_secs,
            redeemed: false,
        },
    );
    tracing::info!(client_id = %request.app.client_id, "authorization code issued");
    let mut response_iss = request.response_iss.clone();
    if let Some(injected) = state.faults.take_authorize_iss() {
        tracing::info!(iss = ?injected, "authorization response iss overridden");
        response_iss = injected;
    }
    let mut pairs = vec![("code", code)];
    if let Some(state_param) = &request.state {
        pairs.push(("state", state_param.clone()));
    }
    pairs.push(("session_state", random_guid()));
    if let Some(iss) = response_iss {
        pairs.push(("iss", iss));
    }
    let mut response = request.respond(&pairs);
    response.headers_mut().append(header::SET_COOKIE, sso::set_cookie(Some(&cookie)));
    response
}
