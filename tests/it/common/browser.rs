//! An emulator and the whole app router on loopback ports, and a browser
//! (its own cookie jar, redirects not followed) that signs in through the
//! real flow: the app's sign-in route, the emulator's account picker, the
//! callback.

use std::net::SocketAddr;
use std::sync::Arc;

use idweb_emulator::config::TestUser;
use idweb_emulator::{EmulatorConfig, RunningEmulator};
use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode};
use serde_json::json;
use url::Url;

/// The app (as `main` builds it) next to its emulator.
pub struct RunningApp {
    pub url: Url,
    pub emulator: RunningEmulator,
    pub identity: Arc<idweb_identity::Identity>,
}

/// The sample API's delegated scope.
pub fn todo_scope() -> String {
    format!("api://{}/access_as_user", idweb_emulator::config::SAMPLE_API_APP_ID)
}

/// Starts an emulator holding `users` besides its own and the app against
/// it, with Graph and the sample to-do API; `customise` changes the app's
/// settings (stores, say) before it starts.
pub async fn start_app(users: Vec<TestUser>, customise: impl FnOnce(&mut serde_json::Value)) -> RunningApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let url = Url::parse(&format!("http://{address}/")).unwrap();
    let client_secret = "app-test-secret".to_owned();
    let mut emulator_config = EmulatorConfig::default();
    emulator_config.users.extend(users);
    let app = &mut emulator_config.apps[0];
    app.redirect_uris = vec![url.join("signin-oidc").unwrap().to_string()];
    app.post_logout_redirect_uris = vec![url.join("signout-callback-oidc").unwrap().to_string()];
    app.client_secrets = vec![serde_json::from_value(json!(client_secret)).unwrap()];
    // Every page's data without a consent page in between: mail and the to-do API as well as the profile.
    app.admin_consented_scopes.extend(["Mail.Read".to_owned(), todo_scope()]);
    let client_id = app.client_id.clone();
    let emulator = idweb_emulator::spawn(emulator_config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut settings = json!({
        "AzureAd": {
            "Instance": emulator.base_url(),
            "TenantId": emulator.tenant_id(),
            "ClientId": client_id,
            "ClientSecret": client_secret,
        },
        "Graph": { "BaseUrl": emulator.graph_base_url(), "Scopes": ["User.Read"] },
        "DownstreamApis": {
            "TodoList": { "BaseUrl": format!("{}api", emulator.base_url()), "Scopes": [todo_scope()], "RelativePath": "todolist" },
        },
        "Hosting": { "PublicUrl": url.as_str() },
        "Session": { "SecureCookie": false },
    });
    customise(&mut settings);
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let identity = idweb_identity::Identity::builder(config).build().await.unwrap();
    let options = idweb::server::site_options().expect("Cargo.toml has [package.metadata.leptos]");
    let router = idweb::server::app_router(identity.clone(), options);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    RunningApp { url, emulator, identity }
}

/// A browser: its own cookies, no redirects followed.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub app: Url,
}

impl Browser {
    pub fn new(app: &Url) -> Self {
        let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, app: app.clone() }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.app.join(path).unwrap()).send().await.unwrap()
    }

    /// Calls the server function at `path` as the islands do (a form body,
    /// JSON back), with no CSRF header, as any HTTP client can.
    pub async fn call(&self, path: &str, form: &str) -> Response {
        self.client
            .post(self.app.join(path).unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Signs in as the user called `display_name` through the app's sign-in
    /// route and the emulator's account picker; returns the callback's answer.
    pub async fn sign_in(&self, display_name: &str) -> Response {
        let start = self.get("/auth/sign-in?returnUrl=/").await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let authorize = Url::parse(location(&start)).unwrap();
        let picker = self.client.get(authorize.clone()).send().await.unwrap();
        assert_eq!(picker.status(), StatusCode::OK);
        let object_id = user_button_value(&picker.text().await.unwrap(), display_name);
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("user_oid".into(), object_id));
        let mut action = authorize.clone();
        action.set_query(None);
        let chosen = self.client.post(action).form(&form).send().await.unwrap();
        assert!(chosen.status().is_redirection(), "emulator answered {}", chosen.status());
        let callback = Url::parse(location(&chosen)).unwrap();
        let answer = self.client.get(callback).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "the callback signs {display_name} in");
        answer
    }
}

pub fn location(response: &Response) -> &str {
    response.headers().get(LOCATION).expect("a Location header").to_str().unwrap()
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
