//! The OpenID Foundation's relying-party conformance modules that apply to
//! a confidential client using the code flow, mirrored against the
//! emulator: each test is named after its module and produces the module's
//! condition with an emulator mode. docs/SECURITY.md has the table of every
//! module: the test that covers it, or why it does not apply.

use crate::support;

use idweb_emulator::faults::{DiscoveryFault, IdTokenFault, IdTokenMutation};
use idweb_identity::{IdentityError, PartitionKey, SignedInUser};
use reqwest::StatusCode;
use serde_json::json;
use support::{location, signed_in, TestApp, ADELE};

/// The callback's answer when the next ID token is spoiled by `mutation`.
async fn sign_in_with(app: &TestApp, mutation: IdTokenMutation) -> String {
    app.emulator.faults().arm_id_token(IdTokenFault { mutation, count: 1 }).unwrap();
    let browser = app.browser();
    let target = location(&browser.sign_in(ADELE).await).to_owned();
    if target != "/after" {
        assert_eq!(browser.whoami().await, "nobody", "{mutation:?}: refused, and no session");
    }
    target
}

async fn refused(mutation: IdTokenMutation) {
    let app = TestApp::start().await;
    assert_eq!(sign_in_with(&app, mutation).await, "/auth/error?reason=id_token_rejected", "{mutation:?}");
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0, "{mutation:?}: nothing cached");
}

#[tokio::test]
async fn oidcc_client_test() {
    let app = TestApp::start().await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.whoami().await, ADELE);
}

#[tokio::test]
async fn oidcc_client_test_nonce_invalid() {
    refused(IdTokenMutation::WrongNonce).await;
}

#[tokio::test]
async fn oidcc_client_test_invalid_iss() {
    refused(IdTokenMutation::WrongIssuer).await;
}

#[tokio::test]
async fn oidcc_client_test_invalid_aud() {
    refused(IdTokenMutation::WrongAudience).await;
}

#[tokio::test]
async fn oidcc_client_test_missing_sub() {
    refused(IdTokenMutation::MissingSubject).await;
}

#[tokio::test]
async fn oidcc_client_test_missing_iat() {
    refused(IdTokenMutation::MissingIat).await;
}

#[tokio::test]
async fn oidcc_client_test_invalid_sig_rs256() {
    refused(IdTokenMutation::BadSignature).await;
}

#[tokio::test]
async fn oidcc_client_test_invalid_sig_hs256() {
    refused(IdTokenMutation::Hs256).await;
}

#[tokio::test]
async fn oidcc_client_test_idtoken_sig_none() {
    refused(IdTokenMutation::AlgNone).await;
}

#[tokio::test]
async fn oidcc_client_test_kid_absent_single_jwks() {
    let app = TestApp::start().await;
    // Discovery's key set holds the signing key alone: a token without a kid has one key to be checked with.
    app.emulator.faults().single_jwks_key(1);
    assert_eq!(sign_in_with(&app, IdTokenMutation::MissingKid).await, "/after");
}

#[tokio::test]
async fn oidcc_client_test_kid_absent_multiple_jwks() {
    // Several keys and no kid: which key signed it is not said; idweb refuses rather than guess.
    refused(IdTokenMutation::MissingKid).await;
}

#[tokio::test]
async fn oidcc_client_test_signing_key_rotation() {
    let app = TestApp::start().await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
    let state = app.emulator.state().clone();
    tokio::task::spawn_blocking(move || state.keys.rotate()).await.unwrap().unwrap();
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after", "the rotated key is fetched and used");
}

#[tokio::test]
async fn oidcc_client_test_signing_key_rotation_just_before_signing() {
    let app = TestApp::start().await;
    let browser = app.browser();
    // The keys are fetched as the sign-in starts; the provider rotates before it signs the ID token.
    let begun = browser.start_sign_in().await;
    let state = app.emulator.state().clone();
    tokio::task::spawn_blocking(move || state.keys.rotate()).await.unwrap().unwrap();
    let callback = browser.choose_user(&begun, ADELE).await;
    assert_eq!(location(&browser.callback(&callback).await), "/after");
    assert_eq!(browser.whoami().await, ADELE);
}

#[tokio::test]
async fn oidcc_client_test_discovery_issuer_mismatch() {
    let app = TestApp::start().await;
    let mut fields = serde_json::Map::new();
    fields.insert("issuer".into(), json!(format!("{}00000000-0000-0000-0000-000000000bad/v2.0", app.emulator.base_url())));
    app.emulator.faults().arm_discovery(DiscoveryFault { fields, count: 1 }).unwrap();
    let answer = app.browser().get("/auth/sign-in?returnUrl=/").await;
    assert_eq!(location(&answer), "/auth/error?reason=provider_misconfigured");
}

/// Adele signed in, her access tokens expired, and the next ID token (the refresh's) spoiled by `mutation`.
async fn refresh_with(mutation: IdTokenMutation) -> (TestApp, SignedInUser, Result<(), IdentityError>) {
    let app = TestApp::start().await;
    app.browser().sign_in(ADELE).await;
    let mut adele = signed_in(ADELE, app.emulator.tenant_id());
    // As the session holds her: with the subject her ID token named (pairwise, per app).
    let config = idweb_emulator::EmulatorConfig::default();
    let user = config.users.iter().find(|user| user.display_name == ADELE).unwrap();
    adele.id_token.subject = idweb_emulator::tokens::pairwise_subject(user, &config.apps[0].client_id);
    support::expire_access_tokens(&app.identity, &adele).await;
    app.emulator.faults().arm_id_token(IdTokenFault { mutation, count: 1 }).unwrap();
    let outcome = app.identity.tokens().for_user(&adele, &["User.Read".to_owned()]).await.map(|_| ());
    (app, adele, outcome)
}

async fn refresh_refused(mutation: IdTokenMutation) {
    let (app, adele, outcome) = refresh_with(mutation).await;
    assert!(matches!(outcome, Err(IdentityError::InteractionRequired { .. })), "{mutation:?}: {outcome:?}");
    let key = PartitionKey::User(adele.home_account_id);
    assert!(app.identity.cache().load_latest(&key).await.unwrap().is_none(), "{mutation:?}: the grant is dropped");
}

#[tokio::test]
async fn oidcc_client_test_refresh_token_invalid_issuer() {
    refresh_refused(IdTokenMutation::WrongIssuer).await;
}

#[tokio::test]
async fn oidcc_client_test_refresh_token_invalid_sub() {
    refresh_refused(IdTokenMutation::WrongSubject).await;
}

#[tokio::test]
async fn oidcc_client_test_rp_init_logout() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let signed_out = browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let end_session = url::Url::parse(location(&signed_out)).unwrap();
    assert!(end_session.path().ends_with("/oauth2/v2.0/logout"), "{end_session}");
    let params: std::collections::HashMap<_, _> = end_session.query_pairs().into_owned().collect();
    assert_eq!(params["post_logout_redirect_uri"], app.url.join("signout-callback-oidc").unwrap().as_str());
    assert!(params.contains_key("client_id"));
    // The provider signs out and sends the browser back, where idweb goes home.
    let provider = browser.client.get(end_session).send().await.unwrap();
    assert!(provider.status().is_redirection() || provider.status() == StatusCode::OK, "{}", provider.status());
    let back = browser.get("/signout-callback-oidc").await;
    assert_eq!(location(&back), "/");
    assert_eq!(browser.whoami().await, "nobody");
}
