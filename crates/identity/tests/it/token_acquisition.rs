//! Token acquisition against the emulator: the cache, refresh, single
//! flight, RT-03 evictions, app tokens.

use crate::support;

use std::sync::Arc;

use idweb_identity::{IdentityError, PartitionKey, SignedInUser, UserTokenOptions};
use support::{signed_in, TestApp, ADELE};

const USER_READ: &str = "User.Read";

async fn signed_in_app() -> (TestApp, SignedInUser) {
    let app = TestApp::start().await;
    app.browser().sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    (app, adele)
}

fn scopes(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// Makes every cached access token of the user look expired (as time passing would).
async fn expire_access_tokens(app: &TestApp, user: &SignedInUser) {
    support::expire_access_tokens(&app.identity, user).await;
}

async fn partition(app: &TestApp, user: &SignedInUser) -> idweb_identity::cache::TokenPartition {
    support::partition(&app.identity, user).await
}

#[tokio::test]
async fn a_cache_hit_makes_no_token_request() {
    let (app, adele) = signed_in_app().await;
    assert_eq!(app.emulator.token_requests(), 1, "the code redemption");
    for _ in 0..3 {
        app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap();
    }
    assert_eq!(app.emulator.token_requests(), 1);
}

#[tokio::test]
async fn rt_01_an_expired_access_token_is_refreshed_once_and_the_rotated_refresh_token_kept() {
    let (app, adele) = signed_in_app().await;
    let first_refresh_token = partition(&app, &adele).await.refresh_token.unwrap().secret().clone();
    expire_access_tokens(&app, &adele).await;
    let renewed = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap();
    let again = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap();
    assert_eq!(renewed.secret(), again.secret(), "the second call is served from the cache");
    assert_eq!(app.emulator.token_requests(), 2);
    let stored = partition(&app, &adele).await;
    assert_ne!(stored.refresh_token.unwrap().secret(), &first_refresh_token, "the rotated refresh token replaced the old one");
    assert_eq!(stored.last_source, Some(idweb_identity::cache::TokenSource::Refresh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rt_01_fifty_concurrent_calls_for_one_user_make_one_token_request() {
    let (app, adele) = signed_in_app().await;
    expire_access_tokens(&app, &adele).await;
    let tokens = Arc::new(app.identity.clone());
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let identity = tokens.clone();
            let user = adele.clone();
            tokio::spawn(async move { identity.tokens().for_user(&user, &[USER_READ.to_owned()]).await.map(|token| token.secret().clone()) })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.unwrap().unwrap());
    }
    assert_eq!(app.emulator.token_requests(), 2, "one redemption, one refresh");
    assert!(results.windows(2).all(|pair| pair[0] == pair[1]), "everyone got the refreshed token");
}

#[tokio::test]
async fn rt_03_a_revoked_refresh_token_gives_interaction_required_and_is_evicted() {
    let (app, adele) = signed_in_app().await;
    app.emulator.state().grants.revoke_user(&adele.object_id);
    expire_access_tokens(&app, &adele).await;
    let error = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap_err();
    assert!(matches!(error, IdentityError::InteractionRequired { .. }), "{error}");
    assert!(partition(&app, &adele).await.refresh_token.is_none(), "the dead refresh token is gone");
    let requests = app.emulator.token_requests();
    let again = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap_err();
    assert!(matches!(again, IdentityError::InteractionRequired { .. }));
    assert_eq!(app.emulator.token_requests(), requests, "no retry storm: nothing left to try silently");
}

#[tokio::test]
async fn rt_03_a_scope_that_needs_consent_keeps_the_refresh_token() {
    let (app, adele) = signed_in_app().await;
    let error = app.identity.tokens().for_user(&adele, &scopes(&["Mail.Read"])).await.unwrap_err();
    let IdentityError::InteractionRequired { scopes: asked, .. } = &error else { panic!("{error}") };
    assert_eq!(asked, &vec!["Mail.Read".to_owned()]);
    assert!(partition(&app, &adele).await.refresh_token.is_some(), "consent is missing, the grant is not dead");
    app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.expect("other scopes still work");
}

#[tokio::test]
async fn rt_03_an_interaction_required_refusal_carries_the_claims_challenge() {
    let (app, adele) = signed_in_app().await;
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    support::refuse_next_refresh(&app, "interaction_required", Some(claims));
    let user_read = scopes(&[USER_READ]);
    let options = UserTokenOptions { force_refresh: true, ..UserTokenOptions::new(&user_read) };
    let error = app.identity.tokens().for_user_with(&adele, options).await.unwrap_err();
    let IdentityError::InteractionRequired { claims: challenge, .. } = error else { panic!("{error}") };
    assert_eq!(challenge.as_deref(), Some(claims));
}

#[tokio::test]
async fn force_refresh_and_claims_skip_the_cached_access_token() {
    let (app, adele) = signed_in_app().await;
    let user_read = scopes(&[USER_READ]);
    let cached = app.identity.tokens().for_user(&adele, &user_read).await.unwrap();
    let options = UserTokenOptions { force_refresh: true, ..UserTokenOptions::new(&user_read) };
    let forced = app.identity.tokens().for_user_with(&adele, options).await.unwrap();
    assert_ne!(forced.secret(), cached.secret());
    let claims = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let options = UserTokenOptions { claims: Some(claims), ..UserTokenOptions::new(&user_read) };
    let with_claims = app.identity.tokens().for_user_with(&adele, options).await.unwrap();
    assert_ne!(with_claims.secret(), forced.secret());
    assert_eq!(app.emulator.token_requests(), 3);
}

#[tokio::test]
async fn app_tokens_come_from_client_credentials_and_are_cached_per_tenant() {
    let app = TestApp::start().await;
    let graph = scopes(&["https://graph.microsoft.com/.default"]);
    let first = app.identity.tokens().for_app(&graph).await.unwrap();
    let second = app.identity.tokens().for_app(&graph).await.unwrap();
    assert_eq!(first.secret(), second.secret());
    assert_eq!(app.emulator.token_requests(), 1);
    let key = PartitionKey::App { tenant_id: app.emulator.tenant_id().to_owned() };
    let stored = app.identity.cache().load(&key).await.unwrap().unwrap();
    assert_eq!(stored.partition.last_source, Some(idweb_identity::cache::TokenSource::ClientCredentials));
}

#[tokio::test]
async fn rt_02_a_refreshed_id_token_for_someone_else_drops_the_grant_and_asks_the_user() {
    let (app, adele) = signed_in_app().await;
    app.emulator
        .faults()
        .arm_id_token(idweb_emulator::faults::IdTokenFault { mutation: idweb_emulator::faults::IdTokenMutation::OtherUser, count: 1 })
        .unwrap();
    expire_access_tokens(&app, &adele).await;
    let error = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap_err();
    assert!(matches!(error, IdentityError::InteractionRequired { .. }), "the user signs in again, no 500: {error}");
    assert_refused_grant_dropped(&app, &adele).await;
}

/// After a refused refreshed ID token: nothing of the user is cached (the
/// refresh token that gave it is not trusted again), later calls ask the
/// user without a token request, and a new sign-in works.
async fn assert_refused_grant_dropped(app: &TestApp, user: &SignedInUser) {
    let key = PartitionKey::User(user.home_account_id.clone());
    assert!(app.identity.cache().load_latest(&key).await.unwrap().is_none(), "the partition, refresh token and all, is gone");
    let token_requests = app.emulator.token_requests();
    let again = app.identity.tokens().for_user(user, &scopes(&[USER_READ])).await.unwrap_err();
    assert!(matches!(again, IdentityError::InteractionRequired { .. }), "{again}");
    assert_eq!(app.emulator.token_requests(), token_requests, "no refresh with the dropped grant");
    app.browser().sign_in(ADELE).await;
    app.identity.tokens().for_user(user, &scopes(&[USER_READ])).await.expect("signed in again, tokens again");
}

#[tokio::test]
async fn declared_client_capabilities_reach_every_access_token() {
    let app = TestApp::start_with(|_, settings| {
        *settings = serde_json::json!({ "AzureAd": { "ClientCapabilities": ["cp1"] } });
    })
    .await;
    app.browser().sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let xms_cc = |token: &str| {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["xms_cc"].clone()
    };
    let signed_in_token = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap();
    assert_eq!(xms_cc(signed_in_token.secret()), serde_json::json!(["cp1"]), "from the authorization code");
    expire_access_tokens(&app, &adele).await;
    let refreshed = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap();
    assert_eq!(xms_cc(refreshed.secret()), serde_json::json!(["cp1"]), "from the refresh token");
}

#[tokio::test]
async fn refresh_in_makes_a_still_valid_token_due_for_renewal() {
    let app = TestApp::start_with(|emulator, _| emulator.access_token_refresh_in_secs = Some(0)).await;
    app.browser().sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let cached = partition(&app, &adele).await;
    assert!(cached.access_tokens[0].refresh_on.is_some(), "refresh_in was kept");
    app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap();
    assert_eq!(app.emulator.token_requests(), 2, "due at once, so renewed although an hour remains");
}

#[tokio::test]
async fn rt_02_a_refreshed_id_token_with_another_sub_is_refused_even_with_the_same_oid() {
    let (app, mut adele) = signed_in_app().await;
    let config = idweb_emulator::EmulatorConfig::default();
    let test_user = config.users.iter().find(|user| user.display_name == ADELE).unwrap();
    adele.id_token.subject = idweb_emulator::tokens::pairwise_subject(test_user, &config.apps[0].client_id);
    app.emulator
        .faults()
        .arm_id_token(idweb_emulator::faults::IdTokenFault { mutation: idweb_emulator::faults::IdTokenMutation::WrongSubject, count: 1 })
        .unwrap();
    expire_access_tokens(&app, &adele).await;
    let error = app.identity.tokens().for_user(&adele, &scopes(&[USER_READ])).await.unwrap_err();
    assert!(matches!(error, IdentityError::InteractionRequired { .. }), "{error}");
    assert_refused_grant_dropped(&app, &adele).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_01_a_failed_refresh_is_shared_by_its_waiters_not_repeated_by_each() {
    let (app, adele) = signed_in_app().await;
    expire_access_tokens(&app, &adele).await;
    // The provider is slow and then fails, for every refresh it gets.
    let injected = idweb_emulator::faults::InjectedError {
        error: "temporarily_unavailable".into(),
        status: Some(503),
        aadsts: None,
        description: None,
        suberror: None,
        claims: None,
    };
    let fault = idweb_emulator::faults::TokenFault {
        grant_type: Some("refresh_token".into()),
        delay_ms: 300,
        error: Some(injected),
        raw: None,
        count: 20,
    };
    app.emulator.faults().arm_token(fault).unwrap();
    let before = app.emulator.token_requests();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let identity = app.identity.clone();
            let user = adele.clone();
            tokio::spawn(async move { identity.tokens().for_user(&user, &[USER_READ.to_owned()]).await })
        })
        .collect();
    for call in calls {
        let error = call.await.unwrap().unwrap_err();
        assert!(matches!(error, IdentityError::ProviderUnavailable(_)), "{error:?}");
    }
    assert_eq!(app.emulator.token_requests() - before, 1, "one refresh failed for all ten callers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_01_a_provider_slow_for_one_user_does_not_hold_up_another() {
    let (app, adele) = signed_in_app().await;
    app.browser().sign_in(support::ALEX).await;
    let alex = signed_in(support::ALEX, app.emulator.tenant_id());
    expire_access_tokens(&app, &adele).await;
    expire_access_tokens(&app, &alex).await;
    // The next refresh hangs for a while at the provider.
    let fault = idweb_emulator::faults::TokenFault {
        grant_type: Some("refresh_token".into()),
        delay_ms: 3_000,
        error: None,
        raw: None,
        count: 1,
    };
    app.emulator.faults().arm_token(fault).unwrap();
    let before = app.emulator.token_requests();
    let identity = app.identity.clone();
    let slow = tokio::spawn(async move { identity.tokens().for_user(&adele, &[USER_READ.to_owned()]).await });
    // Until Adele's refresh has reached the provider (and met the delay).
    for _ in 0..200 {
        if app.emulator.token_requests() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.emulator.token_requests(), before + 1, "Adele's refresh is at the provider");

    app.identity.tokens().for_user(&alex, &[USER_READ.to_owned()]).await.expect("Alex is served meanwhile");
    assert!(!slow.is_finished(), "Alex's refresh finished while Adele's was still held at the provider");
    slow.await.unwrap().expect("and Adele is served once the provider answers");
}
