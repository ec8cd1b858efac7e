//! A typed Microsoft Graph client acting for the signed-in user or the app.

use std::sync::Arc;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::DownstreamApiConfig;
use crate::downstream::{ApiCaller, Caller};
use crate::error::IdentityError;
use crate::telemetry::error_chain;
use crate::user::{HomeAccountId, SignedInUser};

/// The fields of Graph's `user` resource that idweb shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    /// Object id (absent when `$select` leaves it out).
    #[serde(default)]
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

/// One message with its body (`GET /me/messages/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphMessageWithBody {
    /// The fields the list shows.
    #[serde(flatten)]
    pub message: GraphMessage,
    /// The body, as Graph sent it (HTML or text: see its `content_type`).
    #[serde(default)]
    pub body: Option<ItemBody>,
}

/// A message's body: `content` is HTML when `content_type` says `html`.
/// Never put HTML from Graph into a page: it is someone else's markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    /// `html` or `text`.
    #[serde(default)]
    pub content_type: String,
    /// The body itself.
    #[serde(default)]
    pub content: String,
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

/// A page of Graph's `users` collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    /// The users on this page.
    #[serde(rename = "value")]
    pub users: Vec<GraphUser>,
    /// Where the next page is, if any.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// A profile photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// Its media type (`image/jpeg`, `image/png`).
    pub content_type: String,
    /// The image.
    pub bytes: Vec<u8>,
}

/// The scope of app tokens for the Graph at `base_url` when `Graph:AppScopes`
/// is not set: a national cloud's Graph its own `.default`, anything else
/// (the worldwide Graph, the emulator) the worldwide cloud's.
fn default_app_scope(base_url: &url::Url) -> String {
    match base_url.host_str() {
        Some(host) if crate::scopes::NATIONAL_GRAPH_HOSTS.iter().any(|graph| graph.eq_ignore_ascii_case(host)) => {
            format!("https://{}/.default", host.to_ascii_lowercase())
        }
        _ => "https://graph.microsoft.com/.default".into(),
    }
}

/// Calls Microsoft Graph with tokens acquired for the user (or the app).
pub struct GraphClient {
    api: DownstreamApiConfig,
    app_api: DownstreamApiConfig,
    caller: Arc<ApiCaller>,
    // Photos change rarely and pages ask often: kept briefly per user.
    photos: moka::sync::Cache<HomeAccountId, Option<Arc<Photo>>>,
    /// Whether the provider's tokens reach Graph at all (not with a generic provider).
    offered: bool,
}

/// How long a user's photo is served from memory.
pub const PHOTO_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// How many bytes of photos are kept in memory.
const PHOTO_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl GraphClient {
    /// A client for the Graph described by `config`.
    pub(crate) fn new(config: &DownstreamApiConfig, caller: Arc<ApiCaller>, offered: bool) -> Self {
        let app_scopes = if config.app_scopes.is_empty() { vec![default_app_scope(&config.base_url)] } else { config.app_scopes.clone() };
        let app_api = DownstreamApiConfig { scopes: app_scopes, ..config.clone() };
        let photos = moka::sync::Cache::builder()
            .max_capacity(PHOTO_CACHE_BYTES)
            // Weighed by size: a few large photos must not hold gigabytes.
            .weigher(|_, photo: &Option<Arc<Photo>>| photo.as_ref().map_or(64, |photo| photo.bytes.len().min(u32::MAX as usize) as u32))
            .time_to_live(PHOTO_CACHE_TTL)
            .build();
        Self { api: config.clone(), app_api, caller, photos, offered }
    }

    /// Every Graph call goes out here. Graph needs the Microsoft identity
    /// platform's tokens: with a generic provider each call says so instead
    /// of asking that provider for Graph scopes.
    async fn send(
        &self,
        api: &DownstreamApiConfig,
        caller: Caller<'_>,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, IdentityError> {
        if !self.offered {
            return Err(IdentityError::GraphNotOffered);
        }
        self.caller.send(api, caller, method, url, body).await
    }

    /// `GET /me`: the signed-in user's profile.
    pub async fn me(&self, user: &SignedInUser) -> Result<GraphUser, IdentityError> {
        self.get(user, &self.api.scopes, "me").await
    }

    /// `GET /me?$select=...`: only the named fields are filled.
    pub async fn me_select(&self, user: &SignedInUser, fields: &[&str]) -> Result<GraphUser, IdentityError> {
        self.get(user, &self.api.scopes, &format!("me?$select={}", fields.join(","))).await
    }

    /// The user's photo, from memory for [`PHOTO_CACHE_TTL`] after it was fetched.
    pub async fn me_photo_cached(&self, user: &SignedInUser) -> Result<Option<Arc<Photo>>, IdentityError> {
        if let Some(photo) = self.photos.get(&user.home_account_id) {
            return Ok(photo);
        }
        let photo = self.me_photo(user).await?.map(Arc::new);
        self.photos.insert(user.home_account_id.clone(), photo.clone());
        Ok(photo)
    }

    /// Forgets the user's cached photo (sign-out).
    pub fn forget_photo(&self, user: &SignedInUser) {
        self.forget_photo_of(&user.home_account_id);
    }

    /// Drops the account's photo from memory (a logout from the provider).
    pub fn forget_photo_of(&self, account: &crate::user::HomeAccountId) {
        self.photos.invalidate(account);
    }

    /// `GET /me/photo/$value`: the user's photo, `None` when they have none.
    pub async fn me_photo(&self, user: &SignedInUser) -> Result<Option<Photo>, IdentityError> {
        let url = ApiCaller::url(&self.api, Some("me/photo/$value"))?;
        let response = self.send(&self.api, Caller::User(user), Method::GET, url, None).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = ApiCaller::success(response).await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = crate::answer::read_capped(response, crate::answer::MAX_PHOTO_BYTES)
            .await
            .map_err(|error| IdentityError::DownstreamUnavailable(error_chain(&error)))?;
        Ok(Some(Photo { content_type, bytes }))
    }

    /// `GET /me/messages`: the newest `top` messages and the link to the next page.
    pub async fn messages(&self, user: &SignedInUser, top: u32) -> Result<MessagePage, IdentityError> {
        let relative = format!("me/messages?$top={}&$select=id,subject,receivedDateTime,bodyPreview,isRead,from", top.clamp(1, 999));
        self.get(user, &mail_scopes(), &relative).await
    }

    /// The page at a `@odata.nextLink` Graph gave (it must point into this Graph).
    pub async fn messages_page(&self, user: &SignedInUser, next_link: &str) -> Result<MessagePage, IdentityError> {
        let url = Url::parse(next_link).map_err(|error| IdentityError::InvalidRequest(format!("bad next link: {error}")))?;
        let url = ApiCaller::check_under(&self.api, url)?;
        let api = DownstreamApiConfig { scopes: mail_scopes(), ..self.api.clone() };
        ApiCaller::json(self.send(&api, Caller::User(user), Method::GET, url, None).await?).await
    }

    /// Up to `limit` newest messages, following `@odata.nextLink` page by page.
    pub async fn messages_up_to(&self, user: &SignedInUser, limit: usize, page_size: u32) -> Result<Vec<GraphMessage>, IdentityError> {
        let mut page = self.messages(user, page_size).await?;
        let mut messages = Vec::new();
        // Bounded even if Graph kept sending empty pages with a next link.
        let max_pages = limit / page_size.max(1) as usize + 2;
        for _ in 0..max_pages {
            messages.extend(page.messages);
            match page.next_link {
                Some(next) if messages.len() < limit => page = self.messages_page(user, &next).await?,
                _ => break,
            }
        }
        messages.truncate(limit);
        Ok(messages)
    }

    /// `GET /me/messages/{id}`: one message with its body. `id` is Graph's
    /// id of it (letters, digits, `-`, `_`, `=`, `+`); anything else is
    /// refused before a request is made, so no id can reach another path.
    pub async fn message(&self, user: &SignedInUser, id: &str) -> Result<GraphMessageWithBody, IdentityError> {
        let well_formed = !id.is_empty() && id.len() <= 512 && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_=+".contains(&byte));
        if !well_formed {
            return Err(IdentityError::InvalidRequest("not a Graph message id".into()));
        }
        // `+` is a space in a query but not in a path; encoded, it stays a `+` either way.
        let relative = format!("me/messages/{}?$select=id,subject,receivedDateTime,bodyPreview,isRead,from,body", id.replace('+', "%2B"));
        self.get(user, &mail_scopes(), &relative).await
    }

    /// `GET /users` with an app token (`User.Read.All` granted to the app).
    pub async fn users(&self, top: u32) -> Result<UserPage, IdentityError> {
        let url = ApiCaller::url(&self.app_api, Some(&format!("users?$top={}", top.clamp(1, 999))))?;
        ApiCaller::json(self.send(&self.app_api, Caller::App, Method::GET, url, None).await?).await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, user: &SignedInUser, scopes: &[String], relative: &str) -> Result<T, IdentityError> {
        let api = DownstreamApiConfig { scopes: scopes.to_vec(), ..self.api.clone() };
        let url = ApiCaller::url(&api, Some(relative))?;
        ApiCaller::json(self.send(&api, Caller::User(user), Method::GET, url, None).await?).await
    }
}

fn mail_scopes() -> Vec<String> {
    MAIL_SCOPES.iter().map(|scope| (*scope).to_owned()).collect()
}
