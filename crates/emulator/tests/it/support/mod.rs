//! An emulator on a random port and a client that does not follow redirects.

#![allow(dead_code)] // each test file uses part of the kit

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use idweb_emulator::{ClientSecret, EmulatorConfig, RunningEmulator};
use reqwest::header::LOCATION;
use reqwest::Response;
use sha2::{Digest, Sha256};
use url::Url;

pub const REDIRECT_URI: &str = "http://app.test/signin-oidc";
pub const SECRET: &str = "emulator-test-secret";
pub const VERIFIER: &str = "a-pkce-verifier-of-at-least-forty-three-characters-0123456789";
pub const ADELE_OID: &str = "1d6a9a3e-5f0b-4c1e-8a55-0c7e3b1f2a01";

pub struct Emulator {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
    pub client_id: String,
}

impl Emulator {
    pub async fn start() -> Self {
        Self::start_with(EmulatorConfig::default()).await
    }

    pub async fn start_with(mut config: EmulatorConfig) -> Self {
        let app = &mut config.apps[0];
        app.redirect_uris.push(REDIRECT_URI.into());
        app.post_logout_redirect_uris.push("http://app.test/signed-out".into());
        app.client_secrets.push(ClientSecret::new(SECRET));
        let client_id = app.client_id.clone();
        let running = idweb_emulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { running, http, client_id }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path.trim_start_matches('/'))
    }

    pub fn tenant_url(&self, path: &str) -> String {
        self.url(&format!("{}/{}", self.running.tenant_id(), path.trim_start_matches('/')))
    }

    /// Authorize parameters of a well-formed request.
    pub fn authorize_params(&self, scope: &str) -> Vec<(String, String)> {
        vec![
            ("client_id".into(), self.client_id.clone()),
            ("response_type".into(), "code".into()),
            ("redirect_uri".into(), REDIRECT_URI.into()),
            ("scope".into(), scope.into()),
            ("state".into(), "state-123".into()),
            ("nonce".into(), "nonce-456".into()),
            ("code_challenge".into(), challenge(VERIFIER)),
            ("code_challenge_method".into(), "S256".into()),
        ]
    }

    /// Signs `user_oid` in through the authorize form, accepting any consent
    /// page on the way; returns the redirect URL.
    pub async fn authorize_as(&self, params: &[(String, String)], user_oid: &str) -> Url {
        let mut form = params.to_vec();
        form.push(("user_oid".into(), user_oid.into()));
        form.push(("consent".into(), "accept".into()));
        let response = self.http.post(self.tenant_url("oauth2/v2.0/authorize")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 303, "sign-in redirects back");
        Url::parse(location(&response)).unwrap()
    }

    /// A code for Adele with `scope`.
    pub async fn code_for(&self, scope: &str) -> String {
        let redirect = self.authorize_as(&self.authorize_params(scope), ADELE_OID).await;
        query(&redirect)["code"].clone()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        self.http.post(self.tenant_url("oauth2/v2.0/token")).form(form).send().await.unwrap()
    }

    /// Redeems `code` with the right secret, redirect URI and verifier.
    pub async fn redeem(&self, code: &str) -> Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("client_secret", SECRET),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    pub async fn tokens_for(&self, scope: &str) -> serde_json::Value {
        let code = self.code_for(scope).await;
        let response = self.redeem(&code).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn location(response: &Response) -> &str {
    response.headers().get(LOCATION).expect("Location header").to_str().unwrap()
}

pub fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The JWT's payload, decoded without verification (tests verify separately).
pub fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The JWT's header.
pub fn header(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Asserts a Microsoft-shaped OAuth error with this code and AADSTS number.
pub async fn assert_oauth_error(response: Response, status: u16, error: &str, aadsts: u64) -> serde_json::Value {
    assert_eq!(response.status(), status);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], aadsts, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("AADSTS{aadsts}: ")), "{description}");
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} present");
    }
    body
}

impl Emulator {
    /// POSTs `body` to the admin API at `path` (under `/_emulator/`).
    pub async fn admin(&self, path: &str, body: serde_json::Value) -> Response {
        self.http.post(self.url(&format!("_emulator/{path}"))).json(&body).send().await.unwrap()
    }

    /// Refreshes with `refresh_token` for `scope`.
    pub async fn refresh(&self, refresh_token: &str, scope: &str) -> Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &self.client_id),
            ("client_secret", SECRET),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ])
        .await
    }

    /// The published JWKS.
    pub async fn jwks(&self) -> serde_json::Value {
        self.http.get(self.tenant_url("discovery/v2.0/keys")).send().await.unwrap().json().await.unwrap()
    }
}
