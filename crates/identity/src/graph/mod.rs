//! A typed Microsoft Graph client acting for the signed-in user.

mod challenge;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::acquisition::{TokenAcquisition, UserTokenOptions};
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

/// The permission `me/messages` needs.
pub const MAIL_SCOPES: [&str; 1] = ["Mail.Read"];

/// The fields of Graph's `message` resource that idweb shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphMessage {
    /// Message id.
    pub id: String,
    /// Subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// When it arrived (ISO 8601).
    #[serde(default)]
    pub received_date_time: Option<String>,
    /// The start of the body, as plain text.
    #[serde(default)]
    pub body_preview: Option<String>,
    /// Whether it was read.
    #[serde(default)]
    pub is_read: Option<bool>,
    /// The sender.
    #[serde(default)]
    pub from: Option<Recipient>,
}

/// A sender or recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// Name and address.
    pub email_address: EmailAddress,
}

/// Graph's `emailAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// SMTP address.
    #[serde(default)]
    pub address: Option<String>,
}

/// One page of a Graph collection of messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    /// The messages on this page.
    #[serde(rename = "value")]
    pub messages: Vec<GraphMessage>,
    /// Where the next page is, if any.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// The claims of a `401` claims challenge, if the response is one.
fn claims_challenge(response: &reqwest::Response) -> Option<String> {
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return None;
    }
    response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(challenge::insufficient_claims)
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
        self.get_json(user, &self.scopes, "me").await
    }

    /// `GET /me/messages`: the newest `top` messages and the link to the next page.
    pub async fn messages(&self, user: &SignedInUser, top: u32) -> Result<MessagePage, IdentityError> {
        let scopes: Vec<String> = MAIL_SCOPES.iter().map(|scope| (*scope).to_owned()).collect();
        let relative = format!("me/messages?$top={}&$select=id,subject,receivedDateTime,bodyPreview,isRead,from", top.clamp(1, 999));
        self.get_json(user, &scopes, &relative).await
    }

    /// GETs `relative` with a token for `scopes`. A claims challenge (CAE-01)
    /// drops the cached token and retries once with a token that carries the
    /// claims; a second challenge, or one only the user can answer, becomes
    /// `InteractionRequired` with the claims.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, user: &SignedInUser, scopes: &[String], relative: &str) -> Result<T, IdentityError> {
        let url = self.endpoint(relative)?;
        let token = self.tokens.for_user(user, scopes).await?;
        let response = self.send(&url, token.secret()).await?;
        let response = match claims_challenge(&response) {
            None => response,
            Some(claims) => {
                tracing::info!("Graph sent a claims challenge; renewing the token once");
                self.tokens.forget_access_tokens(user, scopes).await?;
                let options = UserTokenOptions { claims: Some(&claims), ..UserTokenOptions::new(scopes) };
                let token = self.tokens.for_user_with(user, options).await?;
                let retried = self.send(&url, token.secret()).await?;
                if let Some(claims) = claims_challenge(&retried) {
                    return Err(IdentityError::InteractionRequired {
                        scopes: scopes.to_vec(),
                        claims: Some(claims),
                        reason: "Graph challenged a renewed token again".into(),
                    });
                }
                retried
            }
        };
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
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

    async fn send(&self, url: &Url, token: &str) -> Result<reqwest::Response, IdentityError> {
        self.http
            .get(url.clone())
            .bearer_auth(token)
            .send()
            .await
            .map_err(|error| IdentityError::DownstreamUnavailable(error_chain(&error)))
    }

    fn endpoint(&self, relative: &str) -> Result<Url, IdentityError> {
        let base = format!("{}/", self.base_url.as_str().trim_end_matches('/'));
        Url::parse(&base)
            .and_then(|base| base.join(relative))
            .map_err(|error| IdentityError::Internal(format!("bad Graph URL: {error}")))
    }
}
