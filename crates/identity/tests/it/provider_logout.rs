//! Logout started by the provider: front-channel (OUT-02) and back-channel
//! (OUT-03) requests end the named sessions server-side and remove the
//! user's cached tokens; anything not from the provider is refused.

use crate::support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use idweb_identity::PartitionKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{back_channel, client_id, front_channel, signed_in, user_object_id, Browser, TestApp, ADELE, ALEX};

/// A browser that signed in as `name`, and the provider session (`sid`) it got.
async fn signed_in_browser(app: &TestApp, name: &str) -> (Browser, String) {
    let browser = app.browser();
    browser.sign_in(name).await;
    assert_eq!(browser.whoami().await, name);
    let sids = app.emulator.state().sso.sids_of(&user_object_id(name));
    assert_eq!(sids.len(), 1, "one provider session per browser here");
    (browser, sids[0].clone())
}

async fn has_tokens(app: &TestApp, name: &str) -> bool {
    let user = signed_in(name, app.emulator.tenant_id());
    app.identity.cache().load(&PartitionKey::User(user.home_account_id)).await.unwrap().is_some()
}


#[tokio::test]
async fn out_02_a_front_channel_logout_ends_that_provider_session_and_the_users_tokens() {
    let app = TestApp::start().await;
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    let (alex, _) = signed_in_browser(&app, ALEX).await;
    assert!(has_tokens(&app, ADELE).await);

    let response = front_channel(&app, &support::issuer(&app), &sid).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let provider_origin = app.emulator.base_url().trim_end_matches('/').to_owned();
    assert!(csp.contains(&format!("frame-ancestors {provider_origin}")), "the provider may frame it: {csp}");

    assert_eq!(adele.whoami().await, "nobody", "the session is ended server-side");
    assert!(!has_tokens(&app, ADELE).await, "and the user's tokens are gone");
    assert_eq!(alex.whoami().await, ALEX, "other users keep theirs");
    assert!(has_tokens(&app, ALEX).await);

    let again = front_channel(&app, &support::issuer(&app), &sid).await;
    assert_eq!(again.status(), StatusCode::OK, "idempotent");
}

#[tokio::test]
async fn out_02_the_providers_own_sign_out_page_reaches_the_receiver() {
    let app = TestApp::start().await;
    let (adele, _) = signed_in_browser(&app, ADELE).await;
    // The emulator's end-session page embeds each app's front-channel URL in an iframe.
    let logout = format!("{}{}/oauth2/v2.0/logout", app.emulator.base_url(), app.emulator.tenant_id());
    let page = adele.client.get(logout).send().await.unwrap().text().await.unwrap();
    let src = page.split("<iframe class=\"front-channel\" src=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("an iframe");
    let src = src.replace("&amp;", "&");
    // OUT-03 ran first (the emulator posts before answering); the iframe must still answer 200.
    assert_eq!(reqwest::get(&src).await.unwrap().status(), StatusCode::OK);
    assert_eq!(adele.whoami().await, "nobody");
}

#[tokio::test]
async fn out_02_a_front_channel_logout_from_another_issuer_is_refused() {
    let app = TestApp::start().await;
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    let response = front_channel(&app, "https://evil.example/tenant/v2.0", &sid).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(adele.whoami().await, ADELE);
    assert!(has_tokens(&app, ADELE).await);
}

#[tokio::test]
async fn out_02_without_iss_and_sid_nothing_ends_not_even_the_cookies_own_session() {
    let app = TestApp::start().await;
    let (adele, _) = signed_in_browser(&app, ADELE).await;
    let anonymous = reqwest::get(app.url.join("signout-oidc").unwrap()).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::BAD_REQUEST);
    // With the cookie (a link on another site, a same-site <img>): logout CSRF, refused.
    assert_eq!(adele.get("/signout-oidc").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(adele.get("/signout-oidc?sid=only-a-sid").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(adele.whoami().await, ADELE);
    assert!(has_tokens(&app, ADELE).await);
}

#[tokio::test]
async fn out_03_the_providers_back_channel_logout_ends_the_session_and_the_tokens() {
    let app = TestApp::start().await;
    let (adele, _) = signed_in_browser(&app, ADELE).await;
    let (alex, _) = signed_in_browser(&app, ALEX).await;
    // Sign-out at the provider from Adele's browser: the emulator posts a logout token to the app.
    let logout = format!("{}{}/oauth2/v2.0/logout", app.emulator.base_url(), app.emulator.tenant_id());
    adele.client.get(logout).send().await.unwrap();
    assert_eq!(adele.whoami().await, "nobody");
    assert!(!has_tokens(&app, ADELE).await);
    assert_eq!(alex.whoami().await, ALEX);
}

#[tokio::test]
async fn out_03_a_logout_token_naming_only_the_subject_ends_the_users_sessions() {
    let app = TestApp::start().await;
    let (first, _) = signed_in_browser(&app, ADELE).await;
    let second = app.browser();
    second.sign_in(ADELE).await;
    let subject = app.identity.cache().load(&PartitionKey::User(signed_in(ADELE, app.emulator.tenant_id()).home_account_id)).await.unwrap();
    assert!(subject.is_some());
    let sub = pairwise_subject(&app, ADELE).await;
    let token = app.emulator.state().minter().logout_token(&client_id(&app), None, Some(&sub));
    assert_eq!(back_channel(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(first.whoami().await, "nobody");
    assert_eq!(second.whoami().await, "nobody");
}

/// Adele's `sub` as the app saw it in her ID token (pairwise, per app).
async fn pairwise_subject(app: &TestApp, name: &str) -> String {
    let user = app.emulator.state().config.user(&user_object_id(name)).unwrap().clone();
    idweb_emulator::tokens::pairwise_subject(&user, &client_id(app))
}

#[tokio::test]
async fn out_03_bad_logout_tokens_are_refused_with_400_and_end_nothing() {
    let app = TestApp::start().await;
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    let state = app.emulator.state().clone();
    let minter = state.minter();
    let client = client_id(&app);
    let valid = minter.logout_claims(&client, Some(&sid), None);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        minter.sign_typed(&claims, "logout+jwt")
    };
    let now = idweb_emulator::tokens::now_secs();
    let hostile: Vec<(&str, String)> = vec![
        ("an ID token's typ", minter.sign_typed(&valid, "JWT")),
        ("no typ", unsigned_with_header(&json!({ "alg": "RS256" }), &valid, &minter.sign_typed(&valid, "logout+jwt"))),
        ("alg none", unsigned_with_header(&json!({ "alg": "none", "typ": "logout+jwt" }), &valid, "")),
        ("HS256 keyed with the client secret", hs256(&valid, &app.client_secret)),
        ("a bad signature", flip_signature(&minter.sign_typed(&valid, "logout+jwt"))),
        ("another issuer", with(&|claims| claims["iss"] = json!("https://evil.example/tenant/v2.0"))),
        ("another audience", with(&|claims| claims["aud"] = json!("another-client"))),
        ("expired", with(&|claims| claims["exp"] = json!(now - 3600))),
        ("issued long ago", with(&|claims| claims["iat"] = json!(now - 3600))),
        ("issued in the future", with(&|claims| claims["iat"] = json!(now + 3600))),
        ("no events claim", with(&|claims| drop(claims.as_object_mut().unwrap().remove("events")))),
        ("another event", with(&|claims| claims["events"] = json!({ "https://example.com/other-event": {} }))),
        ("neither sid nor sub", with(&|claims| drop(claims.as_object_mut().unwrap().remove("sid")))),
        ("a nonce", with(&|claims| claims["nonce"] = json!("n-0S6_WzA2Mj"))),
        ("no jti", with(&|claims| drop(claims.as_object_mut().unwrap().remove("jti")))),
        ("a sid that is not a string", with(&|claims| claims["sid"] = json!(42))),
        ("an empty sub", with(&|claims| claims["sub"] = json!(""))),
        ("an iat far in the past (overflow)", with(&|claims| claims["iat"] = json!(i64::MIN))),
        ("a critical header extension", unsigned_with_header(&json!({ "alg": "RS256", "typ": "logout+jwt", "crit": ["exp"] }), &valid, &minter.sign_typed(&valid, "logout+jwt"))),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (what, token) in hostile {
        let response = back_channel(&app, &token).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert_eq!(adele.whoami().await, ADELE, "{what} ended the session");
    }
    let missing = reqwest::Client::new().post(app.url.join("backchannel-logout").unwrap()).form(&[("other", "x")]).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST, "no logout_token");
    assert!(has_tokens(&app, ADELE).await);
}

#[tokio::test]
async fn out_03_a_replayed_logout_token_is_refused() {
    let app = TestApp::start().await;
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    let token = app.emulator.state().minter().logout_token(&client_id(&app), Some(&sid), None);
    assert_eq!(back_channel(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(adele.whoami().await, "nobody");
    assert_eq!(back_channel(&app, &token).await.status(), StatusCode::BAD_REQUEST, "the same jti again");
}

/// A token with `header`, `claims` and `signature` (base64url) as given.
fn unsigned_with_header(header: &Value, claims: &Value, signed_like: &str) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    let signature = signed_like.rsplit('.').next().unwrap_or_default();
    format!("{}.{}.{signature}", encode(header), encode(claims))
}

fn hs256(claims: &Value, secret: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("logout+jwt".into());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn flip_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 0x01;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[tokio::test]
async fn out_02_a_sign_in_of_a_provider_session_that_was_logged_out_completes_no_session() {
    let app = TestApp::start().await;
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    assert_eq!(front_channel(&app, &support::issuer(&app), &sid).await.status(), StatusCode::OK);
    assert_eq!(adele.whoami().await, "nobody");
    // A sign-in that carries the ended provider session (begun before the logout reached idweb).
    let late = adele.sign_in(ADELE).await;
    assert_eq!(app.emulator.state().sso.sids_of(&user_object_id(ADELE)), vec![sid], "the same provider session");
    assert!(support::location(&late).starts_with("/auth/error?reason="), "{}", support::location(&late));
    assert_eq!(adele.whoami().await, "nobody", "no session outlives the provider's logout");
    // Another browser (another provider session) signs in as usual.
    let other = app.browser();
    other.sign_in(ADELE).await;
    assert_eq!(other.whoami().await, ADELE);
}

/// The front-channel URL as a browser loads it for `destination` (`Sec-Fetch-Dest`).
async fn front_channel_as(app: &TestApp, sid: &str, destination: &str) -> reqwest::Response {
    let mut url = app.url.join("signout-oidc").unwrap();
    url.query_pairs_mut().append_pair("iss", &support::issuer(app)).append_pair("sid", sid);
    reqwest::Client::new().get(url).header("sec-fetch-dest", destination).send().await.unwrap()
}

#[tokio::test]
async fn out_02_a_front_channel_logout_is_acted_on_only_as_an_iframe_navigation() {
    let app = TestApp::start().await;
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    for destination in ["document", "image", "script", "empty"] {
        let refused = front_channel_as(&app, &sid, destination).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{destination}");
        assert_eq!(adele.whoami().await, ADELE, "a {destination} request ends nothing");
    }
    assert_eq!(front_channel_as(&app, &sid, "iframe").await.status(), StatusCode::OK);
    assert_eq!(adele.whoami().await, "nobody");
}

#[tokio::test]
async fn out_03_with_back_channel_logout_offered_front_channel_requests_end_nothing() {
    let app = TestApp::start().await;
    let mut fields = serde_json::Map::new();
    fields.insert("backchannel_logout_supported".into(), json!(true));
    app.emulator.faults().arm_discovery(idweb_emulator::faults::DiscoveryFault { fields, count: 1 }).unwrap();
    let (adele, sid) = signed_in_browser(&app, ADELE).await;
    let front = front_channel_as(&app, &sid, "iframe").await;
    assert_eq!(front.status(), StatusCode::OK, "answered, as the provider's page expects");
    assert_eq!(adele.whoami().await, ADELE, "but the signed logout token is what counts");
    let token = app.emulator.state().minter().logout_token(&client_id(&app), Some(&sid), None);
    assert_eq!(back_channel(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(adele.whoami().await, "nobody");
}
