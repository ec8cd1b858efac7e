//! The emulator in another app's tests: register the app under test,
//! read the settings it should run with, sign a user in without a browser,
//! arm a fault, count token requests. No tenant, no internet.
//!
//! ```
//! use idweb_emulator::faults::{InjectedError, TokenFault};
//! use idweb_emulator::EmulatorConfig;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The app under test will listen here (its redirect URIs are registered for it).
//! let app = url::Url::parse("http://127.0.0.1:4000/").unwrap();
//! let config = EmulatorConfig::for_app_at(&app, "a-test-secret");
//! let emulator = idweb_emulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
//!
//! // The app's settings, in Microsoft.Identity.Web's keys: AzureAd, Graph, DownstreamApis:TodoList.
//! let settings = emulator.app_settings("a-test-secret");
//! assert_eq!(settings["AzureAd"]["Instance"], emulator.base_url());
//!
//! // The next token request fails as an outage would; count what the app sends.
//! let outage = InjectedError { error: "temporarily_unavailable".into(), status: Some(503), ..InjectedError::default() };
//! emulator.faults().arm_token(TokenFault { error: Some(outage), ..TokenFault::default() }).unwrap();
//! assert_eq!(emulator.token_requests(), 0);
//!
//! // Where the app sends a browser to sign in, the account picker's choice
//! // of a user is a form POST: what a browser would send after the click.
//! let authorize = url::Url::parse(&format!("{}authorize?state=s", emulator.authority().replace("/v2.0", "/oauth2/v2.0/"))).unwrap();
//! let (action, form) = emulator.account_choice(&authorize, "Adele Vance").unwrap();
//! assert!(form.contains(&("state".to_owned(), "s".to_owned())));
//! assert_eq!(action.query(), None);
//! # }
//! ```

use serde_json::json;
use url::Url;

use crate::config::{ClientSecret, SAMPLE_API_APP_ID};
use crate::{EmulatorConfig, RunningEmulator};

impl EmulatorConfig {
    /// The default tenant, users, Graph and sample to-do API, with the
    /// default app registered for an app at `app` (its sign-in and sign-out
    /// redirect URIs, front- and back-channel logout) that proves itself
    /// with `client_secret`. Every delegated scope of the sample API is
    /// consented for it by the admin, so a test signs in without a consent page.
    pub fn for_app_at(app: &Url, client_secret: &str) -> Self {
        let mut config = Self::default();
        let at = |path: &str| app.join(path).map(|url| url.to_string()).unwrap_or_else(|_| format!("{app}{path}"));
        let registration = &mut config.apps[0];
        registration.redirect_uris = vec![at("signin-oidc")];
        registration.post_logout_redirect_uris = vec![at("signout-callback-oidc")];
        registration.front_channel_logout_uri = Some(at("signout-oidc"));
        registration.backchannel_logout_uri = Some(at("backchannel-logout"));
        registration.client_secrets = vec![ClientSecret::new(client_secret)];
        registration.admin_consented_scopes.push(format!("api://{SAMPLE_API_APP_ID}/access_as_user"));
        config
    }
}

impl RunningEmulator {
    /// The settings an app registered with [`EmulatorConfig::for_app_at`]
    /// runs with against this emulator, in Microsoft.Identity.Web's keys:
    /// `AzureAd` (instance, tenant, client id and `client_secret`), `Graph`
    /// (`User.Read`) and `DownstreamApis:TodoList` (the sample API). Merge
    /// the app's own (`Hosting:PublicUrl`, `Session:SecureCookie` false for
    /// plain http) over them.
    pub fn app_settings(&self, client_secret: &str) -> serde_json::Value {
        let base = self.base_url();
        json!({
            "AzureAd": {
                "Instance": base,
                "TenantId": self.tenant_id(),
                "ClientId": self.state().config.apps[0].client_id,
                "ClientSecret": client_secret,
            },
            "Graph": { "BaseUrl": self.graph_base_url(), "Scopes": ["User.Read"] },
            "DownstreamApis": {
                "TodoList": {
                    "BaseUrl": format!("{base}api"),
                    "Scopes": [format!("api://{SAMPLE_API_APP_ID}/access_as_user")],
                    "RelativePath": "todolist",
                },
            },
        })
    }

    /// The object id of the test user called `display_name`.
    pub fn user_object_id(&self, display_name: &str) -> Option<String> {
        self.state().config.users.iter().find(|user| user.display_name == display_name).map(|user| user.object_id.clone())
    }

    /// What the account picker sends when the user called `display_name`
    /// is chosen on the page `authorize` (the URL the app redirected the
    /// browser to): the form's action and fields. POSTing them, with the
    /// browser's cookies, answers with the redirect to the app's callback.
    pub fn account_choice(&self, authorize: &Url, display_name: &str) -> Option<(Url, Vec<(String, String)>)> {
        let object_id = self.user_object_id(display_name)?;
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("user_oid".into(), object_id));
        let mut action = authorize.clone();
        action.set_query(None);
        Some((action, form))
    }
}
