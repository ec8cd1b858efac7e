//! Tokens of the managed identity the app runs as, from the endpoint its
//! Azure host provides: App Service, Container Apps and Functions give
//! `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`; a virtual machine has IMDS at
//! `169.254.169.254`. Tokens are cached until five minutes before they
//! expire (they last about a day).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::SecretText;

/// The App Service API version whose answer gives `expires_on` in seconds.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// IMDS's API version.
const IMDS_API_VERSION: &str = "2018-02-01";
/// IMDS on every Azure virtual machine.
const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// A token this close to its expiry is fetched again.
const RENEW_BEFORE: u64 = 5 * 60;
/// Longest wait for the endpoint: off Azure, IMDS's address does not
/// answer at all, and the next credential should be tried soon.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where managed identity tokens come from.
#[derive(Debug, Clone)]
pub enum ManagedIdentitySource {
    /// App Service shape: `GET {endpoint}?resource=..` with `X-IDENTITY-HEADER`.
    AppService {
        /// `IDENTITY_ENDPOINT`.
        endpoint: Url,
        /// `IDENTITY_HEADER`.
        header: SecretText,
    },
    /// IMDS shape: `GET {endpoint}?resource=..` with `Metadata: true`.
    Imds {
        /// The token endpoint (IMDS's own unless a test points elsewhere).
        endpoint: Url,
    },
}

impl ManagedIdentitySource {
    /// What the process environment says: App Service when both
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, else IMDS.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Self::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let present = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        match (present("IDENTITY_ENDPOINT"), present("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header)) => Ok(Self::AppService {
                endpoint: Url::parse(endpoint.trim()).map_err(|error| format!("IDENTITY_ENDPOINT is not a URL: {error}"))?,
                header: SecretText::new(header.trim()),
            }),
            (Some(_), None) => Err("IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not".into()),
            _ => Ok(Self::Imds { endpoint: Url::parse(IMDS_ENDPOINT).map_err(|error| error.to_string())? }),
        }
    }
}

/// A client of the managed identity endpoint for one identity.
pub struct ManagedIdentityClient {
    source: ManagedIdentitySource,
    http: reqwest::Client,
    /// A user-assigned identity's client id; the system-assigned one if none.
    client_id: Option<String>,
    /// Tokens by resource, with their expiry (seconds since the epoch).
    cached: Mutex<HashMap<String, (SecretText, u64)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_on: Option<NumberOrText>,
    #[serde(default)]
    expires_in: Option<NumberOrText>,
}

/// Azure's endpoints send times as strings; some as numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

impl NumberOrText {
    fn seconds(&self) -> Option<u64> {
        match self {
            Self::Number(number) => Some(*number),
            Self::Text(text) => text.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<String>,
}

impl ManagedIdentityClient {
    /// A client for the identity `client_id` (user-assigned) or the system-assigned one.
    pub fn new(source: ManagedIdentitySource, http: reqwest::Client, client_id: Option<String>) -> Self {
        Self { source, http, client_id, cached: Mutex::new(HashMap::new()) }
    }

    /// A token for `resource` (`https://vault.azure.net`, `api://AzureADTokenExchange`).
    pub async fn token(&self, resource: &str) -> Result<SecretText, String> {
        let mut cached = self.cached.lock().await;
        let now = crate::clock::unix_seconds();
        if let Some((token, expires_at)) = cached.get(resource) {
            if *expires_at > now + RENEW_BEFORE {
                return Ok(token.clone());
            }
        }
        let (token, expires_at) = self.fetch(resource).await?;
        cached.insert(resource.to_owned(), (token.clone(), expires_at));
        Ok(token)
    }

    async fn fetch(&self, resource: &str) -> Result<(SecretText, u64), String> {
        let (endpoint, api_version, shape) = match &self.source {
            ManagedIdentitySource::AppService { endpoint, .. } => (endpoint, APP_SERVICE_API_VERSION, "App Service"),
            ManagedIdentitySource::Imds { endpoint } => (endpoint, IMDS_API_VERSION, "IMDS"),
        };
        let mut query = vec![("resource", resource), ("api-version", api_version)];
        if let Some(client_id) = &self.client_id {
            query.push(("client_id", client_id));
        }
        let request = self.http.get(endpoint.clone()).query(&query).timeout(ENDPOINT_TIMEOUT);
        let request = match &self.source {
            ManagedIdentitySource::AppService { header, .. } => request.header("X-IDENTITY-HEADER", header.expose()),
            ManagedIdentitySource::Imds { .. } => request.header("Metadata", "true"),
        };
        let response = request.send().await.map_err(|error| format!("the managed identity endpoint ({shape}) did not answer: {}", crate::telemetry::error_chain(&error)))?;
        let status = response.status();
        if !status.is_success() {
            // Only the OAuth error code is named: the rest of the body is the endpoint's free text.
            let code = crate::answer::json_capped::<ErrorAnswer>(response).await.ok().and_then(|answer| answer.error).filter(|code| code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            return Err(format!("the managed identity endpoint ({shape}) answered {status}{}", code.map(|code| format!(" {code}")).unwrap_or_default()));
        }
        let answer: TokenAnswer = crate::answer::json_capped(response)
            .await
            .map_err(|error| format!("the managed identity endpoint ({shape}) answered something that is not a token: {error}"))?;
        let now = crate::clock::unix_seconds();
        let expires_at = answer
            .expires_on
            .as_ref()
            .and_then(NumberOrText::seconds)
            .or_else(|| answer.expires_in.as_ref().and_then(NumberOrText::seconds).map(|lifetime| now + lifetime))
            .ok_or_else(|| format!("the managed identity endpoint ({shape}) gave no expiry"))?;
        if answer.access_token.is_empty() {
            return Err(format!("the managed identity endpoint ({shape}) gave an empty token"));
        }
        Ok((SecretText::new(answer.access_token), expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_s_variables_choose_the_endpoint() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| move |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned());
        match ManagedIdentitySource::from_vars(vars(&[("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token"), ("IDENTITY_HEADER", "h")])) {
            Ok(ManagedIdentitySource::AppService { endpoint, header }) => {
                assert_eq!(endpoint.as_str(), "http://127.0.0.1:41741/msi/token");
                assert_eq!(header.expose(), "h");
                assert_eq!(format!("{header:?}"), "[redacted]");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(ManagedIdentitySource::from_vars(vars(&[])), Ok(ManagedIdentitySource::Imds { .. })));
        let half = ManagedIdentitySource::from_vars(vars(&[("IDENTITY_ENDPOINT", "http://127.0.0.1:1/")])).unwrap_err();
        assert!(half.contains("IDENTITY_HEADER"), "{half}");
        let bad = ManagedIdentitySource::from_vars(vars(&[("IDENTITY_ENDPOINT", "not a url"), ("IDENTITY_HEADER", "h")])).unwrap_err();
        assert!(bad.contains("IDENTITY_ENDPOINT"), "{bad}");
    }
}
