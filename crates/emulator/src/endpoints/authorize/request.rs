//! An authorize request, checked the way the v2.0 endpoint checks it.

use std::collections::HashMap;

use axum::response::{IntoResponse, Redirect, Response};
use url::Url;

use crate::config::AppRegistration;
use crate::error::ErrorPage;
use crate::scopes::ScopeRequest;
use crate::EmulatorState;

/// `prompt` values Microsoft accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Always ask for credentials.
    Login,
    /// Never show a page: sign in silently or fail.
    None,
    /// Show the consent page even for consented scopes.
    Consent,
    /// Show the account picker.
    SelectAccount,
}

/// How the authorization response reaches the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `code`).
    Query,
    /// An auto-submitted HTML form POSTed to the redirect URI.
    FormPost,
}

/// An authorize request that passed the checks which allow redirecting back.
pub struct AuthorizeRequest {
    /// The app registration.
    pub app: AppRegistration,
    /// The registered redirect URI the request named.
    pub redirect_uri: Url,
    /// The `scope` text as sent.
    pub scope_text: String,
    /// The scopes, by resource.
    pub scopes: ScopeRequest,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// RFC 9207 `iss` for the response: the issuer of the discovery document
    /// the client used (the `{tenantid}` template under `common`); `None` omits it.
    pub response_iss: Option<String>,
    /// `response_mode`.
    pub response_mode: ResponseMode,
    /// `prompt`, if any.
    pub prompt: Option<Prompt>,
    /// `login_hint`: the account to sign in.
    pub login_hint: Option<String>,
    /// `domain_hint`: the users' domain.
    pub domain_hint: Option<String>,
    /// `claims`: a claims request (JSON), e.g. from a claims challenge or `xms_cc`.
    pub claims: Option<String>,
    /// `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// PKCE `code_challenge` (S256).
    pub code_challenge: Option<String>,
}

impl AuthorizeRequest {
    /// Checks the request. Until the client and redirect URI are trusted the
    /// error is shown here; after that it goes back to the app (as Microsoft does).
    pub fn validate(state: &EmulatorState, tenant: &str, params: &HashMap<String, String>) -> Result<Self, Box<Response>> {
        let param = |name: &str| params.get(name).map(String::as_str).filter(|value| !value.is_empty());
        let Some(tenant_scope) = state.config.tenant_scope(tenant) else {
            return Err(Box::new(ErrorPage::new(90002, format!("Tenant '{tenant}' not found.")).into_response()));
        };
        let client_id = param("client_id").unwrap_or_default();
        let Some(app) = state.config.app(client_id) else {
            return Err(Box::new(
                ErrorPage::new(700016, format!("Application with identifier '{client_id}' was not found in the directory."))
                    .into_response(),
            ));
        };
        let redirect_text = param("redirect_uri").unwrap_or_default();
        let redirect_uri = match Url::parse(redirect_text) {
            Ok(url) if app.redirect_uris.iter().any(|registered| registered == redirect_text) => url,
            _ => {
                return Err(Box::new(
                    ErrorPage::new(
                        50011,
                        format!(
                            "The redirect URI '{redirect_text}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
                        ),
                    )
                    .into_response(),
                ))
            }
        };
        let mut request = Self {
            app: app.clone(),
            redirect_uri,
            scope_text: param("scope").unwrap_or_default().to_owned(),
            scopes: ScopeRequest::default(),
            state: param("state").map(str::to_owned),
            response_iss: Some(state.discovery_issuer(tenant_scope)),
            response_mode: ResponseMode::Query,
            prompt: None,
            login_hint: param("login_hint").map(str::to_owned),
            domain_hint: param("domain_hint").map(str::to_owned),
            claims: param("claims").map(str::to_owned),
            nonce: param("nonce").map(str::to_owned),
            code_challenge: param("code_challenge").map(str::to_owned),
        };
        // From here on errors go back to the app, with the state.
        let refuse = |request: &Self, error: &str, description: &str| Err(Box::new(request.error_redirect(error, description)));
        request.response_mode = match param("response_mode") {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(other) => {
                return refuse(&request, "invalid_request", &format!("AADSTS900144: response_mode '{other}' is not supported for response_type 'code' by this emulator."))
            }
        };
        if !tenant_scope.admits_work_accounts() {
            return refuse(&request, "invalid_request", "AADSTS50020: The emulated tenant holds work accounts only; the 'consumers' endpoint admits personal accounts.");
        }
        if param("response_type") != Some("code") {
            return refuse(&request, "unsupported_response_type", "AADSTS700054: response_type must be 'code' for this application.");
        }
        request.prompt = match param("prompt") {
            None => None,
            Some("login") => Some(Prompt::Login),
            Some("none") => Some(Prompt::None),
            Some("consent") => Some(Prompt::Consent),
            Some("select_account") => Some(Prompt::SelectAccount),
            Some(other) => {
                return refuse(&request, "invalid_request", &format!("AADSTS90023: Invalid prompt value '{other}'."))
            }
        };
        if !request.scope_text.split_whitespace().any(|scope| scope == "openid") {
            return refuse(&request, "invalid_request", "AADSTS900144: The request body must contain the 'openid' scope.");
        }
        request.scopes = match ScopeRequest::parse(&request.scope_text, &state.config) {
            Ok(scopes) => scopes,
            Err(unknown) => {
                return refuse(&request, "invalid_scope", &format!("AADSTS70011: The provided value for the input parameter 'scope' is not valid: {unknown}."))
            }
        };
        if let Some(claims) = &request.claims {
            if !serde_json::from_str::<serde_json::Value>(claims).is_ok_and(|value| value.is_object()) {
                return refuse(&request, "invalid_request", "AADSTS90014: The claims parameter is not a valid JSON object.");
            }
        }
        match (param("code_challenge"), param("code_challenge_method")) {
            (None, None) | (Some(_), Some("S256")) => {}
            (Some(_), _) => {
                return refuse(&request, "invalid_request", "AADSTS501491: Invalid code_challenge_method: only S256 is accepted.")
            }
            (None, Some(_)) => {
                return refuse(&request, "invalid_request", "AADSTS501481: code_challenge is required with code_challenge_method.")
            }
        }
        Ok(request)
    }

    /// Sends an OAuth error back to the app.
    pub fn error_redirect(&self, error: &str, description: &str) -> Response {
        let mut pairs = vec![("error", error.to_owned()), ("error_description", description.to_owned())];
        if let Some(state) = &self.state {
            pairs.push(("state", state.clone()));
        }
        if let Some(iss) = &self.response_iss {
            pairs.push(("iss", iss.clone()));
        }
        self.respond(&pairs)
    }

    /// Delivers response parameters to the redirect URI in the requested mode.
    pub fn respond(&self, pairs: &[(&str, String)]) -> Response {
        match self.response_mode {
            ResponseMode::Query => {
                let mut target = self.redirect_uri.clone();
                target.query_pairs_mut().extend_pairs(pairs.iter().map(|(name, value)| (*name, value.as_str())));
                Redirect::to(target.as_str()).into_response()
            }
            ResponseMode::FormPost => super::pages::form_post(&self.redirect_uri, pairs).into_response(),
        }
    }
}
