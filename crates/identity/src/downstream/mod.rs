//! Web APIs named in configuration (`DownstreamApis:{Name}`), called for
//! the signed-in user or as the app, with the token attached by idweb.

mod caller;
pub(crate) mod challenge;
pub(crate) mod retry;

use std::collections::BTreeMap;

use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use caller::{ApiCaller, Caller};

use crate::config::DownstreamApiConfig;
use crate::error::IdentityError;
use crate::user::SignedInUser;

/// The configured downstream APIs.
pub struct DownstreamApis {
    apis: BTreeMap<String, DownstreamApiConfig>,
    caller: std::sync::Arc<ApiCaller>,
}

impl DownstreamApis {
    /// The APIs of the `DownstreamApis` section.
    pub(crate) fn new(apis: BTreeMap<String, DownstreamApiConfig>, caller: std::sync::Arc<ApiCaller>) -> Self {
        Self { apis, caller }
    }

    /// The configuration of the API called `name`.
    pub fn api(&self, name: &str) -> Result<&DownstreamApiConfig, IdentityError> {
        self.apis
            .get(name)
            .ok_or_else(|| IdentityError::Misconfigured(format!("no downstream API named {name:?} in configuration (DownstreamApis:{name})")))
    }

    /// `GET` `relative` (or the API's `RelativePath`) for `user`, as `T`.
    pub async fn get_for_user<T: DeserializeOwned>(&self, name: &str, user: &SignedInUser, relative: Option<&str>) -> Result<T, IdentityError> {
        ApiCaller::json(self.call(name, Caller::User(user), Some(Method::GET), relative, None).await?).await
    }

    /// `POST` `body` as JSON to `relative` for `user`; the answer as `T`.
    pub async fn post_for_user<B: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        user: &SignedInUser,
        relative: Option<&str>,
        body: &B,
    ) -> Result<T, IdentityError> {
        self.send_json_for_user(name, user, Method::POST, relative, body).await
    }

    /// `PATCH` `body` as JSON to `relative` for `user` (the fields to
    /// change); the answer as `T`.
    pub async fn patch_for_user<B: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        user: &SignedInUser,
        relative: Option<&str>,
        body: &B,
    ) -> Result<T, IdentityError> {
        self.send_json_for_user(name, user, Method::PATCH, relative, body).await
    }

    async fn send_json_for_user<B: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        user: &SignedInUser,
        method: Method,
        relative: Option<&str>,
        body: &B,
    ) -> Result<T, IdentityError> {
        let body = serde_json::to_value(body).map_err(|error| IdentityError::InvalidRequest(format!("cannot encode the request body: {error}")))?;
        ApiCaller::json(self.call(name, Caller::User(user), Some(method), relative, Some(body)).await?).await
    }

    /// `DELETE` `relative` for `user`.
    pub async fn delete_for_user(&self, name: &str, user: &SignedInUser, relative: Option<&str>) -> Result<(), IdentityError> {
        ApiCaller::success(self.call(name, Caller::User(user), Some(Method::DELETE), relative, None).await?).await.map(|_| ())
    }

    /// The API's configured call (`HttpMethod`, `RelativePath`) as the app, as `T`.
    pub async fn call_for_app<T: DeserializeOwned>(&self, name: &str, relative: Option<&str>) -> Result<T, IdentityError> {
        ApiCaller::json(self.call(name, Caller::App, None, relative, None).await?).await
    }

    /// Any call: `method` (the configured `HttpMethod` when `None`) to
    /// `relative` (the configured `RelativePath` when `None`), returning the
    /// raw response whatever its status. `RequestAppToken` turns a user call
    /// into an app call.
    pub async fn call(
        &self,
        name: &str,
        caller: Caller<'_>,
        method: Option<Method>,
        relative: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Result<Response, IdentityError> {
        let api = self.api(name)?;
        let caller = if api.request_app_token { Caller::App } else { caller };
        let url = ApiCaller::url(api, relative)?;
        self.caller.send(api, caller, method.unwrap_or_else(|| api.http_method.clone()), url, body.as_ref()).await
    }
}
