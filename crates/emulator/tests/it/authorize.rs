//! The authorize endpoint beyond the happy path: consent, prompt,
//! login_hint, domain_hint, the username field, claims and form_post; and
//! the tokens those choices lead to.

use crate::support;

use std::collections::HashMap;

use idweb_emulator::config::SAMPLE_API_APP_ID;
use idweb_emulator::GRAPH_APP_ID;
use reqwest::Client;
use support::*;
use url::Url;

const ALEX_OID: &str = "2b7c4e10-9d3f-4a8b-b6c2-5e1d0f9a3b02";

/// A browser: keeps the emulator's SSO cookie, follows no redirects.
fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn with(params: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = params.iter().filter(|(name, _)| !extra.iter().any(|(extra_name, _)| extra_name == name)).cloned().collect();
    all.extend(extra.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
    all
}

async fn post(emulator: &Emulator, client: &Client, form: &[(String, String)]) -> reqwest::Response {
    client.post(emulator.tenant_url("oauth2/v2.0/authorize")).form(form).send().await.unwrap()
}

async fn get(emulator: &Emulator, client: &Client, params: &[(String, String)]) -> reqwest::Response {
    client.get(emulator.tenant_url("oauth2/v2.0/authorize")).query(params).send().await.unwrap()
}

fn answer(response: &reqwest::Response) -> HashMap<String, String> {
    assert!(response.status().is_redirection(), "expected a redirect, got {}", response.status());
    query(&Url::parse(location(response)).unwrap())
}

#[tokio::test]
async fn a_scope_not_yet_consented_shows_the_consent_page_and_consent_is_remembered() {
    let emulator = Emulator::start().await;
    let client = browser();
    let params = emulator.authorize_params("openid profile User.Read Mail.Read");
    let page = post(&emulator, &client, &with(&params, &[("user_oid", ADELE_OID)])).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Permissions requested"));
    assert!(html.contains("<code>Mail.Read</code>"), "lists what is asked");
    assert!(!html.contains("<code>User.Read</code>"), "User.Read is admin-consented");

    let accepted = post(&emulator, &client, &with(&params, &[("user_oid", ADELE_OID), ("consent", "accept")])).await;
    let code = answer(&accepted)["code"].clone();
    let tokens: serde_json::Value = emulator.redeem(&code).await.json().await.unwrap();
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["scp"], "User.Read Mail.Read");

    let again = post(&emulator, &client, &with(&params, &[("user_oid", ADELE_OID)])).await;
    assert!(answer(&again).contains_key("code"), "no consent page the second time");
    let alex = post(&emulator, &client, &with(&params, &[("user_oid", ALEX_OID)])).await;
    assert_eq!(alex.status(), 200, "consent is per user");
}

#[tokio::test]
async fn declining_consent_answers_access_denied_with_the_state() {
    let emulator = Emulator::start().await;
    let params = emulator.authorize_params("openid Mail.Read");
    let declined = post(&emulator, &browser(), &with(&params, &[("user_oid", ADELE_OID), ("consent", "decline")])).await;
    let answer = answer(&declined);
    assert_eq!(answer["error"], "access_denied");
    assert!(answer["error_description"].starts_with("AADSTS65004"));
    assert_eq!(answer["state"], "state-123");
}

#[tokio::test]
async fn prompt_consent_asks_even_for_consented_scopes() {
    let emulator = Emulator::start().await;
    let params = with(&emulator.authorize_params("openid User.Read"), &[("prompt", "consent")]);
    let page = post(&emulator, &browser(), &with(&params, &[("user_oid", ADELE_OID)])).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<code>User.Read</code>"));
}

#[tokio::test]
async fn prompt_none_signs_in_silently_only_when_it_can() {
    let emulator = Emulator::start().await;
    let client = browser();
    let silent = with(&emulator.authorize_params("openid User.Read"), &[("prompt", "none")]);
    let nobody = answer(&get(&emulator, &client, &silent).await);
    assert_eq!(nobody["error"], "login_required");
    assert!(nobody["error_description"].starts_with("AADSTS50058"));

    // An interactive sign-in leaves the emulator's session cookie in this browser.
    let interactive = emulator.authorize_params("openid User.Read");
    answer(&post(&emulator, &client, &with(&interactive, &[("user_oid", ADELE_OID)])).await);
    let signed_in = answer(&get(&emulator, &client, &with(&silent, &[("login_hint", "adelev@contoso.example")])).await);
    assert!(signed_in.contains_key("code"), "{signed_in:?}");
    let tokens: serde_json::Value = emulator.redeem(&signed_in["code"]).await.json().await.unwrap();
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["oid"], ADELE_OID);

    let other = answer(&get(&emulator, &client, &with(&silent, &[("login_hint", "AlexW@contoso.example")])).await);
    assert_eq!(other["error"], "interaction_required");
    let more = with(&emulator.authorize_params("openid Mail.Read"), &[("prompt", "none")]);
    assert_eq!(answer(&get(&emulator, &client, &more).await)["error"], "consent_required");
}

#[tokio::test]
async fn login_hint_and_domain_hint_shape_the_account_picker() {
    let mut config = idweb_emulator::EmulatorConfig::default();
    let mut outsider = config.users[0].clone();
    outsider.object_id = "4d9e6a32-1f5b-4cad-98e4-7a3f2b1c5d04".into();
    outsider.display_name = "Pat Fabrikam".into();
    outsider.user_principal_name = "pat@fabrikam.example".into();
    config.users.push(outsider);
    let emulator = Emulator::start_with(config).await;
    let params = with(&emulator.authorize_params("openid"), &[("login_hint", "MeganB@contoso.example")]);
    let html = get(&emulator, &browser(), &params).await.text().await.unwrap();
    let first_button = html.find("Megan Bowen").unwrap();
    assert!(first_button < html.find("Adele Vance").unwrap(), "the hinted user is offered first");
    assert!(html.contains("value=\"MeganB@contoso.example\""), "the username field is prefilled");

    let fabrikam = with(&emulator.authorize_params("openid"), &[("domain_hint", "fabrikam.example")]);
    let html = get(&emulator, &browser(), &fabrikam).await.text().await.unwrap();
    assert!(html.contains("Pat Fabrikam") && !html.contains("Adele Vance"));
}

#[tokio::test]
async fn the_username_field_signs_in_a_known_account_and_names_an_unknown_one() {
    let emulator = Emulator::start().await;
    let params = emulator.authorize_params("openid");
    let known = post(&emulator, &browser(), &with(&params, &[("username", "alexw@CONTOSO.example")])).await;
    let code = answer(&known)["code"].clone();
    let tokens: serde_json::Value = emulator.redeem(&code).await.json().await.unwrap();
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["oid"], ALEX_OID);

    let unknown = post(&emulator, &browser(), &with(&params, &[("username", "<nobody>@contoso.example")])).await;
    assert_eq!(unknown.status(), 200);
    let html = unknown.text().await.unwrap();
    assert!(html.contains("AADSTS50034"));
    assert!(!html.contains("<nobody>"), "what was typed is escaped");
}

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form() {
    let emulator = Emulator::start().await;
    let params = with(&emulator.authorize_params("openid"), &[("response_mode", "form_post"), ("user_oid", ADELE_OID)]);
    let response = post(&emulator, &browser(), &params).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT_URI}\"")));
    assert!(html.contains("name=\"code\""));
    assert!(html.contains("name=\"state\" value=\"state-123\""));
    assert!(html.contains("name=\"iss\""));
    assert!(html.contains("<noscript>"), "works without JavaScript too");
}

#[tokio::test]
async fn bad_prompt_claims_or_response_mode_go_back_to_the_app() {
    let emulator = Emulator::start().await;
    let base = emulator.authorize_params("openid");
    for (name, value, aadsts) in [("prompt", "sometimes", "AADSTS90023"), ("claims", "{not json", "AADSTS90014"), ("response_mode", "fragment", "AADSTS900144")] {
        let answer = answer(&get(&emulator, &browser(), &with(&base, &[(name, value)])).await);
        assert_eq!(answer["error"], "invalid_request", "{name}={value}");
        assert!(answer["error_description"].starts_with(aadsts), "{name}: {}", answer["error_description"]);
        assert_eq!(answer["state"], "state-123");
    }
}

#[tokio::test]
async fn a_cp1_claims_request_puts_xms_cc_in_the_access_token() {
    let emulator = Emulator::start().await;
    let capabilities = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let params = with(&emulator.authorize_params("openid User.Read"), &[("claims", capabilities)]);
    let code = query(&emulator.authorize_as(&params, ADELE_OID).await)["code"].clone();
    let tokens: serde_json::Value = emulator.redeem(&code).await.json().await.unwrap();
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["xms_cc"], serde_json::json!(["cp1"]));
    let plain = emulator.tokens_for("openid User.Read").await;
    assert!(claims(plain["access_token"].as_str().unwrap()).get("xms_cc").is_none());
}

#[tokio::test]
async fn tokens_for_the_sample_api_name_it_as_audience_and_refresh_one_resource_at_a_time() {
    let emulator = Emulator::start().await;
    let api_scope = format!("api://{SAMPLE_API_APP_ID}/access_as_user");
    let tokens = emulator.tokens_for(&format!("openid offline_access {api_scope} User.Read")).await;
    assert_eq!(tokens["scope"].as_str().unwrap().split(' ').next(), Some(api_scope.as_str()), "non-Graph scopes are qualified");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], SAMPLE_API_APP_ID);
    assert_eq!(access["scp"], "access_as_user");

    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let graph: serde_json::Value = emulator.refresh(refresh_token, "User.Read").await.json().await.unwrap();
    assert_eq!(claims(graph["access_token"].as_str().unwrap())["aud"], GRAPH_APP_ID, "the refresh token serves every consented resource");
    let both = emulator.refresh(refresh_token, &format!("User.Read {api_scope}")).await;
    assert_oauth_error(both, 400, "invalid_scope", 28000).await;
    let default: serde_json::Value = emulator.refresh(refresh_token, &format!("api://{SAMPLE_API_APP_ID}/.default")).await.json().await.unwrap();
    assert_eq!(claims(default["access_token"].as_str().unwrap())["scp"], "access_as_user", ".default means what was consented");
}

async fn client_credentials(emulator: &Emulator, scope: &str) -> reqwest::Response {
    emulator
        .token(&[("grant_type", "client_credentials"), ("client_id", &emulator.client_id), ("client_secret", SECRET), ("scope", scope)])
        .await
}

#[tokio::test]
async fn client_credentials_give_app_tokens_with_the_granted_roles() {
    let emulator = Emulator::start().await;
    let graph: serde_json::Value = client_credentials(&emulator, "https://graph.microsoft.com/.default").await.json().await.unwrap();
    assert!(graph.get("refresh_token").is_none() && graph.get("id_token").is_none());
    let access = claims(graph["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], GRAPH_APP_ID);
    assert_eq!(access["roles"], serde_json::json!(["User.Read.All"]));
    assert_eq!(access["idtyp"], "app");
    assert!(access.get("scp").is_none());

    let api: serde_json::Value = client_credentials(&emulator, &format!("api://{SAMPLE_API_APP_ID}/.default")).await.json().await.unwrap();
    assert_eq!(claims(api["access_token"].as_str().unwrap())["roles"], serde_json::json!(["TodoList.Read.All"]));

    assert_oauth_error(client_credentials(&emulator, "User.Read").await, 400, "invalid_scope", 1002012).await;
}

#[tokio::test]
async fn a_login_hint_for_the_signed_in_account_skips_the_picker() {
    let emulator = Emulator::start().await;
    let client = browser();
    let first = emulator.authorize_params("openid User.Read");
    answer(&post(&emulator, &client, &with(&first, &[("user_oid", ADELE_OID)])).await);
    let hinted = with(&emulator.authorize_params("openid User.Read"), &[("login_hint", "AdeleV@contoso.example")]);
    assert!(answer(&get(&emulator, &client, &hinted).await).contains_key("code"), "straight back with a code");
    let more = with(&emulator.authorize_params("openid Mail.Read"), &[("login_hint", "AdeleV@contoso.example")]);
    let consent = get(&emulator, &client, &more).await;
    assert_eq!(consent.status(), 200);
    assert!(consent.text().await.unwrap().contains("Permissions requested"), "consent, not the picker");
    let other = with(&emulator.authorize_params("openid User.Read"), &[("login_hint", "AlexW@contoso.example")]);
    assert!(get(&emulator, &client, &other).await.text().await.unwrap().contains("Pick an account"));
}
