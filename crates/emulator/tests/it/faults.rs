//! Fault injection through the admin API: each fault the security matrix
//! needs, produced on demand, then spent.

use crate::support;

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use support::*;

const FULL_SCOPE: &str = "openid profile offline_access User.Read";

#[tokio::test]
async fn an_injected_token_error_carries_suberror_and_claims_once() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for(FULL_SCOPE).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let claims = r#"{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}"#;
    let armed = emulator
        .admin(
            "faults/token",
            json!({ "grantType": "refresh_token", "error": { "error": "interaction_required", "suberror": "basic_action", "claims": claims } }),
        )
        .await;
    assert_eq!(armed.status(), 200);

    let refused = emulator.refresh(refresh_token, "User.Read").await;
    let body = assert_oauth_error(refused, 400, "interaction_required", 50076).await;
    assert_eq!(body["suberror"], "basic_action");
    assert_eq!(body["claims"], claims);
    assert_eq!(emulator.refresh(refresh_token, "User.Read").await.status(), 200, "the fault was spent");
}

#[tokio::test]
async fn a_token_fault_for_one_grant_type_leaves_the_others_alone() {
    let emulator = Emulator::start().await;
    emulator.admin("faults/token", json!({ "grantType": "refresh_token", "error": { "error": "invalid_grant" } })).await;
    let tokens = emulator.tokens_for(FULL_SCOPE).await;
    let refused = emulator.refresh(tokens["refresh_token"].as_str().unwrap(), "User.Read").await;
    assert_oauth_error(refused, 400, "invalid_grant", 50173).await;
}

#[tokio::test]
async fn a_provider_outage_answers_5xx_count_times() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for(FULL_SCOPE).await;
    emulator
        .admin("faults/token", json!({ "count": 2, "error": { "error": "temporarily_unavailable", "status": 503 } }))
        .await;
    assert_oauth_error(emulator.redeem(&code).await, 503, "temporarily_unavailable", 90033).await;
    let second_code = emulator.code_for(FULL_SCOPE).await;
    assert_eq!(emulator.redeem(&second_code).await.status(), 503);
    let third_code = emulator.code_for(FULL_SCOPE).await;
    assert_eq!(emulator.redeem(&third_code).await.status(), 200);
}

#[tokio::test]
async fn a_slow_provider_trips_the_client_timeout() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for(FULL_SCOPE).await;
    emulator.admin("faults/token", json!({ "delayMs": 5000 })).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let attempt = impatient
        .post(emulator.tenant_url("oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", emulator.client_id.as_str()),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await;
    assert!(attempt.unwrap_err().is_timeout());
}

/// Redeems a fresh code after arming `mutation`; returns the ID token.
async fn spoiled_id_token(emulator: &Emulator, mutation: &str) -> String {
    let armed = emulator.admin("faults/id-token", json!({ "mutation": mutation })).await;
    assert_eq!(armed.status(), 200, "{mutation} is a known mutation");
    let tokens = emulator.tokens_for(FULL_SCOPE).await;
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// Verifies an ID token the way a relying party must; the error if it fails.
async fn verify(emulator: &Emulator, id_token: &str) -> Result<serde_json::Value, String> {
    let jwks = emulator.jwks().await;
    let header = jsonwebtoken::decode_header(id_token).map_err(|error| error.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let key = jwks["keys"].as_array().unwrap().iter().find(|key| key["kid"] == kid.as_str()).ok_or("unknown kid")?;
    let decoding = DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&emulator.client_id]);
    validation.set_issuer(&[emulator.running.authority()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(id_token, &decoding, &validation)
        .map_err(|error| error.to_string())?
        .claims;
    // jsonwebtoken cannot require iat; a relying party must (IDT-04).
    if !claims["iat"].is_u64() {
        return Err("no iat".into());
    }
    if claims["nonce"] != "nonce-456" {
        return Err("nonce mismatch".into());
    }
    Ok(claims)
}

#[tokio::test]
async fn every_id_token_mutation_fails_verification_and_only_the_next_token_is_spoiled() {
    let emulator = Emulator::start().await;
    assert!(verify(&emulator, emulator.tokens_for(FULL_SCOPE).await["id_token"].as_str().unwrap()).await.is_ok());
    for mutation in [
        "wrong_issuer",
        "wrong_audience",
        "missing_audience",
        "wrong_nonce",
        "missing_nonce",
        "missing_subject",
        "missing_iat",
        "expired",
        "bad_signature",
        "alg_none",
        "hs256",
        "unknown_kid",
    ] {
        let token = spoiled_id_token(&emulator, mutation).await;
        assert!(verify(&emulator, &token).await.is_err(), "{mutation} must fail verification");
    }
    let clean = emulator.tokens_for(FULL_SCOPE).await;
    assert!(verify(&emulator, clean["id_token"].as_str().unwrap()).await.is_ok(), "faults are spent");
}

#[tokio::test]
async fn id_token_mutations_change_what_they_say() {
    let emulator = Emulator::start().await;
    let alg_none = spoiled_id_token(&emulator, "alg_none").await;
    assert_eq!(header(&alg_none)["alg"], "none");
    assert!(alg_none.ends_with('.'), "no signature");
    assert_eq!(header(&spoiled_id_token(&emulator, "hs256").await)["alg"], "HS256");
    let unknown = spoiled_id_token(&emulator, "unknown_kid").await;
    let published: Vec<String> = emulator.jwks().await["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_owned()).collect();
    assert!(!published.contains(&header(&unknown)["kid"].as_str().unwrap().to_owned()));
    let other = claims(&spoiled_id_token(&emulator, "other_user").await);
    assert_ne!(other["oid"], ADELE_OID);
    assert_ne!(other["name"], "Adele Vance");
    let subject = claims(&spoiled_id_token(&emulator, "wrong_subject").await);
    assert_eq!(subject["oid"], ADELE_OID, "only sub changes");
    assert!(claims(&spoiled_id_token(&emulator, "unexpected_azp").await)["azp"].is_string());
    let expired = claims(&spoiled_id_token(&emulator, "expired").await);
    assert!(expired["exp"].as_u64().unwrap() < idweb_emulator::tokens::now_secs());
}

#[tokio::test]
async fn an_unknown_mutation_or_field_is_refused_by_name() {
    let emulator = Emulator::start().await;
    let response = emulator.admin("faults/id-token", json!({ "mutation": "sideways" })).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("sideways"));
    let response = emulator.admin("faults/token", json!({ "delay": 5 })).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("delay"));
}

#[tokio::test]
async fn the_authorization_response_carries_iss_unless_told_otherwise() {
    let emulator = Emulator::start().await;
    let params = emulator.authorize_params(FULL_SCOPE);
    let normal = query(&emulator.authorize_as(&params, ADELE_OID).await);
    assert_eq!(normal["iss"], emulator.running.authority(), "RFC 9207");

    emulator.admin("faults/authorize-iss", json!({ "iss": "https://attacker.example/v2.0" })).await;
    let mixed_up = query(&emulator.authorize_as(&params, ADELE_OID).await);
    assert_eq!(mixed_up["iss"], "https://attacker.example/v2.0");

    emulator.admin("faults/authorize-iss", json!({ "iss": null })).await;
    let omitted = query(&emulator.authorize_as(&params, ADELE_OID).await);
    assert!(!omitted.contains_key("iss"));
    assert!(omitted.contains_key("code"));
}

#[tokio::test]
async fn rotating_keys_publishes_a_new_signing_key_and_keeps_the_old_one() {
    let emulator = Emulator::start().await;
    let before = emulator.tokens_for(FULL_SCOPE).await;
    let old_kid = header(before["id_token"].as_str().unwrap())["kid"].clone();
    let rotated: serde_json::Value = emulator.admin("keys/rotate", json!({})).await.json().await.unwrap();
    let new_kid = rotated["signingKid"].clone();
    assert_ne!(new_kid, old_kid);

    let kids: Vec<serde_json::Value> = emulator.jwks().await["keys"].as_array().unwrap().iter().map(|key| key["kid"].clone()).collect();
    assert_eq!(kids, vec![new_kid.clone(), old_kid], "two keys: the new signing key first, the previous beside it");
    let after = emulator.tokens_for(FULL_SCOPE).await;
    assert_eq!(header(after["id_token"].as_str().unwrap())["kid"], new_kid);
    assert!(verify(&emulator, before["id_token"].as_str().unwrap()).await.is_ok(), "old tokens still verify");

    // Graph accepts access tokens signed by either published key.
    for tokens in [&before, &after] {
        let me = emulator.http.get(emulator.url("v1.0/me")).bearer_auth(tokens["access_token"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(me.status(), 200);
    }
}

#[tokio::test]
async fn revoked_and_expired_refresh_tokens_are_refused_like_entra() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for(FULL_SCOPE).await;
    let revoked: serde_json::Value = emulator.admin(&format!("users/{ADELE_OID}/refresh-tokens/revoke"), json!({})).await.json().await.unwrap();
    assert_eq!(revoked["revoked"], 1);
    let body = assert_oauth_error(emulator.refresh(tokens["refresh_token"].as_str().unwrap(), "User.Read").await, 400, "invalid_grant", 50173).await;
    assert_eq!(body["suberror"], "bad_token");

    let fresh = emulator.tokens_for(FULL_SCOPE).await;
    emulator.admin(&format!("users/{ADELE_OID}/refresh-tokens/expire"), json!({})).await;
    assert_oauth_error(emulator.refresh(fresh["refresh_token"].as_str().unwrap(), "User.Read").await, 400, "invalid_grant", 700082).await;

    let unknown_user = emulator.admin("users/00000000-0000-0000-0000-000000000000/refresh-tokens/revoke", json!({})).await;
    assert_eq!(unknown_user.status(), 404);
}

#[tokio::test]
async fn the_admin_api_lists_and_clears_what_is_armed() {
    let emulator = Emulator::start().await;
    emulator.admin("faults/api", json!({ "kind": "throttle", "retryAfterSecs": 2 })).await;
    emulator.admin("faults/id-token", json!({ "mutation": "expired", "count": 3 })).await;
    let overview: serde_json::Value = emulator.http.get(emulator.url("_emulator")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["armed"]["idToken"][0]["count"], 3);
    assert_eq!(overview["armed"]["api"][0]["kind"], "throttle");
    let cleared: serde_json::Value = emulator.http.delete(emulator.url("_emulator/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cleared["armed"]["idToken"], json!([]));
    assert_eq!(cleared["armed"]["api"], json!([]));
}

#[tokio::test]
async fn the_admin_api_refuses_peers_that_are_not_loopback() {
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    let emulator = Emulator::start().await;
    let router = idweb_emulator::router(emulator.running.state().clone());
    let request = |peer: &str| {
        let mut request = axum::http::Request::get("/_emulator").body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(peer.parse::<std::net::SocketAddr>().unwrap()));
        request
    };
    assert_eq!(router.clone().oneshot(request("192.0.2.10:5000")).await.unwrap().status(), 403);
    assert_eq!(router.oneshot(request("127.0.0.1:5000")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_claims_policy_judges_each_token_by_what_it_carries() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for(FULL_SCOPE).await;
    let old_token = tokens["access_token"].as_str().unwrap().to_owned();
    let issued_at = claims(&old_token)["iat"].as_u64().unwrap();
    let policy = format!(r#"{{"access_token":{{"nbf":{{"essential":true,"value":"{}"}}}}}}"#, issued_at + 1);
    assert_eq!(emulator.admin("policies/claims", json!({ "claims": policy })).await.status(), 200);
    let me = |token: String| {
        let url = emulator.url("v1.0/me");
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap() }
    };
    let challenged = me(old_token.clone()).await;
    assert_eq!(challenged.status(), 401);
    let www_authenticate = challenged.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www_authenticate.contains("insufficient_claims"), "{www_authenticate}");
    assert_eq!(me(old_token.clone()).await.status(), 401, "the same token again: challenged again, no counter runs out");

    assert_eq!(emulator.admin("policies/claims", json!({ "claims": null })).await.status(), 200);
    assert_eq!(me(old_token).await.status(), 200, "lifted");
    let refused = emulator.admin("policies/claims", json!({ "claims": "not json" })).await;
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn a_step_up_cannot_be_had_by_refresh() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for(FULL_SCOPE).await;
    let claims_request = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let refused = emulator
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "User.Read"),
            ("claims", claims_request),
            ("client_id", &emulator.client_id),
            ("client_secret", SECRET),
        ])
        .await;
    let body = assert_oauth_error(refused, 400, "interaction_required", 50076).await;
    assert_eq!(body["claims"], claims_request);
}
