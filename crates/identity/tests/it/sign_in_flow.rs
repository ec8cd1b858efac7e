//! The sign-in flow over real HTTP against the emulator: the happy path and
//! the SECURITY-MATRIX rows a callback must enforce.

use crate::support;

use idweb_emulator::faults::AuthorizeIssFault;
use reqwest::StatusCode;
use support::{location, sets_cookie, with_param, Browser, TestApp, ADELE};

#[tokio::test]
async fn signs_in_redeems_the_code_once_and_calls_graph_from_the_cache() {
    let app = TestApp::start().await;
    let browser = app.browser();
    assert_eq!(browser.whoami().await, "nobody");

    let response = browser.sign_in(ADELE).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "CB-05: callback answers 303");
    assert_eq!(location(&response), "/after", "returns to the page that asked");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer", "CB-05");
    assert_eq!(browser.whoami().await, ADELE);
    assert_eq!(app.emulator.token_requests(), 1);

    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    assert_eq!(app.emulator.token_requests(), 1, "Graph tokens come from the cache");
}

#[tokio::test]
async fn authz_01_the_authorize_request_carries_pkce_s256_state_and_nonce() {
    let app = TestApp::start().await;
    let request = app.browser().start_sign_in().await;
    let params = &request.params;
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43, "base64url of a SHA-256 digest");
    assert_eq!(params["redirect_uri"], app.url.join("signin-oidc").unwrap().as_str());
    let scopes: Vec<&str> = params["scope"].split(' ').collect();
    for scope in ["openid", "profile", "offline_access", "User.Read"] {
        assert!(scopes.contains(&scope), "scope {scope} requested");
    }
    // 32 random bytes, base64url: 43 characters, well over 128 bits.
    assert!(params["state"].len() >= 43);
    assert!(params["nonce"].len() >= 43);
    let again = app.browser().start_sign_in().await;
    assert_ne!(again.params["state"], params["state"], "AUTHZ-02: fresh state per sign-in");
    assert_ne!(again.params["nonce"], params["nonce"], "AUTHZ-02: fresh nonce per sign-in");
    assert_ne!(again.params["code_challenge"], params["code_challenge"], "AUTHZ-02: fresh verifier");
}

#[tokio::test]
async fn cb_01_a_wrong_state_is_rejected_before_any_token_request() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;

    let response = browser.callback(&with_param(&callback, "state", "not-the-state")).await;
    assert_eq!(location(&response), "/auth/error?reason=invalid_response");
    assert_eq!(app.emulator.token_requests(), 0);
    assert_eq!(browser.whoami().await, "nobody");
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0);
}

#[tokio::test]
async fn cb_01_a_missing_state_is_rejected() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.start_sign_in().await;
    let response = browser.get("/signin-oidc?code=anything").await;
    assert_eq!(location(&response), "/auth/error?reason=invalid_response");
    assert_eq!(app.emulator.token_requests(), 0);
}

#[tokio::test]
async fn cb_01_a_replayed_callback_is_rejected() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    assert_eq!(location(&browser.callback(&callback).await), "/after");

    let replay = browser.callback(&callback).await;
    assert_eq!(location(&replay), "/auth/error?reason=invalid_response");
    assert_eq!(app.emulator.token_requests(), 1, "the replay never reached the token endpoint");
}

#[tokio::test]
async fn cb_02_a_callback_in_another_browser_is_rejected_and_creates_no_session() {
    let app = TestApp::start().await;
    let victim = app.browser();
    let request = victim.start_sign_in().await;
    let callback = victim.choose_user(&request, ADELE).await;

    let attacker = Browser::new(app.url.clone());
    let response = attacker.callback(&callback).await;
    assert_eq!(location(&response), "/auth/error?reason=invalid_response");
    assert!(!sets_cookie(&response), "no session for a refused callback");
    assert_eq!(app.emulator.token_requests(), 0);
    assert_eq!(attacker.whoami().await, "nobody");
}

#[tokio::test]
async fn idt_06_an_id_token_with_another_nonce_is_rejected_and_nothing_is_cached() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let mut request = browser.start_sign_in().await;
    // The provider is told another nonce than the one this browser's sign-in expects.
    request.params.insert("nonce".into(), "a-nonce-this-app-never-issued".into());
    request.url = with_param(&request.url, "nonce", "a-nonce-this-app-never-issued");
    let callback = browser.choose_user(&request, ADELE).await;

    let response = browser.callback(&callback).await;
    assert_eq!(location(&response), "/auth/error?reason=id_token_rejected");
    assert_eq!(browser.whoami().await, "nobody", "IDT-11: no session");
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0, "IDT-11: nothing cached");
}

#[tokio::test]
async fn tok_02_a_code_redeemed_twice_fails_safely() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let first = browser.start_sign_in().await;
    let second = browser.start_sign_in().await;
    let callback = browser.choose_user(&first, ADELE).await;
    assert_eq!(location(&browser.callback(&callback).await), "/after");

    // The same code under the second sign-in's (valid) state: only the provider can catch it.
    let stolen = with_param(&callback, "state", &second.params["state"]);
    let response = browser.callback(&stolen).await;
    assert_eq!(location(&response), "/auth/error?reason=code_rejected");
    assert_eq!(app.emulator.token_requests(), 2);
}

#[tokio::test]
async fn authz_04_sign_ins_started_in_two_tabs_both_complete() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let tab_one = browser.start_sign_in().await;
    let tab_two = browser.start_sign_in().await;
    let callback_two = browser.choose_user(&tab_two, ADELE).await;
    let callback_one = browser.choose_user(&tab_one, "Alex Wilber").await;
    assert_eq!(location(&browser.callback(&callback_two).await), "/after");
    assert_eq!(browser.whoami().await, ADELE);
    assert_eq!(location(&browser.callback(&callback_one).await), "/after");
    assert_eq!(browser.whoami().await, "Alex Wilber");
}

#[tokio::test]
async fn cb_04_a_provider_error_is_passed_to_the_error_page_without_a_token_request() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let mut callback = app
        .url
        .join(&format!(
            "/signin-oidc?error=access_denied&error_description=AADSTS65004%3A+User+said+%3Cb%3Eno%3C%2Fb%3E&state={}",
            request.params["state"]
        ))
        .unwrap();
    // As the provider sends it: naming itself (RFC 9207).
    callback.query_pairs_mut().append_pair("iss", &support::issuer(&app));
    let response = browser.callback(&callback).await;
    // AUTHZ-05: the code and the AADSTS number pass, the provider's free text does not.
    assert_eq!(location(&response), "/auth/error?reason=provider_error&error=access_denied&aadsts=65004");
    assert_eq!(app.emulator.token_requests(), 0);
}

#[tokio::test]
async fn authz_05_an_unknown_provider_error_code_is_not_passed_to_the_error_page() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let mut callback = app.url.join("/signin-oidc").unwrap();
    callback
        .query_pairs_mut()
        .append_pair("error", "call_1_800_support")
        .append_pair("error_description", "Your account is locked, call +1 800 ...")
        .append_pair("state", &request.params["state"])
        .append_pair("iss", &support::issuer(&app));
    assert_eq!(location(&browser.callback(&callback).await), "/auth/error?reason=provider_error");
}

#[tokio::test]
async fn cb_03_an_authorization_response_from_another_issuer_is_rejected() {
    let app = TestApp::start().await;
    app.emulator.faults().arm_authorize_iss(AuthorizeIssFault { iss: Some("https://attacker.example/v2.0".into()), count: 1 }).unwrap();
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    assert_eq!(location(&browser.callback(&callback).await), "/auth/error?reason=invalid_response");
    assert_eq!(app.emulator.token_requests(), 0);
    assert_eq!(browser.whoami().await, "nobody");
}

#[tokio::test]
async fn cb_03_the_expected_issuer_in_the_response_is_accepted() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    assert!(callback.query_pairs().any(|(name, _)| name == "iss"), "the emulator sends RFC 9207 iss");
    assert_eq!(location(&browser.callback(&callback).await), "/after");
}

#[tokio::test]
async fn cb_01_a_response_with_a_repeated_parameter_is_rejected() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    let mut doubled = callback.clone();
    doubled.query_pairs_mut().append_pair("iss", "https://attacker.example/v2.0");
    assert_eq!(location(&browser.callback(&doubled).await), "/auth/error?reason=invalid_response");
    assert_eq!(app.emulator.token_requests(), 0);
    // The pending sign-in was not consumed by the refused response.
    assert_eq!(location(&browser.callback(&callback).await), "/after");
}

#[tokio::test]
async fn ses_01_the_session_id_changes_at_sign_in_and_the_cookie_is_http_only_lax() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let start = browser.get("/auth/sign-in").await;
    let before = start.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(before.contains("HttpOnly") && before.contains("SameSite=Lax") && before.contains("Path=/"));
    let request_url = url::Url::parse(location(&start)).unwrap();
    let request = support::AuthorizeRequest {
        params: request_url.query_pairs().into_owned().collect(),
        url: request_url,
    };
    let callback = browser.choose_user(&request, ADELE).await;
    let response = browser.callback(&callback).await;
    let after = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    let id = |cookie: &str| cookie.split(';').next().unwrap().to_owned();
    assert_ne!(id(&before), id(&after), "session id rotated");
}

#[tokio::test]
async fn out_01_sign_out_clears_session_and_cache_then_ends_the_provider_session() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 1);

    let response = browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = url::Url::parse(location(&response)).unwrap();
    assert!(end_session.path().ends_with("/oauth2/v2.0/logout"));
    let params: std::collections::HashMap<_, _> = end_session.query_pairs().into_owned().collect();
    assert_eq!(params["post_logout_redirect_uri"], app.url.join("signout-callback-oidc").unwrap().as_str());
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0, "the user's tokens are gone");
    assert_eq!(browser.whoami().await, "nobody");

    // The provider's signed-out page loads the app's front-channel URL, then returns.
    let page = browser.client.get(end_session).send().await.unwrap().text().await.unwrap();
    let onward = page.split("id=\"return\" href=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a way back to the app");
    let signed_out_callback = url::Url::parse(&onward.replace("&amp;", "&")).unwrap();
    assert_eq!(signed_out_callback.path(), "/signout-callback-oidc");
    let home = browser.client.get(signed_out_callback).send().await.unwrap();
    assert_eq!(location(&home), "/");
}

#[tokio::test]
async fn authz_03_a_foreign_return_url_falls_back_to_home() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let response = browser.get("/auth/sign-in?returnUrl=//evil.example/").await;
    let request_url = url::Url::parse(location(&response)).unwrap();
    let request = support::AuthorizeRequest {
        params: request_url.query_pairs().into_owned().collect(),
        url: request_url,
    };
    let callback = browser.choose_user(&request, ADELE).await;
    assert_eq!(location(&browser.callback(&callback).await), "/");
}

#[tokio::test]
async fn flt_01_an_unreachable_provider_gives_the_error_page() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = listener.local_addr().unwrap().port();
    drop(listener);
    let settings = serde_json::json!({
        "AzureAd": { "Instance": format!("http://127.0.0.1:{dead_port}/"), "TenantId": "contoso.example", "ClientId": "client", "ClientSecret": "s" },
        "Graph": { "BaseUrl": format!("http://127.0.0.1:{dead_port}/v1.0"), "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:9/" },
        "Session": { "SecureCookie": false },
    });
    let identity = idweb_identity::Identity::builder(idweb_identity::IdentityConfig::from_json(&settings).unwrap()).build().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let router = identity.router().layer(identity.session_layer());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let response = Browser::new(url).get("/auth/sign-in").await;
    assert_eq!(location(&response), "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn flt_01_after_a_failed_discovery_callers_are_answered_at_once_for_a_moment() {
    // A tenant the provider does not know: discovery is refused.
    let app = TestApp::start_with(|_, settings| *settings = serde_json::json!({ "AzureAd": { "TenantId": "not-our-tenant" } })).await;
    let browser = app.browser();
    for _ in 0..3 {
        assert_eq!(location(&browser.get("/auth/sign-in").await), "/auth/error?reason=provider_unavailable");
    }
    assert_eq!(app.emulator.discovery_requests(), 1, "one attempt, then the failure is answered without asking again");
}

#[tokio::test]
async fn cb_03_a_response_without_iss_is_rejected_when_the_provider_advertises_it() {
    let app = TestApp::start().await;
    app.emulator.faults().arm_authorize_iss(AuthorizeIssFault { iss: None, count: 1 }).unwrap();
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    assert!(!callback.query_pairs().any(|(name, _)| name == "iss"), "the fault left iss out");
    assert_eq!(location(&browser.callback(&callback).await), "/auth/error?reason=invalid_response");
    assert_eq!(app.emulator.token_requests(), 0, "the code was never redeemed");
    assert_eq!(browser.whoami().await, "nobody");
}

#[tokio::test]
async fn cb_03_an_error_response_without_iss_is_rejected_too() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let mut forged = app.url.join("signin-oidc").unwrap();
    forged.query_pairs_mut().append_pair("state", &request.params["state"]).append_pair("error", "access_denied");
    assert!(!forged.query_pairs().any(|(name, _)| name == "iss"));
    assert_eq!(location(&browser.callback(&forged).await), "/auth/error?reason=invalid_response");
}

#[tokio::test]
async fn csrf_01_a_cross_site_sign_out_is_refused_and_a_same_origin_one_works() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let sign_out = app.url.join("/auth/sign-out").unwrap();
    let cross_site = browser.client.post(sign_out.clone()).header("Sec-Fetch-Site", "cross-site").send().await.unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let foreign_origin = browser.client.post(sign_out.clone()).header("Origin", "https://evil.example").send().await.unwrap();
    assert_eq!(foreign_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.whoami().await, ADELE, "still signed in");
    let own_origin = app.url.origin().ascii_serialization();
    let same_origin = browser.client.post(sign_out).header("Sec-Fetch-Site", "same-origin").header("Origin", own_origin).send().await.unwrap();
    assert_eq!(same_origin.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.whoami().await, "nobody");
}

#[tokio::test]
async fn a_protected_route_sends_a_visitor_without_a_session_to_sign_in() {
    let app = TestApp::start().await;
    let response = app.browser().get("/graph/me").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "CurrentUser refuses the request");
    assert_eq!(location(&response), "/auth/sign-in");
}
