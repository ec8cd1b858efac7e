//! Graph `/v1.0/me`, guarded like a real resource server.

use crate::support;

use support::*;

async fn me(emulator: &Emulator, token: Option<&str>, select: Option<&str>) -> reqwest::Response {
    let mut request = emulator.http.get(emulator.url("v1.0/me"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(select) = select {
        request = request.query(&[("$select", select)]);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn me_returns_the_signed_in_user() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid User.Read").await;
    let response = me(&emulator, tokens["access_token"].as_str(), None).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["displayName"], "Adele Vance");
    assert_eq!(body["mail"], "AdeleV@contoso.example");
    assert_eq!(body["jobTitle"], "Retail Manager");
    assert_eq!(body["id"], ADELE_OID);
    assert!(body["@odata.context"].as_str().unwrap().ends_with("v1.0/$metadata#users/$entity"));
}

#[tokio::test]
async fn select_limits_the_fields() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid User.Read").await;
    let body: serde_json::Value = me(&emulator, tokens["access_token"].as_str(), Some("displayName,mail")).await.json().await.unwrap();
    let mut fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(fields, vec!["@odata.context", "displayName", "mail"]);
}

#[tokio::test]
async fn missing_or_bad_tokens_get_401_with_a_challenge() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid User.Read").await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let access = tokens["access_token"].as_str().unwrap();
    let tampered = format!("{}x", &access[..access.len() - 1]);
    for token in [None, Some("garbage"), Some(id_token.as_str()), Some(tampered.as_str())] {
        let response = me(&emulator, token, None).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("authorization_uri="));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        assert!(body["error"]["innerError"]["request-id"].is_string());
    }
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid User.Read").await;
    // The same claims, expired an hour ago (beyond the leeway), signed with the emulator's own key.
    let mut expired = claims(tokens["access_token"].as_str().unwrap());
    let now = idweb_emulator::tokens::now_secs();
    expired["iat"] = (now - 7200).into();
    expired["nbf"] = (now - 7200).into();
    expired["exp"] = (now - 3600).into();
    let key = emulator.running.state().keys.signing();
    let mut jwt_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jwt_header.kid = Some(key.kid.clone());
    let token = key.sign_jwt(&jwt_header, &expired).unwrap();
    let response = me(&emulator, Some(&token), None).await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("xpired"), "{body}");
}

#[tokio::test]
async fn a_token_without_a_profile_scope_gets_403() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid Mail.Read").await;
    let response = me(&emulator, tokens["access_token"].as_str(), None).await;
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
}

async fn get_with(emulator: &Emulator, path: &str, token: &str) -> reqwest::Response {
    emulator.http.get(emulator.url(path)).bearer_auth(token).send().await.unwrap()
}

#[tokio::test]
async fn the_photo_is_a_png_generated_per_user() {
    let emulator = Emulator::start().await;
    let token = emulator.tokens_for("openid User.Read").await["access_token"].as_str().unwrap().to_owned();
    let response = get_with(&emulator, "v1.0/me/photo/$value", &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(bytes, get_with(&emulator, "v1.0/me/photo/$value", &token).await.bytes().await.unwrap(), "the same every time");
    let other = idweb_emulator::graph::me::identicon_png("2b7c4e10-9d3f-4a8b-b6c2-5e1d0f9a3b02").unwrap();
    assert_ne!(bytes.to_vec(), other, "different users, different pictures");
}

#[tokio::test]
async fn messages_need_mail_read_and_come_in_pages_with_a_next_link() {
    let emulator = Emulator::start().await;
    let profile_only = emulator.tokens_for("openid User.Read").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get_with(&emulator, "v1.0/me/messages", &profile_only).await.status(), 403);

    let token = emulator.tokens_for("openid Mail.Read").await["access_token"].as_str().unwrap().to_owned();
    let first: serde_json::Value = get_with(&emulator, "v1.0/me/messages?$top=10", &token).await.json().await.unwrap();
    let messages = first["value"].as_array().unwrap();
    assert_eq!(messages.len(), 10);
    assert!(messages[0]["receivedDateTime"].as_str().unwrap() > messages[9]["receivedDateTime"].as_str().unwrap(), "newest first");
    assert!(messages[0]["from"]["emailAddress"]["address"].is_string());

    let mut seen = messages.len();
    let mut next = first["@odata.nextLink"].as_str().map(str::to_owned);
    while let Some(link) = next {
        let page: serde_json::Value = emulator.http.get(&link).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        seen += page["value"].as_array().unwrap().len();
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 25, "every message once, then no next link");

    let bad = get_with(&emulator, "v1.0/me/messages?$top=0", &token).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("page size"));
}

#[tokio::test]
async fn listing_users_needs_an_app_token_with_user_read_all() {
    let emulator = Emulator::start().await;
    let delegated = emulator.tokens_for("openid User.Read").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get_with(&emulator, "v1.0/users", &delegated).await.status(), 403);
    let app: serde_json::Value = emulator
        .token(&[("grant_type", "client_credentials"), ("client_id", &emulator.client_id), ("client_secret", SECRET), ("scope", "https://graph.microsoft.com/.default")])
        .await
        .json()
        .await
        .unwrap();
    let users: serde_json::Value = get_with(&emulator, "v1.0/users?$top=2", app["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(users["value"].as_array().unwrap().len(), 2);
    assert!(users["@odata.nextLink"].as_str().unwrap().contains("$skip=2"));
}

#[tokio::test]
async fn armed_api_faults_answer_challenges_throttling_and_outages_then_recover() {
    use base64::Engine;
    let emulator = Emulator::start().await;
    let token = emulator.tokens_for("openid User.Read").await["access_token"].as_str().unwrap().to_owned();
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    emulator.admin("faults/api", serde_json::json!({ "kind": "claims_challenge", "claims": claims })).await;
    emulator.admin("faults/api", serde_json::json!({ "kind": "throttle", "retryAfterSecs": 7 })).await;
    emulator.admin("faults/api", serde_json::json!({ "kind": "status", "status": 503, "retryAfterSecs": 2 })).await;

    let challenged = get_with(&emulator, "v1.0/me", &token).await;
    assert_eq!(challenged.status(), 401);
    let challenge = challenged.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"insufficient_claims\""), "{challenge}");
    let encoded = challenge.split("claims=\"").nth(1).unwrap().trim_end_matches('"');
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(), claims.as_bytes());

    let throttled = get_with(&emulator, "v1.0/me", &token).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
    let outage = get_with(&emulator, "v1.0/me", &token).await;
    assert_eq!(outage.status(), 503);
    assert_eq!(outage.headers()["retry-after"], "2");
    let body: serde_json::Value = outage.json().await.unwrap();
    assert_eq!(body["error"]["code"], "serviceNotAvailable");
    assert_eq!(get_with(&emulator, "v1.0/me", &token).await.status(), 200, "every fault was spent");
}
