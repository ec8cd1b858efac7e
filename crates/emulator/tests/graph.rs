//! Graph `/v1.0/me`, guarded like a real resource server.

mod support;

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
    let token = jsonwebtoken::encode(&jwt_header, &expired, &key.encoding).unwrap();
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
