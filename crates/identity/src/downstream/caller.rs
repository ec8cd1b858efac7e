//! One call to a downstream API for a user or for the app: the token
//! attached, a claims challenge answered once (CAE-01), a refused token
//! evicted and renewed once (FLT-05), throttling and unavailability retried
//! within a budget (FLT-02), errors mapped once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openidconnect::AccessToken;
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::{challenge, retry};
use crate::acquisition::{TokenAcquisition, UserTokenOptions};
use crate::config::DownstreamApiConfig;
use crate::error::IdentityError;
use crate::telemetry::error_chain;
use crate::user::SignedInUser;

/// Who a call acts for.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The signed-in user (delegated token).
    User(&'a SignedInUser),
    /// The app itself (client credentials).
    App,
}

impl<'a> Caller<'a> {
    fn user(self) -> Option<&'a SignedInUser> {
        match self {
            Self::User(user) => Some(user),
            Self::App => None,
        }
    }

    fn account(self) -> Option<crate::user::HomeAccountId> {
        self.user().map(|user| user.home_account_id.clone())
    }
}

/// How long an API that refused a renewed token is not asked with another
/// renewal for the same user (FLT-05): a reload shows "sign in again" at
/// once instead of one more token request each time.
const REFUSAL_MEMORY: Duration = Duration::from_secs(60);
/// The most (user, API) refusals remembered.
const REFUSALS_REMEMBERED: u64 = 100_000;

/// Sends calls to downstream APIs; shared by the Graph client and `DownstreamApis`.
pub struct ApiCaller {
    http: reqwest::Client,
    tokens: Arc<TokenAcquisition>,
    /// APIs that refused a renewed token lately, per user (`None`: the app),
    /// with the grant that was refused: a new sign-in (a newer grant) is
    /// tried again at once.
    refused: moka::sync::Cache<(Option<crate::user::HomeAccountId>, Url), u64>,
    /// Whether `refused` ever held anything: until then a call builds no key
    /// and looks nothing up (the path every page takes).
    any_refused: AtomicBool,
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
    pub(crate) fn new(http: reqwest::Client, tokens: Arc<TokenAcquisition>) -> Self {
        let refused = moka::sync::Cache::builder().max_capacity(REFUSALS_REMEMBERED).time_to_live(REFUSAL_MEMORY).build();
        Self { http, tokens, refused, any_refused: AtomicBool::new(false) }
    }

    /// `relative` under the API's base URL; `None` uses its `RelativePath`.
    /// The result must stay under the base URL (no absolute URLs, no `..` escapes).
    pub fn url(api: &DownstreamApiConfig, relative: Option<&str>) -> Result<Url, IdentityError> {
        // Joined onto the base as a directory (a trailing slash), or its last segment would be replaced.
        let mut base = api.base_url.clone();
        if !base.path().ends_with('/') {
            let directory = format!("{}/", base.path());
            base.set_path(&directory);
        }
        let relative = relative.unwrap_or(&api.relative_path).trim_start_matches('/');
        let url = base.join(relative).map_err(|error| IdentityError::InvalidRequest(format!("bad downstream URL: {error}")))?;
        Self::check_under(api, url)
    }

    /// `url` if it lies under the API's base URL (a `@odata.nextLink`, say).
    pub fn check_under(api: &DownstreamApiConfig, url: Url) -> Result<Url, IdentityError> {
        let base = format!("{}/", api.base_url.as_str().trim_end_matches('/'));
        if url.as_str().starts_with(&base) {
            Ok(url)
        } else {
            Err(IdentityError::InvalidRequest(format!("{url} is not under the API's base URL")))
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
        // FLT-05: the token the API refused, once it has been evicted and a renewal asked for.
        let mut refused_token: Option<AccessToken> = None;
        let refusal_key = || (caller.account(), api.base_url.clone());
        let user = caller.user();
        if self.any_refused.load(Ordering::Relaxed) {
            if let Some(refused_grant) = self.refused.get(&refusal_key()) {
                // The renewed token was refused too, lately: no renewal per reload, the answer at once.
                if self.tokens.grant_generation(user).await? == refused_grant {
                    return self.refused_again(caller, api, None).await;
                }
            }
        }
        loop {
            let token = match caller {
                // `AppScopes` when set (`{resource}/.default`), else the API's scopes.
                Caller::App => self.tokens.for_app(if api.app_scopes.is_empty() { &api.scopes } else { &api.app_scopes }).await?,
                Caller::User(user) => {
                    // After a refusal, a renewal for sure: not another cached token, not one served through an outage.
                    let options = UserTokenOptions { claims: claims.as_deref(), force_refresh: refused_token.is_some(), ..UserTokenOptions::new(&api.scopes) };
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
            if response.status() == StatusCode::UNAUTHORIZED {
                // FLT-05: the API no longer takes this token (revoked, the resource's keys
                // or policy changed). Once: evict it and renew; then only the user can help.
                match &refused_token {
                    None => {
                        tracing::info!("the API refused a cached access token; renewing it once");
                        self.tokens.forget_refused(user, &token).await?;
                        refused_token = Some(token);
                        continue;
                    }
                    Some(first) if first.secret() != token.secret() => {
                        tracing::warn!("the API refused a renewed access token too");
                        let grant = self.tokens.grant_generation(user).await?;
                        self.refused.insert(refusal_key(), grant);
                        self.any_refused.store(true, Ordering::Relaxed);
                        return self.refused_again(caller, api, Some((response, token))).await;
                    }
                    // The "renewal" gave the same token back: nothing learnt about the grant.
                    Some(_) => return Ok(response),
                }
            }
            if retry::is_retriable(response.status(), &method, api.retry_writes) && retries_left > 0 {
                let wait = crate::answer::retry_after(response.headers(), SystemTime::now()).unwrap_or(retry::DEFAULT_RETRY_WAIT);
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

    /// The answer when an API refuses even a renewed token: a user is asked
    /// to sign in again (the refused token dropped, so the new sign-in's
    /// token is the next one sent); the app's call ends with the API's 401.
    async fn refused_again(
        &self,
        caller: Caller<'_>,
        api: &DownstreamApiConfig,
        refused: Option<(Response, AccessToken)>,
    ) -> Result<Response, IdentityError> {
        if let Some((_, token)) = &refused {
            self.tokens.forget_refused(caller.user(), token).await?;
        }
        match (caller, refused) {
            (Caller::User(_), _) => Err(IdentityError::TokenRefused { scopes: api.scopes.clone() }),
            (Caller::App, Some((response, _))) => Ok(response),
            (Caller::App, None) => Err(IdentityError::Downstream {
                status: StatusCode::UNAUTHORIZED.as_u16(),
                code: "InvalidAuthenticationToken".into(),
                message: "the API refused the app's renewed token moments ago".into(),
            }),
        }
    }

    /// The response's JSON body, or the API's error mapped to `IdentityError::Downstream`.
    pub async fn json<T: DeserializeOwned>(response: Response) -> Result<T, IdentityError> {
        let response = Self::success(response).await?;
        crate::answer::json_capped::<T>(response)
            .await
            .map_err(|error| IdentityError::DownstreamUnavailable(format!("unreadable API response: {}", crate::telemetry::error_chain(&error))))
    }

    /// The response if successful, else the API's error.
    pub async fn success(response: Response) -> Result<Response, IdentityError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let detail = crate::answer::json_capped::<ErrorBody>(response).await.ok().map(|body| body.error);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str, relative_path: &str) -> DownstreamApiConfig {
        DownstreamApiConfig {
            base_url: Url::parse(base).unwrap(),
            scopes: vec!["api://x/access_as_user".into()],
            relative_path: relative_path.into(),
            http_method: Method::GET,
            request_app_token: false,
            timeout: std::time::Duration::from_secs(5),
            max_retries: 2,
            retry_writes: false,
            app_scopes: Vec::new(),
        }
    }

    #[test]
    fn urls_join_the_base_and_the_relative_path() {
        let todo = api("https://api.example/v1", "todolist");
        assert_eq!(ApiCaller::url(&todo, None).unwrap().as_str(), "https://api.example/v1/todolist");
        assert_eq!(ApiCaller::url(&todo, Some("/todolist/7")).unwrap().as_str(), "https://api.example/v1/todolist/7");
        assert_eq!(ApiCaller::url(&todo, Some("items?$top=5")).unwrap().as_str(), "https://api.example/v1/items?$top=5");
    }

    #[test]
    fn urls_never_leave_the_api() {
        let todo = api("https://api.example/v1/", "");
        for escape in ["https://evil.example/", "../admin", "..%2F..%2Fadmin/../../x/../.."] {
            if let Ok(url) = ApiCaller::url(&todo, Some(escape)) {
                assert!(url.as_str().starts_with("https://api.example/v1/"), "{escape} -> {url}");
            }
        }
        assert!(ApiCaller::url(&todo, Some("https://evil.example/")).is_err());
        assert!(ApiCaller::url(&todo, Some("../admin")).is_err());
    }

    fn response(status: u16, body: &str) -> Response {
        Response::from(http::Response::builder().status(status).body(body.to_owned()).unwrap())
    }

    #[tokio::test]
    async fn graph_shaped_errors_map_to_their_code_and_message() {
        let error = ApiCaller::success(response(403, r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#))
            .await
            .unwrap_err();
        let IdentityError::Downstream { status, code, message } = error else { panic!("{error}") };
        assert_eq!((status, code.as_str(), message.as_str()), (403, "Authorization_RequestDenied", "Insufficient privileges"));
    }

    #[tokio::test]
    async fn other_errors_map_to_the_status_and_bodies_to_types() {
        let error = ApiCaller::success(response(502, "<html>bad gateway</html>")).await.unwrap_err();
        assert!(matches!(error, IdentityError::Downstream { status: 502, ref code, .. } if code == "Bad Gateway"), "{error}");
        let value: serde_json::Value = ApiCaller::json(response(200, r#"{"ok":true}"#)).await.unwrap();
        assert_eq!(value["ok"], true);
        let unreadable = ApiCaller::json::<serde_json::Value>(response(200, "not json")).await.unwrap_err();
        assert!(matches!(unreadable, IdentityError::DownstreamUnavailable(_)));
    }
}
