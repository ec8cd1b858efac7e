//! `cargo leptos watch` in a fresh clone: a debug build that `cargo leptos
//! watch` starts with no environment named reads the repository's own settings as
//! Development and runs the emulator inside, so a browser signs in with
//! nothing else running. Started here as `main` starts it
//! (`server::startup::prepare`), on free ports.
#![cfg(feature = "embedded-emulator")]

use std::path::PathBuf;

use idweb::server::startup::{prepare, Surroundings};
use serde_json::json;

use crate::common::browser::{location, Browser};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn a_fresh_clone_under_cargo_leptos_serves_an_app_a_browser_signs_in_to() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let surroundings = Surroundings { config_dir: repository(), environment: None, launched_by_cargo_leptos_watch: true };
    assert!(surroundings.is_zero_configuration_development());
    // What scripts/run.sh --port and --emulator-port set; 0: any free port.
    let ports = json!({ "Emulator": { "Listen": "127.0.0.1:0" }, "Hosting": { "PublicUrl": app.as_str() } });
    let prepared = prepare(&surroundings, Some(ports)).await.expect("the repository's settings and the emulator inside");
    assert_eq!(prepared.environment.as_deref(), Some("Development"));
    let emulator = prepared.emulator.as_ref().expect("the emulator runs inside").base_url();
    assert_ne!(emulator, "http://127.0.0.1:0/");
    assert!(prepared.config.azure_ad.instance.as_str().starts_with(&emulator), "the settings follow the emulator to its port");
    assert!(prepared.config.graph.base_url.as_str().starts_with(&emulator));

    let identity = idweb_identity::Identity::builder(prepared.config)
        .managed_identity(prepared.managed_identity.expect("the emulator is the app's host"))
        .build()
        .await
        .unwrap();
    let options = idweb::server::site_options().unwrap();
    let router = idweb::server::app_router(identity.clone(), options);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let browser = Browser::new(&app);
    let callback = browser.sign_in("Adele Vance").await;
    assert_eq!(location(&callback), "/");
    let profile = browser.get("/profile").await;
    assert_eq!(profile.status(), reqwest::StatusCode::OK);
    assert!(profile.text().await.unwrap().contains("Adele Vance"), "the profile page reads Graph through the emulator inside");
    // The emulator is the app's managed identity host too (KeyVault, SignedAssertionFromManagedIdentity).
    identity.tokens().for_app(&["https://graph.microsoft.com/.default".to_owned()]).await.expect("an app token");
    drop(prepared.emulator);
}

#[test]
fn only_a_debug_build_cargo_leptos_watch_started_with_no_environment_is_the_zero_configuration_loop() {
    let named = Surroundings { config_dir: repository(), environment: Some("Development".into()), launched_by_cargo_leptos_watch: true };
    assert!(!named.is_zero_configuration_development(), "a named environment is taken as it is (e2e, run.sh --https)");
    assert_eq!(named.effective_environment().as_deref(), Some("Development"));
    let by_hand = Surroundings { config_dir: repository(), environment: None, launched_by_cargo_leptos_watch: false };
    assert!(!by_hand.is_zero_configuration_development(), "a binary started by hand reads appsettings.json alone");
    assert_eq!(by_hand.effective_environment(), None);
}

#[tokio::test]
async fn without_an_environment_the_start_up_error_points_to_the_development_commands() {
    let by_hand = Surroundings { config_dir: repository(), environment: None, launched_by_cargo_leptos_watch: false };
    let error = match prepare(&by_hand, None).await {
        Ok(_) => panic!("appsettings.json alone names no tenant"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("AzureAd:") && error.contains("scripts/run.sh") && error.contains("cargo leptos watch"), "{error}");
}
