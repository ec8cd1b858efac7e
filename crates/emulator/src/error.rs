//! Errors, each shaped like the Microsoft service it imitates, and the one
//! place each becomes a response.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::json;

use crate::faults::InjectedError;
use crate::html::escape;

/// Failures starting or configuring the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The configuration is unreadable or inconsistent.
    #[error("emulator configuration: {0}")]
    Config(String),
    /// Key generation failed.
    #[error("cannot create signing key: {0}")]
    Key(String),
    /// The HTTPS listener's certificates could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The listener could not be bound.
    #[error("cannot listen on {address}: {reason}")]
    Bind {
        /// The address asked for.
        address: String,
        /// Why.
        reason: String,
    },
}

/// An OAuth 2.0 error from the token endpoint, in Microsoft's JSON shape.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: Cow<'static, str>,
    aadsts: u32,
    description: String,
    suberror: Option<Cow<'static, str>>,
    claims: Option<String>,
}

impl OAuthError {
    /// `error` with AADSTS code and text; status 400.
    pub fn new(error: impl Into<Cow<'static, str>>, aadsts: u32, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            aadsts,
            description: description.into(),
            suberror: None,
            claims: None,
        }
    }

    /// The error a token fault asks for (status, code, suberror, claims challenge).
    pub fn injected(injected: &InjectedError) -> Self {
        let (typical_aadsts, typical_text) = InjectedError::typical_text(&injected.error);
        let status = injected
            .status
            .and_then(|status| StatusCode::from_u16(status).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        Self {
            status,
            error: Cow::Owned(injected.error.clone()),
            aadsts: injected.aadsts.unwrap_or(typical_aadsts),
            description: injected.description.clone().unwrap_or_else(|| typical_text.to_owned()),
            suberror: injected.suberror.clone().map(Cow::Owned),
            claims: injected.claims.clone(),
        }
    }

    /// `invalid_client` (401) for failed client authentication.
    pub fn invalid_client(aadsts: u32, description: impl Into<String>) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, ..Self::new("invalid_client", aadsts, description) }
    }

    /// `temporarily_unavailable` (503): the service is down.
    pub fn unavailable(description: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, ..Self::new("temporarily_unavailable", 90033, description) }
    }

    /// Adds a claims challenge the client must send on its next authorize request.
    pub fn with_claims(mut self, claims: String) -> Self {
        self.claims = Some(claims);
        self
    }

    /// Adds Microsoft's `suberror` (`consent_required`, `bad_token`, ...).
    pub fn with_suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(Cow::Borrowed(suberror));
        self
    }

    /// The OAuth error code (for tests and logs).
    pub fn error(&self) -> &str {
        &self.error
    }
}

/// Trace and correlation ids plus a timestamp, as every Microsoft error carries.
fn diagnostics() -> (String, String, String) {
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (crate::tokens::random_guid(), crate::tokens::random_guid(), timestamp)
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (trace_id, correlation_id, timestamp) = diagnostics();
        let mut body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                self.aadsts, self.description
            ),
            "error_codes": [self.aadsts],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        });
        if let Some(suberror) = &self.suberror {
            body["suberror"] = json!(suberror);
        }
        if let Some(claims) = &self.claims {
            body["claims"] = json!(claims);
        }
        tracing::info!(error = %self.error, aadsts = self.aadsts, "token request refused");
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"token\""));
        }
        response
    }
}

/// An error shown on the emulator's own pages: the request is not trusted
/// enough to redirect anywhere (unknown client, unregistered redirect URI).
#[derive(Debug)]
pub struct ErrorPage {
    aadsts: u32,
    message: String,
}

impl ErrorPage {
    /// An error page with Microsoft's AADSTS code.
    pub fn new(aadsts: u32, message: impl Into<String>) -> Self {
        Self { aadsts, message: message.into() }
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let body = crate::html::page(
            "Sign in",
            &format!(
                "<h1>Sorry, but we're having trouble signing you in.</h1><p class=\"error\">AADSTS{}: {}</p>",
                self.aadsts,
                escape(&self.message)
            ),
        );
        (StatusCode::BAD_REQUEST, Html(body)).into_response()
    }
}

/// A Microsoft Graph error: `{"error": {"code", "message", "innerError"}}`.
/// The sample API answers in the same shape.
#[derive(Debug)]
pub struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    www_authenticate: Option<String>,
    retry_after_secs: Option<u64>,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), www_authenticate: None, retry_after_secs: None }
    }

    /// 401 with the `WWW-Authenticate` challenge Graph sends.
    pub fn unauthorized(base_url: &str, message: impl Into<String>) -> Self {
        Self {
            www_authenticate: Some(format!(
                "Bearer realm=\"\", authorization_uri=\"{base_url}common/oauth2/authorize\", client_id=\"{}\"",
                crate::GRAPH_APP_ID
            )),
            ..Self::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message)
        }
    }

    /// 401 with a continuous access evaluation claims challenge:
    /// `error="insufficient_claims", claims="<base64 JSON>"`.
    pub fn claims_challenge(base_url: &str, claims_json: &str) -> Self {
        let encoded = base64::engine::general_purpose::STANDARD.encode(claims_json);
        Self {
            www_authenticate: Some(format!(
                "Bearer realm=\"\", authorization_uri=\"{base_url}common/oauth2/authorize\", client_id=\"{}\", error=\"insufficient_claims\", claims=\"{encoded}\"",
                crate::GRAPH_APP_ID
            )),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
            )
        }
    }

    /// 429 with `Retry-After`.
    pub fn throttled(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests. Retry after the time in the Retry-After header.")
        }
    }

    /// Any failure status (503, 500, 504, ...), optionally with `Retry-After`.
    pub fn failing(status: StatusCode, retry_after_secs: Option<u64>) -> Self {
        let code = match status {
            StatusCode::SERVICE_UNAVAILABLE => "serviceNotAvailable",
            StatusCode::GATEWAY_TIMEOUT => "gatewayTimeout",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            _ => "generalException",
        };
        Self { retry_after_secs, ..Self::new(status, code, "The service failed as the emulator was told to make it fail.") }
    }

    /// 403: the token is fine but lacks the permission.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    }

    /// 404 for a user or resource that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", message)
    }

    /// 409: the request contradicts what happened since (a replayed creation whose item was deleted).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    /// 400 for a malformed request (bad `$top`, bad body).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let (request_id, client_request_id, date) = diagnostics();
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": { "date": date, "request-id": request_id, "client-request-id": client_request_id }
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(challenge) = self.www_authenticate.and_then(|value| HeaderValue::from_str(&value).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
