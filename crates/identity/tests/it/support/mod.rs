//! An app built on the identity engine, served on a random loopback port
//! next to an in-process emulator, and a scripted browser to drive it.

#![allow(dead_code)] // each test binary uses a different part of the kit

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use idweb_emulator::{EmulatorConfig, RunningEmulator};
use idweb_identity::credentials::{ManagedIdentitySource, SecretText};
use idweb_identity::{Identity, IdentityConfig};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::json;
use tower_sessions::Session;
use url::Url;

pub const ADELE: &str = "Adele Vance";
pub const ALEX: &str = "Alex Wilber";
/// The sample API's delegated scope.
pub const TODO_SCOPE: &str = "api://c1a9d3b7-6e2f-4d8a-9b5c-3f7e1d2a4b60/access_as_user";

pub mod certificates;
pub mod logs;
pub mod redis;
pub mod shared;

/// Stands for the emulator's base URL (with its slash) in settings a test
/// writes before the emulator listens: `"{emulator}/"`.
pub const EMULATOR: &str = "{emulator}/";

pub struct TestApp {
    pub identity: Arc<Identity>,
    pub url: Url,
    pub emulator: RunningEmulator,
    pub client_secret: String,
    /// The app's settings, for more instances of the same app.
    pub settings: serde_json::Value,
    /// The emulator's managed identity endpoint, as the app's host would give it.
    pub managed_identity: ManagedIdentitySource,
    /// The emulator's CA certificate (PEM), when it serves HTTPS.
    pub ca_pem: Option<String>,
}

/// Another instance of the same app (same settings, provider and stores), on its own port.
pub struct Instance {
    pub identity: Arc<Identity>,
    pub url: Url,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Starts with the emulator's configuration and the app's settings changed by `customise`.
    pub async fn start_with(customise: impl FnOnce(&mut EmulatorConfig, &mut serde_json::Value)) -> Self {
        Self::start_with_store(customise, None).await
    }

    /// As [`Self::start_with`], with a token cache store built by the test.
    pub async fn start_with_store(
        customise: impl FnOnce(&mut EmulatorConfig, &mut serde_json::Value),
        token_cache: Option<Arc<dyn idweb_identity::TokenCacheStore>>,
    ) -> Self {
        Self::start_on(customise, token_cache, false).await
    }

    /// As [`Self::start_with`], the emulator serving HTTPS with a local CA the
    /// app trusts through `Http:TrustedCaFiles` (and the test browser too).
    pub async fn start_https(customise: impl FnOnce(&mut EmulatorConfig, &mut serde_json::Value)) -> Self {
        Self::start_on(customise, None, true).await
    }

    async fn start_on(
        customise: impl FnOnce(&mut EmulatorConfig, &mut serde_json::Value),
        token_cache: Option<Arc<dyn idweb_identity::TokenCacheStore>>,
        https: bool,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let client_secret = format!("test-secret-{}", rand::random::<u64>());

        let mut emulator_config = EmulatorConfig::default();
        let app = &mut emulator_config.apps[0];
        app.redirect_uris = vec![url.join("signin-oidc").unwrap().to_string()];
        app.post_logout_redirect_uris = vec![url.join("signout-callback-oidc").unwrap().to_string()];
        app.front_channel_logout_uri = Some(url.join("signout-oidc").unwrap().to_string());
        app.backchannel_logout_uri = Some(url.join("backchannel-logout").unwrap().to_string());
        app.client_secrets = vec![serde_json::from_value(json!(client_secret)).unwrap()];
        let client_id = app.client_id.clone();
        // Overlaid on the base settings below, which need the emulator's address.
        let mut settings = json!({});
        customise(&mut emulator_config, &mut settings);
        let loopback = "127.0.0.1:0".parse().unwrap();
        let (emulator, ca_pem) = if https {
            let ca = idweb_emulator::tls::LocalCa::ephemeral().unwrap();
            (idweb_emulator::spawn_tls(emulator_config, loopback, &ca).await.unwrap(), Some(ca.certificate_pem()))
        } else {
            (idweb_emulator::spawn(emulator_config, loopback).await.unwrap(), None)
        };

        let mut base = json!({
            "AzureAd": {
                "Instance": emulator.base_url(),
                "TenantId": emulator.tenant_id(),
                "ClientId": client_id,
                "ClientSecret": client_secret,
            },
            "Graph": { "BaseUrl": emulator.graph_base_url(), "Scopes": ["User.Read"] },
            "DownstreamApis": {
                "TodoList": { "BaseUrl": format!("{}api", emulator.base_url()), "Scopes": [TODO_SCOPE], "RelativePath": "todolist" },
                "TodoListAsApp": {
                    "BaseUrl": format!("{}api", emulator.base_url()),
                    "Scopes": [TODO_SCOPE],
                    "AppScopes": [format!("api://{}/.default", idweb_emulator::config::SAMPLE_API_APP_ID)],
                    "RelativePath": "todolist",
                    "RequestAppToken": true,
                },
            },
            // Every test signs in from 127.0.0.1; the flood test sets its own limit (SES-04).
            "Hosting": { "PublicUrl": url.as_str(), "SignInStartsPerMinute": 0 },
            "Session": { "SecureCookie": false },
        });
        if let Some(pem) = &ca_pem {
            let file = std::env::temp_dir().join(format!("idweb-emulator-ca-{}.pem", rand::random::<u64>()));
            std::fs::write(&file, pem).unwrap();
            base["Http"] = json!({ "TrustedCaFiles": [file] });
        }
        idweb_identity::config::merge_json(&mut base, settings);
        replace_placeholder(&mut base, &emulator.base_url());
        let managed_identity = ManagedIdentitySource::AppService {
            endpoint: Url::parse(&emulator.identity_endpoint()).unwrap(),
            header: SecretText::new(emulator.identity_header()),
        };
        let identity = build_identity(&base, token_cache, &managed_identity).await;
        serve(listener, identity.clone());
        Self { identity, url, emulator, client_secret, settings: base, managed_identity, ca_pem }
    }

    /// A second instance of this app sharing its settings (and so its shared stores).
    pub async fn another_instance(&self, token_cache: Option<Arc<dyn idweb_identity::TokenCacheStore>>) -> Instance {
        self.another_instance_with(|_| {}, token_cache).await
    }

    /// Another instance whose settings differ by `customise` (a key ring, say).
    pub async fn another_instance_with(
        &self,
        customise: impl FnOnce(&mut serde_json::Value),
        token_cache: Option<Arc<dyn idweb_identity::TokenCacheStore>>,
    ) -> Instance {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let mut settings = self.settings.clone();
        customise(&mut settings);
        let identity = build_identity(&settings, token_cache, &self.managed_identity).await;
        serve(listener, identity.clone());
        Instance { identity, url }
    }

    pub fn browser(&self) -> Browser {
        match &self.ca_pem {
            Some(pem) => Browser::trusting(self.url.clone(), pem),
            None => Browser::new(self.url.clone()),
        }
    }
}

/// Replaces [`EMULATOR`] at the start of every string in `settings` with `base_url`.
pub fn replace_placeholder(settings: &mut serde_json::Value, base_url: &str) {
    match settings {
        serde_json::Value::String(text) => {
            if let Some(rest) = text.strip_prefix(EMULATOR) {
                *text = format!("{base_url}{rest}");
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| replace_placeholder(item, base_url)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|value| replace_placeholder(value, base_url)),
        _ => {}
    }
}

async fn build_identity(
    settings: &serde_json::Value,
    token_cache: Option<Arc<dyn idweb_identity::TokenCacheStore>>,
    managed_identity: &ManagedIdentitySource,
) -> Arc<Identity> {
    let mut builder = Identity::builder(IdentityConfig::from_json(settings).unwrap()).managed_identity(managed_identity.clone());
    if let Some(store) = token_cache {
        builder = builder.token_cache(store);
    }
    builder.build().await.unwrap()
}

/// Why an engine with `settings` does not start (configuration read, then
/// credentials loaded), with every cause.
pub async fn start_up_error(settings: &serde_json::Value) -> String {
    start_up_error_with(settings, None).await
}

/// What start-up prints when the engine cannot be built from `settings`
/// ([`idweb_identity::IdentityError::report`], or the configuration error),
/// with managed identity tokens from `managed_identity` when given.
pub async fn start_up_error_with(settings: &serde_json::Value, managed_identity: Option<idweb_identity::credentials::ManagedIdentitySource>) -> String {
    let config = match IdentityConfig::from_json(settings) {
        Ok(config) => config,
        Err(error) => return error.to_string(),
    };
    let mut builder = Identity::builder(config);
    if let Some(source) = managed_identity {
        builder = builder.managed_identity(source);
    }
    match builder.build().await {
        Ok(_) => panic!("the engine started"),
        Err(error) => error.report(),
    }
}

fn serve(listener: tokio::net::TcpListener, identity: Arc<Identity>) {
    let router = Router::new()
        .route("/whoami", get(whoami))
        .route("/graph/me", get(graph_me))
        .route("/test/challenge", get(keep_challenge))
        .route("/test/slow", get(slow_request))
        .route("/test/restart", get(restart_session))
        .with_state(identity.clone())
        .merge(identity.router())
        .layer(identity.session_layer());
    // With the peer's address, as `main` serves: sign-in starts are limited per address (SES-04).
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
}

async fn whoami(idweb_identity::MaybeUser(user): idweb_identity::MaybeUser) -> String {
    user.map(|user| user.name).unwrap_or_else(|| "nobody".into())
}

async fn graph_me(
    axum::extract::State(identity): axum::extract::State<Arc<Identity>>,
    idweb_identity::CurrentUser(user): idweb_identity::CurrentUser,
) -> Result<String, String> {
    identity.graph().me(&user).await.map(|me| me.display_name.unwrap_or_default()).map_err(|e| e.to_string())
}

/// Where a test holds a [`slow_request`] and lets it go.
pub struct Gate {
    /// Notified when the request has read the session and changed it.
    pub reached: tokio::sync::Notify,
    /// The request answers once this is notified.
    pub open: tokio::sync::Notify,
}

/// The gate called `name`, made on first use (tests pick names of their own).
pub fn gate(name: &str) -> Arc<Gate> {
    static GATES: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Arc<Gate>>>> = std::sync::OnceLock::new();
    let mut gates = GATES.get_or_init(Default::default).lock().unwrap();
    let new = || Arc::new(Gate { reached: tokio::sync::Notify::new(), open: tokio::sync::Notify::new() });
    gates.entry(name.to_owned()).or_insert_with(new).clone()
}

/// `/test/slow?gate=NAME`: a request still in flight while the session
/// ends. It reads the user and changes the session (as `Identity::user`
/// does once a minute, so the session layer writes the record back at the
/// end), then waits for its gate to open and answers the user it read.
async fn slow_request(
    axum::extract::State(identity): axum::extract::State<Arc<Identity>>,
    session: Session,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> String {
    let gate = gate(&query["gate"]);
    let user = identity.user(&session).await.unwrap();
    session.insert("test.touched", rand::random::<u64>()).await.unwrap();
    gate.reached.notify_one();
    gate.open.notified().await;
    user.map(|user| user.name).unwrap_or_else(|| "nobody".into())
}

/// `/test/restart`: ends the session and starts a new one in the same
/// request, as a request does when the idle timeout ends the session and
/// it then begins a sign-in.
async fn restart_session(session: Session) -> &'static str {
    session.flush().await.unwrap();
    session.insert("test.restarted", true).await.unwrap();
    "restarted"
}

/// What a handler does with a claims challenge it received: keeps it in the
/// session and answers with the sign-in link that names it.
async fn keep_challenge(
    axum::extract::State(identity): axum::extract::State<Arc<Identity>>,
    session: Session,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> String {
    let request = identity.sign_in_request(&session, "/", &[], query.get("claims").map(String::as_str)).await.unwrap();
    request.url()
}

/// A browser with its own cookie jar that does not follow redirects, so
/// each hop can be inspected.
pub struct Browser {
    pub client: reqwest::Client,
    pub app: Url,
}

/// An authorize request the app sent the browser to.
pub struct AuthorizeRequest {
    pub url: Url,
    pub params: HashMap<String, String>,
}

impl Browser {
    pub fn new(app: Url) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { client, app }
    }

    /// A browser that also trusts the CA in `ca_pem` (an HTTPS emulator's).
    pub fn trusting(app: Url, ca_pem: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        Self { client, app }
    }

    pub async fn get(&self, url: &str) -> Response {
        let url = self.app.join(url).unwrap();
        self.client.get(url).send().await.unwrap()
    }

    /// GET /auth/sign-in and return where it sends us.
    pub async fn start_sign_in(&self) -> AuthorizeRequest {
        let response = self.get("/auth/sign-in?returnUrl=/after").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let url = Url::parse(location(&response)).unwrap();
        let params = url.query_pairs().into_owned().collect();
        AuthorizeRequest { url, params }
    }

    /// Picks `user` on the emulator's sign-in page; returns the callback URL it redirects to.
    pub async fn choose_user(&self, request: &AuthorizeRequest, display_name: &str) -> Url {
        let page = self.client.get(request.url.clone()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let object_id = user_button_value(&html, display_name);
        let mut form: Vec<(String, String)> = request.params.clone().into_iter().collect();
        form.push(("user_oid".into(), object_id));
        let mut action = request.url.clone();
        action.set_query(None);
        let response = self.client.post(action).form(&form).send().await.unwrap();
        assert!(response.status().is_redirection(), "emulator answered {}", response.status());
        Url::parse(location(&response)).unwrap()
    }

    /// Follows the callback URL back into the app.
    pub async fn callback(&self, callback: &Url) -> Response {
        self.client.get(callback.clone()).send().await.unwrap()
    }

    pub async fn sign_in(&self, display_name: &str) -> Response {
        let request = self.start_sign_in().await;
        let callback = self.choose_user(&request, display_name).await;
        self.callback(&callback).await
    }

    /// GETs `url`, absolute or relative to the app.
    pub async fn follow(&self, url: &str) -> Response {
        self.client.get(self.app.join(url).unwrap()).send().await.unwrap()
    }

    pub async fn whoami(&self) -> String {
        self.get("/whoami").await.text().await.unwrap()
    }
}

/// What the provider's front-channel iframe loads: no cookies come along (cross-site, SameSite=Lax).
pub async fn front_channel(app: &TestApp, iss: &str, sid: &str) -> Response {
    let mut url = app.url.join("signout-oidc").unwrap();
    url.query_pairs_mut().append_pair("iss", iss).append_pair("sid", sid);
    reqwest::get(url).await.unwrap()
}

/// What the provider's server posts for a back-channel logout.
pub async fn back_channel(app: &TestApp, logout_token: &str) -> Response {
    reqwest::Client::new().post(app.url.join("backchannel-logout").unwrap()).form(&[("logout_token", logout_token)]).send().await.unwrap()
}

/// The app's client id.
pub fn client_id(app: &TestApp) -> String {
    app.settings["AzureAd"]["ClientId"].as_str().unwrap().to_owned()
}

/// The issuer the emulator names in its responses (RFC 9207 `iss`).
pub fn issuer(app: &TestApp) -> String {
    format!("{}{}/v2.0", app.emulator.base_url(), app.emulator.tenant_id())
}

pub fn location(response: &Response) -> &str {
    response.headers().get(LOCATION).expect("a Location header").to_str().unwrap()
}

/// Whether `response` sets the session cookie (`idweb`, as the test apps
/// name it); a sign-in's own cookie (`idweb.signin.*`) is not a session.
pub fn sets_cookie(response: &Response) -> bool {
    response.headers().get_all(SET_COOKIE).iter().any(|cookie| cookie.to_str().is_ok_and(|cookie| cookie.starts_with("idweb=")))
}

/// The `value` of the emulator's submit button whose text names `display_name`.
fn user_button_value(html: &str, display_name: &str) -> String {
    html.split("<button")
        .find(|button| button.contains(display_name) && button.contains("name=\"user_oid\""))
        .and_then(|button| button.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sign-in button for {display_name} in the emulator page"))
        .to_owned()
}

/// Replaces one query parameter of `url`.
pub fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(key, old)| if key == name { (key, value.to_owned()) } else { (key, old) })
        .collect();
    let mut changed = url.clone();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

/// The object id the emulator gives the test user called `display_name`.
pub fn user_object_id(display_name: &str) -> String {
    idweb_emulator::EmulatorConfig::default()
        .users
        .into_iter()
        .find(|user| user.display_name == display_name)
        .map(|user| user.object_id)
        .unwrap_or_else(|| panic!("no test user {display_name}"))
}

/// The signed-in user `display_name` as the session would hold them.
pub fn signed_in(display_name: &str, tenant_id: &str) -> idweb_identity::SignedInUser {
    let object_id = user_object_id(display_name);
    idweb_identity::SignedInUser {
        home_account_id: idweb_identity::HomeAccountId::new(&object_id, tenant_id),
        object_id,
        tenant_id: tenant_id.to_owned(),
        name: display_name.to_owned(),
        username: String::new(),
        provider_session_id: None,
        id_token: Default::default(),
        signed_in_at: 0,
    }
}

/// What the token cache holds for `user` now (from the shared store when there is one).
pub async fn partition(identity: &Identity, user: &idweb_identity::SignedInUser) -> idweb_identity::cache::TokenPartition {
    let key = idweb_identity::PartitionKey::User(user.home_account_id.clone());
    identity.cache().load_latest(&key).await.unwrap().expect("a partition").partition
}

/// Makes every cached access token of the user look expired (as time passing would).
pub async fn expire_access_tokens(identity: &Identity, user: &idweb_identity::SignedInUser) {
    let key = idweb_identity::PartitionKey::User(user.home_account_id.clone());
    let stored = identity.cache().load_latest(&key).await.unwrap().expect("a partition");
    let mut partition = stored.partition;
    for token in &mut partition.access_tokens {
        token.expires_at = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    }
    let outcome = identity.cache().save(&key, &partition, Some(stored.etag)).await.unwrap();
    assert!(matches!(outcome, idweb_identity::cache::SaveOutcome::Saved(_)), "nobody else writes in this test");
}

/// The emulator answers the next refresh token request with `error` (and a claims challenge, if given).
pub fn refuse_next_refresh(app: &TestApp, error: &str, claims: Option<&str>) {
    let injected = idweb_emulator::faults::InjectedError {
        error: error.to_owned(),
        status: None,
        aadsts: None,
        description: None,
        suberror: None,
        claims: claims.map(str::to_owned),
    };
    let fault = idweb_emulator::faults::TokenFault { grant_type: Some("refresh_token".into()), delay_ms: 0, error: Some(injected), raw: None, count: 1 };
    app.emulator.faults().arm_token(fault).unwrap();
}
