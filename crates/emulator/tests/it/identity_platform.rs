//! The identity platform endpoints over real HTTP: discovery, keys,
//! authorize, token, logout.

use crate::support;

use idweb_emulator::store::CodeGrant;
use idweb_emulator::tokens::now_secs;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use support::*;

#[tokio::test]
async fn discovery_describes_the_tenant_like_microsoft() {
    let emulator = Emulator::start().await;
    let doc: serde_json::Value = emulator
        .http
        .get(emulator.tenant_url("v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], emulator.running.authority());
    assert_eq!(doc["token_endpoint"], emulator.tenant_url("oauth2/v2.0/token"));
    assert_eq!(doc["end_session_endpoint"], emulator.tenant_url("oauth2/v2.0/logout"));
    assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));

    // The domain works in place of the GUID; the issuer stays the GUID form.
    let by_domain: serde_json::Value = emulator
        .http
        .get(emulator.url("contoso.example/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_domain["issuer"], emulator.running.authority());
}

#[tokio::test]
async fn an_unknown_tenant_is_refused() {
    let emulator = Emulator::start().await;
    let response = emulator.http.get(emulator.url("not-our-tenant/v2.0/.well-known/openid-configuration")).send().await.unwrap();
    assert_oauth_error(response, 400, "invalid_tenant", 90002).await;
}

#[tokio::test]
async fn the_generic_openidconnect_client_discovers_the_provider() {
    use openidconnect::core::CoreProviderMetadata;
    use openidconnect::IssuerUrl;
    let emulator = Emulator::start().await;
    let issuer = IssuerUrl::new(emulator.running.authority()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &emulator.http).await.unwrap();
    assert_eq!(metadata.jwks().keys().len(), 2, "the JWKS (signing key and the one before it) was fetched and parsed");
    assert_eq!(metadata.authorization_endpoint().as_str(), emulator.tenant_url("oauth2/v2.0/authorize"));
}

#[tokio::test]
async fn the_sign_in_page_lists_users_and_escapes_what_the_request_carried() {
    let emulator = Emulator::start().await;
    let mut params = emulator.authorize_params("openid profile");
    params.retain(|(name, _)| name != "state");
    params.push(("state".into(), "\"><script>alert(1)</script>".into()));
    let response = emulator.http.get(emulator.tenant_url("oauth2/v2.0/authorize")).query(&params).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for name in ["Adele Vance", "Alex Wilber", "Megan Bowen", "idweb (development)"] {
        assert!(html.contains(name), "{name} listed");
    }
    assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(!html.contains("<script>alert(1)"));
}

#[tokio::test]
async fn an_unknown_client_or_unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let emulator = Emulator::start().await;
    let mut unknown_client = emulator.authorize_params("openid");
    unknown_client[0].1 = "00000000-0000-0000-0000-000000000000".into();
    let response = emulator.http.get(emulator.tenant_url("oauth2/v2.0/authorize")).query(&unknown_client).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("AADSTS700016"));

    let mut foreign_redirect = emulator.authorize_params("openid");
    foreign_redirect[2].1 = "https://evil.example/steal".into();
    let response = emulator.http.get(emulator.tenant_url("oauth2/v2.0/authorize")).query(&foreign_redirect).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("AADSTS50011"));
}

#[tokio::test]
async fn bad_authorize_parameters_are_sent_back_to_the_app_with_the_state() {
    let emulator = Emulator::start().await;
    for (name, value, error) in [
        ("response_type", "token", "unsupported_response_type"),
        ("code_challenge_method", "plain", "invalid_request"),
        ("scope", "profile", "invalid_request"),
    ] {
        let mut params = emulator.authorize_params("openid profile");
        params.retain(|(key, _)| key != name);
        params.push((name.into(), value.into()));
        let response = emulator.http.get(emulator.tenant_url("oauth2/v2.0/authorize")).query(&params).send().await.unwrap();
        let redirect = url::Url::parse(location(&response)).unwrap();
        let answer = query(&redirect);
        assert_eq!(answer["error"], error, "{name}={value}");
        assert_eq!(answer["state"], "state-123");
    }
}

#[tokio::test]
async fn cancelling_sign_in_answers_access_denied() {
    let emulator = Emulator::start().await;
    let mut form = emulator.authorize_params("openid");
    form.push(("cancel".into(), "1".into()));
    let response = emulator.http.post(emulator.tenant_url("oauth2/v2.0/authorize")).form(&form).send().await.unwrap();
    let redirect = url::Url::parse(location(&response)).unwrap();
    assert!(redirect.as_str().starts_with(REDIRECT_URI));
    let answer = query(&redirect);
    assert_eq!(answer["error"], "access_denied");
    assert_eq!(answer["state"], "state-123");
    assert!(!answer.contains_key("code"));
}

#[tokio::test]
async fn the_code_flow_issues_microsoft_shaped_tokens_signed_with_the_published_key() {
    let emulator = Emulator::start().await;
    let redirect = emulator.authorize_as(&emulator.authorize_params("openid profile offline_access User.Read"), ADELE_OID).await;
    let answer = query(&redirect);
    assert_eq!(answer["state"], "state-123");
    assert!(answer["code"].len() >= 43);

    let response = emulator.redeem(&answer["code"]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body["ext_expires_in"].is_u64());
    assert!(body["refresh_token"].is_string());
    assert!(body["scope"].as_str().unwrap().contains("User.Read"));
    let client_info = claims(&format!("x.{}.x", body["client_info"].as_str().unwrap()));
    assert_eq!(client_info["uid"], ADELE_OID);
    assert_eq!(client_info["utid"], emulator.running.tenant_id());

    let jwks: serde_json::Value = emulator.http.get(emulator.tenant_url("discovery/v2.0/keys")).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(header(id_token)["kid"], key["kid"], "the ID token names the published key");
    let decoding = DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&emulator.client_id]);
    validation.set_issuer(&[emulator.running.authority()]);
    let verified = jsonwebtoken::decode::<serde_json::Value>(id_token, &decoding, &validation).unwrap().claims;
    assert_eq!(verified["nonce"], "nonce-456");
    assert_eq!(verified["oid"], ADELE_OID);
    assert_eq!(verified["tid"], emulator.running.tenant_id());
    assert_eq!(verified["ver"], "2.0");
    assert_eq!(verified["name"], "Adele Vance");
    assert_eq!(verified["preferred_username"], "AdeleV@contoso.example");
    for claim in ["sub", "iat", "nbf", "exp", "sid"] {
        assert!(!verified[claim].is_null(), "{claim} present");
    }

    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], idweb_emulator::GRAPH_APP_ID);
    assert_eq!(access["scp"], "User.Read");
    assert_eq!(access["azp"], emulator.client_id);
    assert_eq!(emulator.running.token_requests(), 1);
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for("openid").await;
    let response = emulator
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &emulator.client_id),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", "some-other-verifier-that-does-not-match-the-challenge"),
        ])
        .await;
    assert_oauth_error(response, 400, "invalid_grant", 501481).await;
}

#[tokio::test]
async fn a_code_redeemed_twice_is_refused_the_second_time() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for("openid").await;
    assert_eq!(emulator.redeem(&code).await.status(), 200);
    assert_oauth_error(emulator.redeem(&code).await, 400, "invalid_grant", 54005).await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let emulator = Emulator::start().await;
    emulator.running.state().grants.insert_code(
        "expired-code".into(),
        CodeGrant {
            client_id: emulator.client_id.clone(),
            redirect_uri: REDIRECT_URI.into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            claims: None,
            user_oid: ADELE_OID.into(),
            session_id: "sid".into(),
            expires_at: now_secs() - 1,
            redeemed: false,
        },
    );
    assert_oauth_error(emulator.redeem("expired-code").await, 400, "invalid_grant", 70008).await;
    assert_oauth_error(emulator.redeem("never-issued").await, 400, "invalid_grant", 9002313).await;
}

#[tokio::test]
async fn a_token_request_with_another_redirect_uri_is_refused() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for("openid").await;
    let response = emulator
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &emulator.client_id),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", "http://app.test/other"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_oauth_error(response, 400, "invalid_grant", 500112).await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_with_401() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for("openid").await;
    let response = emulator
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &emulator.client_id),
            ("client_secret", "wrong"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_oauth_error(response, 401, "invalid_client", 7000215).await;
    // Client authentication failed before the code was looked at: it still works.
    assert_eq!(emulator.redeem(&code).await.status(), 200);
}

#[tokio::test]
async fn client_secret_basic_is_accepted() {
    let emulator = Emulator::start().await;
    let code = emulator.code_for("openid").await;
    let response = emulator
        .http
        .post(emulator.tenant_url("oauth2/v2.0/token"))
        .basic_auth(&emulator.client_id, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_keeps_the_old_one_and_drops_the_nonce() {
    let emulator = Emulator::start().await;
    let first = emulator.tokens_for("openid profile offline_access User.Read").await;
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let refresh = |token: String| {
        let emulator = &emulator;
        async move { emulator.refresh(&token, "User.Read offline_access openid").await }
    };
    let response = refresh(old_refresh.to_owned()).await;
    assert_eq!(response.status(), 200);
    let second: serde_json::Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    let id_claims = claims(second["id_token"].as_str().unwrap());
    assert!(id_claims.get("nonce").is_none(), "refreshed ID tokens carry no nonce");
    assert_eq!(id_claims["oid"], ADELE_OID);
    assert_eq!(refresh(old_refresh.to_owned()).await.status(), 200, "the old refresh token stays valid, like Entra");

    let bogus = refresh("not-a-refresh-token".into()).await;
    assert_oauth_error(bogus, 400, "invalid_grant", 9002313).await;
}

#[tokio::test]
async fn refreshing_for_a_scope_never_consented_needs_consent() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid offline_access User.Read").await;
    let response = emulator.refresh(tokens["refresh_token"].as_str().unwrap(), "Mail.Read").await;
    let body = assert_oauth_error(response, 400, "invalid_grant", 65001).await;
    assert_eq!(body["suberror"], "consent_required");
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let emulator = Emulator::start().await;
    let tokens = emulator.tokens_for("openid profile User.Read").await;
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn logout_returns_only_to_a_registered_address() {
    let emulator = Emulator::start().await;
    let registered = emulator
        .http
        .get(emulator.tenant_url("oauth2/v2.0/logout"))
        .query(&[("client_id", emulator.client_id.as_str()), ("post_logout_redirect_uri", "http://app.test/signed-out"), ("state", "s1")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&registered), "http://app.test/signed-out?state=s1");

    let foreign = emulator
        .http
        .get(emulator.tenant_url("oauth2/v2.0/logout"))
        .query(&[("client_id", emulator.client_id.as_str()), ("post_logout_redirect_uri", "https://evil.example/<x>")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert!(foreign.headers().get("location").is_none());
    let page = foreign.text().await.unwrap();
    assert!(page.contains("You signed out"));
    assert!(page.contains("https://evil.example/&lt;x&gt;"));
}

async fn discovery_at(emulator: &Emulator, tenant: &str) -> serde_json::Value {
    let url = emulator.url(&format!("{tenant}/v2.0/.well-known/openid-configuration"));
    emulator.http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn multi_tenant_aliases_publish_microsofts_issuers() {
    let emulator = Emulator::start().await;
    let template = emulator.url("{tenantid}/v2.0");
    for alias in ["common", "organizations"] {
        let doc = discovery_at(&emulator, alias).await;
        assert_eq!(doc["issuer"], template, "{alias} publishes the {{tenantid}} template");
        assert_eq!(doc["token_endpoint"], emulator.url(&format!("{alias}/oauth2/v2.0/token")));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    }
    let consumers = discovery_at(&emulator, "consumers").await;
    assert_eq!(consumers["issuer"], emulator.url("9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"));
}

#[tokio::test]
async fn a_sign_in_through_organizations_gets_tokens_from_the_users_own_tenant() {
    let emulator = Emulator::start().await;
    let mut form = emulator.authorize_params("openid profile User.Read");
    form.push(("user_oid".into(), ADELE_OID.into()));
    let response = emulator.http.post(emulator.url("organizations/oauth2/v2.0/authorize")).form(&form).send().await.unwrap();
    let answer = query(&url::Url::parse(location(&response)).unwrap());
    assert_eq!(answer["iss"], emulator.url("{tenantid}/v2.0"), "RFC 9207 iss is the issuer of the metadata used");
    let redeemed = emulator
        .http
        .post(emulator.url("organizations/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", emulator.client_id.as_str()),
            ("client_secret", SECRET),
            ("code", answer["code"].as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 200);
    let body: serde_json::Value = redeemed.json().await.unwrap();
    let id_claims = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id_claims["iss"], emulator.running.authority(), "tokens name the real tenant");
    assert_eq!(id_claims["tid"], emulator.running.tenant_id());
}

#[tokio::test]
async fn the_consumers_endpoint_refuses_the_emulated_work_accounts() {
    let emulator = Emulator::start().await;
    let params = emulator.authorize_params("openid profile");
    let response = emulator.http.get(emulator.url("consumers/oauth2/v2.0/authorize")).query(&params).send().await.unwrap();
    let answer = query(&url::Url::parse(location(&response)).unwrap());
    assert_eq!(answer["error"], "invalid_request");
    assert!(answer["error_description"].starts_with("AADSTS50020"));
    assert_eq!(answer["state"], "state-123");
}
