//! The example against the emulator, as another app's tests would use it
//! (`idweb_emulator::testing`): a user signs in through the real flow, sees
//! their Graph name and their to-do items, a fault the test arms shows, and
//! signing out ends the session.

use std::sync::Arc;

use idweb_emulator::faults::ApiFault;
use idweb_emulator::EmulatorConfig;
use idweb_identity::{Identity, IdentityConfig};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use url::Url;

const SECRET: &str = "example-test-secret";

/// The example on a free port against an emulator that knows it.
async fn start() -> (Url, idweb_emulator::RunningEmulator, Arc<Identity>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let emulator = idweb_emulator::spawn(EmulatorConfig::for_app_at(&app, SECRET), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut settings = emulator.app_settings(SECRET);
    idweb_identity::config::merge_json(&mut settings, serde_json::json!({ "Hosting": { "PublicUrl": app.as_str() }, "Session": { "SecureCookie": false } }));
    let identity = Identity::builder(IdentityConfig::from_json(&settings).unwrap()).build().await.unwrap();
    let router = idweb_example_axum::app(identity.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (app, emulator, identity)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_signs_in_sees_their_graph_name_and_to_dos_and_signs_out() {
    let (app, emulator, _identity) = start().await;
    let browser = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: &str| browser.get(app.join(path).unwrap()).send();

    let home = get("/").await.unwrap().text().await.unwrap();
    assert!(home.contains("Sign in"), "{home}");
    let start = get("/auth/sign-in?returnUrl=/").await.unwrap();
    let authorize = Url::parse(&location(&start)).unwrap();
    assert_eq!(browser.get(authorize.clone()).send().await.unwrap().status(), StatusCode::OK, "the account picker");
    let (action, form) = emulator.account_choice(&authorize, "Adele Vance").unwrap();
    let chosen = browser.post(action).form(&form).send().await.unwrap();
    let callback = browser.get(location(&chosen)).send().await.unwrap();
    assert_eq!(location(&callback), "/", "signed in, back where the sign-in started");
    assert_eq!(emulator.token_requests(), 1, "the code redeemed");

    let home = get("/").await.unwrap().text().await.unwrap();
    assert!(home.contains("Hello, Adele Vance."), "{home}");
    let todo = get("/todo").await.unwrap().text().await.unwrap();
    assert!(todo.contains("to-do items"), "{todo}");
    assert_eq!(emulator.token_requests(), 2, "one more token, for the to-do API, then cached");

    // The to-do API fails once: the page says so (the engine's error page), then works again.
    emulator.faults().arm_api(ApiFault::Status { status: 500, retry_after_secs: None, count: 1 }).unwrap();
    let failed = get("/todo").await.unwrap();
    assert!(location(&failed).contains("reason=downstream"), "{}", location(&failed));
    assert!(get("/todo").await.unwrap().text().await.unwrap().contains("to-do items"));
    assert_eq!(emulator.token_requests(), 2, "the cached token served both calls");

    let origin = app.origin().ascii_serialization();
    let signed_out = browser.post(app.join("/auth/sign-out").unwrap()).header("origin", origin).send().await.unwrap();
    assert!(location(&signed_out).starts_with(&emulator.base_url()), "on to the provider's sign-out");
    let home = get("/").await.unwrap().text().await.unwrap();
    assert!(home.contains("Sign in"), "signed out here: {home}");
}
