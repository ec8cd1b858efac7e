//! Incremental consent and silent re-authorization (CACHE-01) through the
//! sign-in route, against the emulator's consent page and session.

use crate::support;

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
async fn declining_leads_to_the_error_page_with_a_way_back_and_no_loop() {
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
    assert_eq!(shown["returnUrl"], "/mail");
    assert!(!shown.contains_key("scopes"), "AUTHZ-05: the error page's URL names no scopes to re-offer");
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

#[tokio::test]
async fn authz_05_a_link_asking_for_a_scope_no_configured_api_uses_is_refused() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    for scopes in ["Files.ReadWrite.All", "Mail.Read%20Mail.Send", "https://graph.microsoft.com/Directory.ReadWrite.All", "api://other/access"] {
        let response = browser.get(&format!("/auth/sign-in?returnUrl=/mail&scopes={scopes}")).await;
        assert_eq!(location(&response), "/auth/error?reason=not_offered", "{scopes}");
    }
}

#[tokio::test]
async fn authz_05_scopes_of_graph_and_of_configured_apis_may_be_asked_for() {
    let app = TestApp::start().await;
    let browser = app.browser();
    for scopes in ["Mail.Read", "user.read", "https://graph.microsoft.com/Mail.Read", support::TODO_SCOPE] {
        let response = browser.get(&format!("/auth/sign-in?returnUrl=/&scopes={}", urlencoding(scopes))).await;
        assert!(location(&response).starts_with(&app.emulator.base_url()), "{scopes}: {}", location(&response));
    }
}

#[tokio::test]
async fn authz_05_a_link_carrying_claims_is_refused_and_reaches_no_provider() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let claims = urlencoding(r#"{"id_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
    let response = browser.get(&format!("/auth/sign-in?returnUrl=/&claims={claims}")).await;
    assert_eq!(location(&response), "/auth/error?reason=not_offered");
}

#[tokio::test]
async fn authz_05_a_challenge_id_this_session_did_not_receive_is_refused() {
    let app = TestApp::start().await;
    let victim = app.browser();
    victim.sign_in(ADELE).await;
    // The attacker's own session received a challenge; its id means nothing in the victim's.
    let attacker = app.browser();
    let id = remember_challenge(&attacker, r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#).await;
    let response = victim.get(&format!("/auth/sign-in?returnUrl=/&challenge={id}")).await;
    assert_eq!(location(&response), "/auth/error?reason=not_offered");
    let response = victim.get("/auth/sign-in?returnUrl=/&challenge=made-up-id").await;
    assert_eq!(location(&response), "/auth/error?reason=not_offered");
}

#[tokio::test]
async fn authz_05_a_challenge_the_server_received_is_sent_to_the_provider_by_id() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let id = remember_challenge(&browser, claims).await;
    let response = browser.get(&format!("/auth/sign-in?returnUrl=/&challenge={id}")).await;
    let sent: serde_json::Value = serde_json::from_str(&params(&response)["claims"]).unwrap();
    assert_eq!(sent["access_token"]["acrs"]["value"], "c1", "the kept claims reach the authorize request");
}

/// Has the test app keep `claims` in `browser`'s session, as a handler that
/// received a challenge does; returns the id its sign-in link carries.
async fn remember_challenge(browser: &Browser, claims: &str) -> String {
    let response = browser.get(&format!("/test/challenge?claims={}", urlencoding(claims))).await;
    let link = response.text().await.unwrap();
    let url = Url::parse(&format!("http://app{link}")).unwrap();
    let pairs: HashMap<String, String> = url.query_pairs().into_owned().collect();
    pairs["challenge"].clone()
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
