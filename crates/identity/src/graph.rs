//! A typed Microsoft Graph client acting for the signed-in user.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::acquisition::TokenAcquisition;
use crate::config::DownstreamApiConfig;
use crate::error::IdentityError;
use crate::provider::error_chain;
use crate::user::SignedInUser;

/// The fields of Graph's `user` resource that idweb shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub surname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Office location.
    pub office_location: Option<String>,
}

/// Graph's error body: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphErrorDetail,
}

#[derive(Debug, Deserialize)]
struct GraphErrorDetail {
    code: String,
    message: String,
}

/// Calls Microsoft Graph with tokens acquired for the user.
pub struct GraphClient {
    base_url: Url,
    scopes: Vec<String>,
    http: reqwest::Client,
    tokens: Arc<TokenAcquisition>,
}

impl GraphClient {
    /// A client for the Graph described by `config`.
    pub fn new(config: &DownstreamApiConfig, http: reqwest::Client, tokens: Arc<TokenAcquisition>) -> Self {
        Self { base_url: config.base_url.clone(), scopes: config.scopes.clone(), http, tokens }
    }

    /// `GET /me`: the signed-in user's profile.
    pub async fn me(&self, user: &SignedInUser) -> Result<GraphUser, IdentityError> {
        let token = self.tokens.for_user(user, &self.scopes).await?;
        let url = self.endpoint("me")?;
        let response = self
            .http
            .get(url)
            .bearer_auth(token.secret())
            .send()
            .await
            .map_err(|error| IdentityError::DownstreamUnavailable(error_chain(&error)))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<GraphUser>()
                .await
                .map_err(|error| IdentityError::DownstreamUnavailable(format!("unreadable Graph response: {error}")));
        }
        let detail = response.json::<GraphErrorBody>().await.ok().map(|body| body.error);
        Err(IdentityError::Downstream {
            status: status.as_u16(),
            code: detail.as_ref().map(|d| d.code.clone()).unwrap_or_else(|| status.to_string()),
            message: detail.map(|d| d.message).unwrap_or_default(),
        })
    }

    fn endpoint(&self, relative: &str) -> Result<Url, IdentityError> {
        let base = format!("{}/", self.base_url.as_str().trim_end_matches('/'));
        Url::parse(&base)
            .and_then(|base| base.join(relative))
            .map_err(|error| IdentityError::Internal(format!("bad Graph URL: {error}")))
    }
}
