//! One call to a downstream API for a user or for the app: the token
//! attached, a claims challenge answered once (CAE-01), throttling and
//! unavailability retried within a budget (FLT-02), errors mapped once.

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::{challenge, retry};
use crate::acquisition::{TokenAcquisition, UserTokenOptions};
use crate::config::DownstreamApiConfig;
use crate::error::IdentityError;
use crate::provider::error_chain;
use crate::user::SignedInUser;

/// Who a call acts for.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The signed-in user (delegated token).
    User(&'a SignedInUser),
    /// The app itself (client credentials).
    App,
}

/// Sends calls to downstream APIs; shared by the Graph client and `DownstreamApis`.
pub struct ApiCaller {
    http: reqwest::Client,
    tokens: Arc<TokenAcquisition>,
}

/// The error body Graph (and the sample API) send: `{"error": {"code", "message"}}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

impl ApiCaller {
    /// A caller using `http` and acquiring tokens through `tokens`.
    pub fn new(http: reqwest::Client, tokens: Arc<TokenAcquisition>) -> Self {
        Self { http, tokens }
    }

    /// `relative` under the API's base URL; `None` uses its `RelativePath`.
    /// The result must stay under the base URL (no absolute URLs, no `..` escapes).
    pub fn url(api: &DownstreamApiConfig, relative: Option<&str>) -> Result<Url, IdentityError> {
        let base = format!("{}/", api.base_url.as_str().trim_end_matches('/'));
        let relative = relative.unwrap_or(&api.relative_path).trim_start_matches('/');
        let url = Url::parse(&base)
            .and_then(|base| base.join(relative))
            .map_err(|error| IdentityError::Internal(format!("bad downstream URL: {error}")))?;
        Self::check_under(api, url)
    }

    /// `url` if it lies under the API's base URL (a `@odata.nextLink`, say).
    pub fn check_under(api: &DownstreamApiConfig, url: Url) -> Result<Url, IdentityError> {
        let base = format!("{}/", api.base_url.as_str().trim_end_matches('/'));
        if url.as_str().starts_with(&base) {
            Ok(url)
        } else {
            Err(IdentityError::Internal(format!("{url} is not under the API's base URL")))
        }
    }

    /// Sends one logical call and returns the final response, successful or not.
    pub async fn send(
        &self,
        api: &DownstreamApiConfig,
        caller: Caller<'_>,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, IdentityError> {
        let mut claims: Option<String> = None;
        let mut retries_left = api.max_retries;
        loop {
            let token = match caller {
                Caller::App => self.tokens.for_app(&api.scopes).await?,
                Caller::User(user) => {
                    let options = UserTokenOptions { claims: claims.as_deref(), ..UserTokenOptions::new(&api.scopes) };
                    self.tokens.for_user_with(user, options).await?
                }
            };
            let mut request = self.http.request(method.clone(), url.clone()).bearer_auth(token.secret()).timeout(api.timeout);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|error| IdentityError::DownstreamUnavailable(error_chain(&error)))?;
            if let (Some(challenged), Caller::User(user)) = (claims_challenge(&response), caller) {
                if claims.is_some() {
                    // Renewed once already: only the user can satisfy it now (no loop).
                    return Err(IdentityError::InteractionRequired {
                        scopes: api.scopes.clone(),
                        claims: Some(challenged),
                        reason: "the API challenged a renewed token again".into(),
                    });
                }
                tracing::info!("claims challenge; renewing the token once");
                self.tokens.forget_access_tokens(user, &api.scopes).await?;
                claims = Some(challenged);
                continue;
            }
            if retry::is_retriable(response.status()) && retries_left > 0 {
                let wait = retry::retry_after(response.headers(), SystemTime::now()).unwrap_or(retry::DEFAULT_RETRY_WAIT);
                if wait <= retry::MAX_RETRY_WAIT {
                    tracing::info!(status = response.status().as_u16(), wait_ms = wait.as_millis() as u64, "downstream API asks to retry");
                    retries_left -= 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Ok(response);
        }
    }

    /// The response's JSON body, or the API's error mapped to `IdentityError::Downstream`.
    pub async fn json<T: DeserializeOwned>(response: Response) -> Result<T, IdentityError> {
        let response = Self::success(response).await?;
        response.json::<T>().await.map_err(|error| IdentityError::DownstreamUnavailable(format!("unreadable API response: {error}")))
    }

    /// The response if successful, else the API's error.
    pub async fn success(response: Response) -> Result<Response, IdentityError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let detail = response.json::<ErrorBody>().await.ok().map(|body| body.error);
        Err(IdentityError::Downstream {
            status: status.as_u16(),
            code: detail.as_ref().map(|detail| detail.code.clone()).unwrap_or_else(|| reason(status)),
            message: detail.map(|detail| detail.message).unwrap_or_default(),
        })
    }
}

fn reason(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("error").to_owned()
}

/// The claims of a `401` claims challenge, if the response is one.
fn claims_challenge(response: &Response) -> Option<String> {
    if response.status() != StatusCode::UNAUTHORIZED {
        return None;
    }
    response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(challenge::insufficient_claims)
}
