//! FLT-01 at code redemption and discovery: an outage, a gateway's error
//! page or a misconfigured provider is told apart from an attack. The user
//! reads the right reason and no security event is logged for an outage.

mod support;

use idweb_emulator::faults::{InjectedError, RawAnswer, TokenFault};
use support::{location, Browser, TestApp, ADELE};

fn answer_code_redemption_with(app: &TestApp, status: u16, content_type: &str, body: &str) {
    let raw = RawAnswer { status, content_type: content_type.into(), body: body.into() };
    let fault = TokenFault { grant_type: Some("authorization_code".into()), delay_ms: 0, error: None, raw: Some(raw), count: 1 };
    app.emulator.faults().arm_token(fault).unwrap();
}

async fn sign_in_outcome(app: &TestApp) -> (String, Browser) {
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    let outcome = location(&browser.callback(&callback).await).to_owned();
    (outcome, browser)
}

#[tokio::test]
async fn flt_01_a_503_html_page_at_code_redemption_is_an_outage_not_a_rejected_code() {
    let app = TestApp::start().await;
    answer_code_redemption_with(&app, 503, "text/html", "<html><body><h1>503 Service Unavailable</h1></body></html>");
    let (outcome, browser) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
    assert_eq!(browser.whoami().await, "nobody");
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0);
}

#[tokio::test]
async fn flt_01_a_problem_json_from_a_gateway_is_an_outage_not_a_validation_failure() {
    let app = TestApp::start().await;
    let problem = r#"{"type":"https://gateway.example/errors/quota","title":"Request blocked","status":403}"#;
    answer_code_redemption_with(&app, 403, "application/problem+json", problem);
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn flt_01_a_500_is_an_outage_even_when_its_body_says_invalid_grant() {
    let app = TestApp::start().await;
    answer_code_redemption_with(&app, 500, "application/json", r#"{"error":"invalid_grant","error_description":"boom"}"#);
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn flt_01_a_200_html_page_is_an_outage_not_an_id_token_failure() {
    let app = TestApp::start().await;
    answer_code_redemption_with(&app, 200, "text/html; charset=utf-8", "<html>Please sign in to the proxy</html>");
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn tok_02_a_real_invalid_grant_is_still_a_rejected_code() {
    let app = TestApp::start().await;
    let injected = InjectedError { error: "invalid_grant".into(), status: None, aadsts: None, description: None, suberror: None, claims: None };
    let fault = TokenFault { grant_type: Some("authorization_code".into()), delay_ms: 0, error: Some(injected), raw: None, count: 1 };
    app.emulator.faults().arm_token(fault).unwrap();
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=code_rejected");
}

#[tokio::test]
async fn flt_01_a_discovery_issuer_of_another_host_is_a_misconfigured_provider_not_an_outage() {
    // The emulator declares issuers under 127.0.0.1; this app is told the authority is `localhost`.
    let app = TestApp::start_with(|_, _| {}).await;
    let mut settings = app.settings.clone();
    let instance = app.emulator.base_url().replace("127.0.0.1", "localhost");
    settings["AzureAd"]["Instance"] = serde_json::json!(instance);
    let other = app.another_instance_with(|changed| *changed = settings, None).await;
    let response = Browser::new(other.url.clone()).get("/auth/sign-in").await;
    assert_eq!(location(&response), "/auth/error?reason=provider_misconfigured");
}
