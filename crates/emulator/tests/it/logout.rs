//! The end-session endpoint: the emulator's session ends, front-channel
//! logout URLs are loaded, and only registered addresses are returned to.

use crate::support;

use reqwest::Client;
use support::*;

fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signs Adele in at the emulator in `client`; returns the ID token's claims.
async fn sign_in(emulator: &Emulator, client: &Client) -> serde_json::Value {
    let mut form = emulator.authorize_params("openid User.Read");
    form.push(("user_oid".into(), ADELE_OID.into()));
    let response = client.post(emulator.tenant_url("oauth2/v2.0/authorize")).form(&form).send().await.unwrap();
    let code = query(&url::Url::parse(location(&response)).unwrap())["code"].clone();
    let tokens: serde_json::Value = emulator.redeem(&code).await.json().await.unwrap();
    claims(tokens["id_token"].as_str().unwrap())
}

async fn silent_sign_in_error(emulator: &Emulator, client: &Client) -> Option<String> {
    let mut params = emulator.authorize_params("openid User.Read");
    params.push(("prompt".into(), "none".into()));
    let response = client.get(emulator.tenant_url("oauth2/v2.0/authorize")).query(&params).send().await.unwrap();
    query(&url::Url::parse(location(&response)).unwrap()).get("error").cloned()
}

async fn logout(emulator: &Emulator, client: &Client) -> reqwest::Response {
    client
        .get(emulator.tenant_url("oauth2/v2.0/logout"))
        .query(&[("client_id", emulator.client_id.as_str()), ("post_logout_redirect_uri", "http://app.test/signed-out")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_out_ends_the_emulator_session() {
    let emulator = Emulator::start().await;
    let client = browser();
    sign_in(&emulator, &client).await;
    assert_eq!(silent_sign_in_error(&emulator, &client).await, None, "signed in: prompt=none works");
    let response = logout(&emulator, &client).await;
    assert_eq!(location(&response), "http://app.test/signed-out");
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(silent_sign_in_error(&emulator, &client).await.as_deref(), Some("login_required"));
}

#[tokio::test]
async fn front_channel_logout_urls_are_loaded_with_iss_and_sid_before_returning() {
    let mut config = idweb_emulator::EmulatorConfig::default();
    config.apps[0].front_channel_logout_uri = Some("http://app.test/front-channel-logout".into());
    let emulator = Emulator::start_with(config).await;
    let client = browser();
    let id_claims = sign_in(&emulator, &client).await;
    let response = logout(&emulator, &client).await;
    assert_eq!(response.status(), 200, "a page, so the iframes can load");
    let html = response.text().await.unwrap();
    let sid = id_claims["sid"].as_str().unwrap();
    let issuer = url::form_urlencoded::byte_serialize(emulator.running.authority().as_bytes()).collect::<String>();
    assert!(html.contains(&format!("<iframe class=\"front-channel\" src=\"http://app.test/front-channel-logout?iss={issuer}&amp;sid={sid}\"")), "{html}");
    assert!(html.contains("href=\"http://app.test/signed-out\""), "then back to the app");
}

#[tokio::test]
async fn revoking_a_users_tokens_also_ends_their_emulator_sessions() {
    let emulator = Emulator::start().await;
    let client = browser();
    sign_in(&emulator, &client).await;
    emulator.admin(&format!("users/{ADELE_OID}/refresh-tokens/revoke"), serde_json::json!({})).await;
    assert_eq!(silent_sign_in_error(&emulator, &client).await.as_deref(), Some("login_required"));
}
