//! The authorize endpoint: validates the request, shows a sign-in page
//! listing the test users, and answers with a code (or an error) at the
//! app's redirect URI.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use url::Url;

use crate::config::AppRegistration;
use crate::error::ErrorPage;
use crate::html::{escape, page};
use crate::store::CodeGrant;
use crate::tokens::{now_secs, random_guid, random_token};
use crate::EmulatorState;

/// Form fields the sign-in page adds; never echoed back as parameters.
const PAGE_FIELDS: [&str; 2] = ["user_oid", "cancel"];

/// `GET /{tenant}/oauth2/v2.0/authorize`
pub async fn show_sign_in(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let request = match AuthorizeRequest::validate(&state, &tenant, &params) {
        Ok(request) => request,
        Err(rejection) => return rejection,
    };
    Html(sign_in_page(&state, &tenant, &request.app, &params)).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the sign-in page's answer.
pub async fn complete_sign_in(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let mut request = match AuthorizeRequest::validate(&state, &tenant, &params) {
        Ok(request) => request,
        Err(rejection) => return rejection,
    };
    if let Some(injected) = state.faults.take_authorize_iss() {
        tracing::info!(iss = ?injected, "authorization response iss overridden");
        request.response_iss = injected;
    }
    if params.contains_key("cancel") {
        return request.error_redirect("access_denied", "AADSTS65004: User declined to consent to access the app.");
    }
    let Some(user) = params.get("user_oid").and_then(|oid| state.config.user(oid)) else {
        return ErrorPage::new(50034, "The user account does not exist in this directory.").into_response();
    };
    let code = random_token(48);
    state.grants.insert_code(
        code.clone(),
        CodeGrant {
            client_id: request.app.client_id.clone(),
            redirect_uri: request.redirect_uri.to_string(),
            scope: request.scope.clone(),
            nonce: params.get("nonce").cloned(),
            code_challenge: params.get("code_challenge").cloned(),
            user_oid: user.object_id.clone(),
            session_id: random_guid(),
            expires_at: now_secs() + state.config.code_lifetime_secs,
            redeemed: false,
        },
    );
    tracing::info!(client_id = %request.app.client_id, "authorization code issued");
    let mut target = request.redirect_uri.clone();
    {
        let mut query = target.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(state_param) = &request.state {
            query.append_pair("state", state_param);
        }
        query.append_pair("session_state", &random_guid());
        if let Some(iss) = &request.response_iss {
            query.append_pair("iss", iss);
        }
    }
    Redirect::to(target.as_str()).into_response()
}

/// An authorize request that passed the checks which allow redirecting back.
struct AuthorizeRequest {
    app: AppRegistration,
    redirect_uri: Url,
    scope: String,
    state: Option<String>,
    /// RFC 9207 `iss` for the response: the issuer of the discovery document
    /// the client used (the `{tenantid}` template under `common`).
    response_iss: Option<String>,
}

impl AuthorizeRequest {
    /// Checks the request. Until the client and redirect URI are trusted the
    /// error is shown here; after that it goes back to the app (as Microsoft does).
    fn validate(state: &EmulatorState, tenant: &str, params: &HashMap<String, String>) -> Result<Self, Response> {
        let Some(tenant_scope) = state.config.tenant_scope(tenant) else {
            return Err(ErrorPage::new(90002, format!("Tenant '{tenant}' not found.")).into_response());
        };
        let client_id = params.get("client_id").map(String::as_str).unwrap_or_default();
        let Some(app) = state.config.app(client_id) else {
            return Err(ErrorPage::new(
                700016,
                format!("Application with identifier '{client_id}' was not found in the directory."),
            )
            .into_response());
        };
        let redirect_text = params.get("redirect_uri").map(String::as_str).unwrap_or_default();
        let redirect_uri = match Url::parse(redirect_text) {
            Ok(url) if app.redirect_uris.iter().any(|registered| registered == redirect_text) => url,
            _ => {
                return Err(ErrorPage::new(
                    50011,
                    format!(
                        "The redirect URI '{redirect_text}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
                    ),
                )
                .into_response())
            }
        };
        let request = Self {
            app: app.clone(),
            redirect_uri,
            scope: params.get("scope").cloned().unwrap_or_default(),
            state: params.get("state").cloned(),
            response_iss: Some(state.discovery_issuer(tenant_scope)),
        };
        if !tenant_scope.admits_work_accounts() {
            return Err(request.error_redirect(
                "invalid_request",
                "AADSTS50020: The emulated tenant holds work accounts only; the 'consumers' endpoint admits personal accounts.",
            ));
        }
        if params.get("response_type").map(String::as_str) != Some("code") {
            return Err(request.error_redirect(
                "unsupported_response_type",
                "AADSTS700054: response_type must be 'code' for this application.",
            ));
        }
        if let Some(mode) = params.get("response_mode").filter(|mode| mode.as_str() != "query") {
            return Err(request.error_redirect(
                "invalid_request",
                &format!("AADSTS900144: response_mode '{mode}' is not supported by this emulator yet."),
            ));
        }
        if !request.scope.split_whitespace().any(|scope| scope == "openid") {
            return Err(request.error_redirect("invalid_request", "AADSTS900144: The request body must contain the 'openid' scope."));
        }
        if let Err(unknown) = crate::tokens::RequestedScopes::parse(&request.scope) {
            return Err(request.error_redirect(
                "invalid_scope",
                &format!("AADSTS70011: The provided value for the input parameter 'scope' is not valid: {unknown}."),
            ));
        }
        match (params.get("code_challenge"), params.get("code_challenge_method").map(String::as_str)) {
            (None, None) | (Some(_), Some("S256")) => {}
            (Some(_), None | Some(_)) => {
                return Err(request.error_redirect(
                    "invalid_request",
                    "AADSTS501491: Invalid code_challenge_method: only S256 is accepted.",
                ))
            }
            (None, Some(_)) => {
                return Err(request.error_redirect("invalid_request", "AADSTS501481: code_challenge is required with code_challenge_method."))
            }
        }
        Ok(request)
    }

    /// Sends an OAuth error back to the app's redirect URI.
    fn error_redirect(&self, error: &str, description: &str) -> Response {
        let mut target = self.redirect_uri.clone();
        {
            let mut query = target.query_pairs_mut();
            query.append_pair("error", error);
            query.append_pair("error_description", description);
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
            if let Some(iss) = &self.response_iss {
                query.append_pair("iss", iss);
            }
        }
        Redirect::to(target.as_str()).into_response()
    }
}

/// The account picker: one form, the request's parameters as hidden
/// fields, one submit button per test user.
fn sign_in_page(state: &EmulatorState, tenant: &str, app: &AppRegistration, params: &HashMap<String, String>) -> String {
    let mut names: Vec<&String> = params.keys().filter(|name| !PAGE_FIELDS.contains(&name.as_str())).collect();
    names.sort();
    let hidden: String = names
        .into_iter()
        .map(|name| {
            format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(&params[name]))
        })
        .collect();
    let users: String = state
        .config
        .users
        .iter()
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"user_oid\" value=\"{}\">{}<small>{}</small></button>",
                escape(&user.object_id),
                escape(&user.display_name),
                escape(&user.user_principal_name)
            )
        })
        .collect();
    page(
        "Sign in",
        &format!(
            "<h1>Pick an account</h1><p>to continue to <strong>{app}</strong></p>\
             <form method=\"post\" action=\"/{tenant}/oauth2/v2.0/authorize\">{hidden}{users}\
             <button type=\"submit\" name=\"cancel\" value=\"1\" class=\"cancel\">Cancel</button></form>",
            app = escape(&app.display_name),
            tenant = escape(tenant),
        ),
    )
}

