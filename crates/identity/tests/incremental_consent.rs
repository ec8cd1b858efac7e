//! Incremental consent and silent re-authorization (CACHE-01) through the
//! sign-in route, against the emulator's consent page and session.

mod support;

use std::collections::HashMap;

use idweb_identity::PartitionKey;
use reqwest::Response;
use support::{location, signed_in, Browser, TestApp, ADELE};
use url::Url;

fn params(response: &Response) -> HashMap<String, String> {
    Url::parse(location(response)).unwrap().query_pairs().into_owned().collect()
}

/// Starts a Mail.Read request as a signed-in user and follows it to the
/// emulator's consent page; returns the consent form's target and fields.
async fn reach_consent_page(browser: &Browser) -> (Url, Vec<(String, String)>) {
    let start = browser.get("/auth/sign-in?returnUrl=/mail&scopes=Mail.Read").await;
    let silent = params(&start);
    assert_eq!(silent["prompt"], "none", "a signed-in user is first asked silently");
    assert_eq!(silent["login_hint"], "AdeleV@contoso.example");
    assert!(silent["scope"].contains("Mail.Read") && !silent["scope"].contains("User.Read"), "only the missing scope");

    let refused = browser.follow(location(&start)).await;
    assert_eq!(params(&refused)["error"], "consent_required");
    let fallback = browser.follow(location(&refused)).await;
    assert!(location(&fallback).starts_with("/auth/sign-in?"), "back to an interactive request");
    assert!(location(&fallback).contains("interactive=true"));
    let interactive = browser.follow(location(&fallback)).await;
    let authorize = Url::parse(location(&interactive)).unwrap();
    assert!(!authorize.query_pairs().any(|(name, _)| name == "prompt"));
    let page = browser.follow(authorize.as_str()).await.text().await.unwrap();
    assert!(page.contains("Permissions requested") && page.contains("Mail.Read"), "the consent page, no account picker");
    let mut action = authorize.clone();
    action.set_query(None);
    (action, authorize.query_pairs().into_owned().collect())
}

#[tokio::test]
async fn consenting_to_a_new_scope_returns_to_the_page_with_its_token_cached() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let (action, mut form) = reach_consent_page(&browser).await;
    form.push(("user_oid".into(), support::user_object_id(ADELE)));
    form.push(("consent".into(), "accept".into()));
    let answered = browser.client.post(action).form(&form).send().await.unwrap();
    let back = browser.follow(location(&answered)).await;
    assert_eq!(location(&back), "/mail");
    assert_eq!(browser.whoami().await, ADELE);

    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let requests = app.emulator.token_requests();
    app.identity.tokens().for_user(&adele, &["Mail.Read".to_owned()]).await.expect("Mail.Read is cached");
    app.identity.tokens().for_user(&adele, &["User.Read".to_owned()]).await.expect("User.Read still cached");
    assert_eq!(app.emulator.token_requests(), requests, "both from the cache");
}

#[tokio::test]
async fn declining_shows_what_was_declined_with_a_retry_and_no_loop() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let (action, mut form) = reach_consent_page(&browser).await;
    form.push(("user_oid".into(), support::user_object_id(ADELE)));
    form.push(("consent".into(), "decline".into()));
    let answered = browser.client.post(action).form(&form).send().await.unwrap();
    let back = browser.follow(location(&answered)).await;
    let error_page = Url::parse(&format!("http://app{}", location(&back))).unwrap();
    assert_eq!(error_page.path(), "/auth/error");
    let shown: HashMap<String, String> = error_page.query_pairs().into_owned().collect();
    assert_eq!(shown["reason"], "consent_declined");
    assert_eq!(shown["scopes"], "Mail.Read");
    assert_eq!(shown["returnUrl"], "/mail");
    assert_eq!(browser.whoami().await, ADELE, "still signed in");
}

#[tokio::test]
async fn cache_01_a_lost_cache_entry_is_recovered_silently() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    app.identity.tokens().remove_user(&adele).await.unwrap();
    assert!(app.identity.tokens().for_user(&adele, &["User.Read".to_owned()]).await.is_err(), "the cache entry is gone");

    let start = browser.get("/auth/sign-in?returnUrl=/profile").await;
    assert_eq!(params(&start)["prompt"], "none");
    let code = browser.follow(location(&start)).await;
    assert!(params(&code).contains_key("code"), "the emulator's session signs in silently");
    let back = browser.follow(location(&code)).await;
    assert_eq!(location(&back), "/profile");
    assert!(app.identity.cache().load(&PartitionKey::User(adele.home_account_id.clone())).await.unwrap().is_some());
    app.identity.tokens().for_user(&adele, &["User.Read".to_owned()]).await.expect("recovered");
}

#[tokio::test]
async fn a_malformed_sign_in_request_is_refused_by_name() {
    let app = TestApp::start().await;
    let response = app.browser().get("/auth/sign-in?scopes=Mail.Read%20%3Cscript%3E").await;
    assert_eq!(location(&response), "/auth/error?reason=bad_request");
}
