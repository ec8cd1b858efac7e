//! The shared token cache on real Redis (a single node and a 3-master
//! Cluster) and real PostgreSQL: every scenario runs on each. Several instances of the app share the store and the
//! emulator with no session affinity; entries are encrypted, versioned and
//! time-limited; an L1 hit never reaches the store.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use idweb_identity::cache::encryption::{EncryptionKey, KeyRing};
use idweb_identity::cache::{LayeredSettings, LayeredTokenCache};
use idweb_identity::{StoreError, IdentityError, PartitionKey, SignedInUser, UserTokenOptions};
use serde_json::json;
use support::shared::{new_key, Counting, Engine, SharedStore};
use support::{signed_in, Browser, TestApp, ADELE};

const USER_READ: &str = "User.Read";
const WAIT_STEP: Duration = Duration::from_millis(20);
/// Bound on waits for another instance's change notice (they take milliseconds).
const WAIT_LIMIT: Duration = Duration::from_secs(5);

fn user_read() -> Vec<String> {
    vec![USER_READ.to_owned()]
}

/// The app with its token cache on `store`, configured the way users configure it.
async fn app_on(store: &SharedStore, key: &str) -> TestApp {
    let token_cache = store.token_cache_settings(&[("k1", key)]);
    TestApp::start_with(|_, settings| *settings = json!({ "TokenCache": token_cache })).await
}

/// The same with the sessions on `store` too. Tests that use it sign out at
/// the end: Redis session keys have no prefix of their own to clean up by.
async fn app_with_sessions_on(store: &SharedStore, key: &str) -> TestApp {
    let token_cache = store.token_cache_settings(&[("k1", key)]);
    let session = store.session_settings();
    TestApp::start_with(|_, settings| *settings = json!({ "TokenCache": token_cache, "Session": session })).await
}

/// A layered store over `store` whose L1 the test can watch, counting the calls that reach L2.
async fn watched_store(store: &SharedStore, key: &str) -> (Arc<LayeredTokenCache>, Arc<Counting>) {
    let counting = Counting::new(store.backend().await);
    let ring = KeyRing::new(vec![EncryptionKey::from_base64("k1", key).unwrap()]).unwrap();
    let settings = LayeredSettings {
        l1_max_partitions: 1000,
        l1_time_to_live: Duration::from_secs(300),
        l2_time_to_live: Duration::from_secs(3600),
    };
    (Arc::new(LayeredTokenCache::new(counting.clone(), Arc::new(ring), settings)), counting)
}

async fn signed_in_adele(app: &TestApp) -> (Browser, SignedInUser) {
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    (browser, signed_in(ADELE, app.emulator.tenant_id()))
}

/// Adele signed in on an app over `store`, and a second instance whose L1 the test watches.
async fn adele_on_two_instances(store: &SharedStore) -> (TestApp, SignedInUser, support::Instance, Arc<LayeredTokenCache>) {
    let key = new_key();
    let app = app_on(store, &key).await;
    let (_browser, adele) = signed_in_adele(&app).await;
    let (other_layered, _) = watched_store(store, &key).await;
    let other = app.another_instance(Some(other_layered.clone())).await;
    (app, adele, other, other_layered)
}

/// Waits (boundedly) until `layered`'s L1 holds nothing: another instance's notice arrived.
async fn until_l1_empty(layered: &LayeredTokenCache) {
    let started = std::time::Instant::now();
    while layered.l1_len() > 0 {
        assert!(started.elapsed() < WAIT_LIMIT, "the change notice never arrived");
        tokio::time::sleep(WAIT_STEP).await;
    }
}

async fn round_trip_across_instances_with_shared_sessions(engine: Engine) {
    let store = SharedStore::new(engine);
    let app = app_with_sessions_on(&store, &new_key()).await;
    let (browser, adele) = signed_in_adele(&app).await;
    let token = app.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    let requests = app.emulator.token_requests();

    let other = app.another_instance(None).await;
    let from_other = other.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    assert_eq!(from_other.secret(), token.secret(), "served from the shared store");
    assert_eq!(app.emulator.token_requests(), requests, "no token request");
    let on_other = Browser { client: browser.client.clone(), app: other.url.clone() };
    assert_eq!(on_other.whoami().await, ADELE, "the session is shared too: no sticky sessions needed");
    browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap();
}

async fn every_entry_is_time_limited_ciphertext(engine: Engine) {
    let store = SharedStore::new(engine);
    let app = app_on(&store, &new_key()).await;
    let (_browser, adele) = signed_in_adele(&app).await;
    app.identity.tokens().for_app(&["https://graph.microsoft.com/.default".to_owned()]).await.unwrap();
    let partition = support::partition(&app.identity, &adele).await;
    let access = partition.access_tokens[0].token.secret().clone();
    let refresh = partition.refresh_token.clone().unwrap().secret().clone();

    let entries = store.raw_entries().await;
    assert!(entries.len() >= 2, "the user's and the app's partitions: {entries:?}");
    for (name, bytes, seconds_to_live) in entries {
        assert!(seconds_to_live > 0 && seconds_to_live <= 24 * 3600, "{name} lives {seconds_to_live} s: every entry has a time limit");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("eyJ"), "{name} holds a readable JWT");
        assert!(!text.contains(&access[..20]) && !text.contains(&refresh[..20]), "{name} holds a token in clear");
    }
}

async fn a_tampered_entry_is_dropped_never_used(engine: Engine) {
    let store = SharedStore::new(engine);
    let app = app_on(&store, &new_key()).await;
    let (_browser, adele) = signed_in_adele(&app).await;
    let key = PartitionKey::User(adele.home_account_id.clone());
    let name = store.raw_name(&key);
    let (_, mut bytes, _) = store.raw_entries().await.into_iter().find(|(entry, ..)| *entry == name).expect("Adele's entry");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    store.overwrite_raw(&name, bytes).await;

    let fresh = app.another_instance(None).await;
    assert!(fresh.identity.cache().load(&key).await.unwrap().is_none(), "never trusted");
    assert!(store.raw_entries().await.iter().all(|(entry, ..)| *entry != name), "and dropped");
    let error = fresh.identity.tokens().for_user(&adele, &user_read()).await.unwrap_err();
    assert!(matches!(error, IdentityError::InteractionRequired { .. }), "the user re-authorizes: {error:?}");
}

async fn an_entry_copied_to_another_user_does_not_decrypt(engine: Engine) {
    let store = SharedStore::new(engine);
    let app = app_on(&store, &new_key()).await;
    let (_browser, adele) = signed_in_adele(&app).await;
    let alex = signed_in(support::ALEX, app.emulator.tenant_id());
    let alex_key = PartitionKey::User(alex.home_account_id.clone());
    store.copy_raw(&store.raw_name(&PartitionKey::User(adele.home_account_id.clone())), &store.raw_name(&alex_key)).await;

    let fresh = app.another_instance(None).await;
    assert!(fresh.identity.cache().load(&alex_key).await.unwrap().is_none(), "Adele's tokens never serve Alex");
    assert!(fresh.identity.tokens().for_user(&alex, &user_read()).await.is_err());
}

async fn key_rotation_reads_old_entries_and_writes_with_the_new_key(engine: Engine) {
    let store = SharedStore::new(engine);
    let (old_key, new_key) = (new_key(), new_key());
    let app = app_on(&store, &old_key).await;
    let (_browser, adele) = signed_in_adele(&app).await;
    let key = PartitionKey::User(adele.home_account_id.clone());
    let before = app.identity.tokens().for_user(&adele, &user_read()).await.unwrap();

    let ring = json!([{ "Id": "k2", "Key": new_key }, { "Id": "k1", "Key": old_key }]);
    let rotated = app.another_instance_with(|settings| settings["TokenCache"]["EncryptionKeys"] = ring, None).await;
    let read = rotated.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    assert_eq!(read.secret(), before.secret(), "an entry sealed with the old key still reads");
    let scopes = user_read();
    let forced = UserTokenOptions { force_refresh: true, ..UserTokenOptions::new(&scopes) };
    rotated.identity.tokens().for_user_with(&adele, forced).await.unwrap();
    let (_, bytes, _) = store.raw_entries().await.into_iter().find(|(entry, ..)| *entry == store.raw_name(&key)).unwrap();
    assert!(bytes.windows(2).any(|pair| pair == b"k2"), "written with the first key of the ring");

    // An instance that never got the new key says so, and leaves the entry for those that can read it.
    let behind = app.another_instance_with(|settings| settings["TokenCache"]["EncryptionKeys"] = json!([{ "Id": "k1", "Key": old_key }]), None).await;
    match behind.identity.cache().load(&key).await {
        Err(StoreError::UnknownKey { key_id, .. }) => assert_eq!(key_id, "k2"),
        other => panic!("expected an unknown key error, got {other:?}"),
    }
    assert!(store.raw_entries().await.iter().any(|(entry, ..)| *entry == store.raw_name(&key)), "not dropped");
}

async fn an_l1_hit_sends_nothing_to_the_shared_store(engine: Engine) {
    let store = SharedStore::new(engine);
    let key = new_key();
    let (layered, counting) = watched_store(&store, &key).await;
    let token_cache = store.token_cache_settings(&[("k1", &key)]);
    let app = TestApp::start_with_store(|_, settings| *settings = json!({ "TokenCache": token_cache }), Some(layered)).await;
    let (_browser, adele) = signed_in_adele(&app).await;

    let before = counting.calls();
    for _ in 0..10 {
        app.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    }
    assert_eq!(counting.calls(), before, "L1 hits: no command, no statement");

    let (other_layered, other_counting) = watched_store(&store, &key).await;
    let other = app.another_instance(Some(other_layered)).await;
    other.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    assert_eq!(other_counting.calls(), 1, "an L1 miss is one read");
    for _ in 0..10 {
        other.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    }
    assert_eq!(other_counting.calls(), 1, "then L1 hits");
}

async fn a_refresh_on_one_instance_is_seen_by_the_other(engine: Engine) {
    let store = SharedStore::new(engine);
    let (app, adele, other, other_layered) = adele_on_two_instances(&store).await;
    let old = other.identity.tokens().for_user(&adele, &user_read()).await.unwrap();

    let scopes = user_read();
    let forced = UserTokenOptions { force_refresh: true, ..UserTokenOptions::new(&scopes) };
    let renewed = app.identity.tokens().for_user_with(&adele, forced).await.unwrap();
    assert_ne!(renewed.secret(), old.secret());
    let requests = app.emulator.token_requests();
    until_l1_empty(&other_layered).await;
    let seen = other.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    assert_eq!(seen.secret(), renewed.secret(), "the other instance serves the renewed token");
    assert_eq!(app.emulator.token_requests(), requests, "and does not refresh again");
}

/// Adele signed in (tokens cached) on an app whose tokens and sessions are
/// on `store` (its L1 watched), and a second instance of the same app.
async fn adele_on_shared_sessions(store: &SharedStore) -> (TestApp, Arc<LayeredTokenCache>, Browser, SignedInUser, support::Instance) {
    let key = new_key();
    let (layered, _) = watched_store(store, &key).await;
    let token_cache = store.token_cache_settings(&[("k1", &key)]);
    let session = store.session_settings();
    let app = TestApp::start_with_store(|_, settings| *settings = json!({ "TokenCache": token_cache, "Session": session }), Some(layered.clone())).await;
    let (browser, adele) = signed_in_adele(&app).await;
    app.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    let other = app.another_instance(None).await;
    (app, layered, browser, adele, other)
}

/// Adele's tokens are gone from the shared store and from this L1.
async fn tokens_gone_everywhere(app: &TestApp, layered: &LayeredTokenCache, adele: &SignedInUser) {
    until_l1_empty(layered).await;
    let error = app.identity.tokens().for_user(adele, &user_read()).await.unwrap_err();
    assert!(matches!(error, IdentityError::InteractionRequired { .. }), "and so are the tokens: {error:?}");
}

async fn signing_out_on_one_instance_signs_out_on_the_other(engine: Engine) {
    let store = SharedStore::new(engine);
    let (app, layered, browser, adele, other) = adele_on_shared_sessions(&store).await;
    let on_other = Browser { client: browser.client.clone(), app: other.url.clone() };
    assert_eq!(on_other.whoami().await, ADELE);

    on_other.client.post(other.url.join("/auth/sign-out").unwrap()).send().await.unwrap();
    assert_eq!(browser.whoami().await, "nobody", "the session is gone on every instance");
    tokens_gone_everywhere(&app, &layered, &adele).await;
}

/// OUT-03 on every instance: the provider's logout token reaches one
/// instance; the session created on another ends, and the tokens go too.
async fn a_back_channel_logout_at_one_instance_ends_the_session_on_the_other(engine: Engine) {
    let store = SharedStore::new(engine);
    let (app, layered, browser, adele, other) = adele_on_shared_sessions(&store).await;
    let sid = app.emulator.state().sso.sids_of(&adele.object_id).pop().expect("Adele's provider session");
    let client_id = app.settings["AzureAd"]["ClientId"].as_str().unwrap().to_owned();
    let token = app.emulator.state().minter().logout_token(&client_id, Some(&sid), None);
    let response = reqwest::Client::new().post(other.url.join("/backchannel-logout").unwrap()).form(&[("logout_token", token)]).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    assert_eq!(browser.whoami().await, "nobody", "the session made on the first instance is gone");
    tokens_gone_everywhere(&app, &layered, &adele).await;
}

async fn twenty_concurrent_requests_over_two_instances_refresh_once(engine: Engine) {
    let store = SharedStore::new(engine);
    let (app, adele, other, other_layered) = adele_on_two_instances(&store).await;
    other.identity.tokens().for_user(&adele, &user_read()).await.unwrap();
    support::expire_access_tokens(&app.identity, &adele).await;
    until_l1_empty(&other_layered).await;

    let before = app.emulator.token_requests();
    let instances = [app.identity.clone(), other.identity.clone()];
    let calls = (0..20).map(|index| {
        let identity = instances[index % 2].clone();
        let adele = adele.clone();
        tokio::spawn(async move { identity.tokens().for_user(&adele, &user_read()).await })
    });
    let tokens: Vec<String> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().expect("a token").secret().clone())
        .collect();
    assert_eq!(app.emulator.token_requests() - before, 1, "RT-01: one refresh for twenty callers on two instances");
    assert!(tokens.iter().all(|token| *token == tokens[0]), "everyone got the renewed token");
}

/// Instantiates each scenario once per engine: Redis, a Redis Cluster (when
/// scripts/test.sh started one), PostgreSQL.
macro_rules! on_every_engine {
    ($($scenario:ident),* $(,)?) => {
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if super::support::shared::redis_cluster_url().is_none() {
                        eprintln!("skipped: IDWEB_TEST_REDIS_CLUSTER_URL is not set (scripts/test.sh starts a cluster and sets it)");
                        return;
                    }
                    super::$scenario(super::Engine::RedisCluster).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Engine::Redis).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Engine::Postgres).await
                }
            )*
        }
    };
}

on_every_engine!(
    round_trip_across_instances_with_shared_sessions,
    every_entry_is_time_limited_ciphertext,
    a_tampered_entry_is_dropped_never_used,
    an_entry_copied_to_another_user_does_not_decrypt,
    key_rotation_reads_old_entries_and_writes_with_the_new_key,
    an_l1_hit_sends_nothing_to_the_shared_store,
    a_refresh_on_one_instance_is_seen_by_the_other,
    signing_out_on_one_instance_signs_out_on_the_other,
    a_back_channel_logout_at_one_instance_ends_the_session_on_the_other,
    twenty_concurrent_requests_over_two_instances_refresh_once,
);

#[tokio::test]
async fn postgres_sweeps_expired_rows() {
    let store = SharedStore::new(Engine::Postgres);
    let backend = idweb_identity::stores::postgres::PostgresBackend::connect(&store.config()).await.unwrap();
    use idweb_identity::cache::{Etag, SealedEntry, SharedCacheBackend};
    let entry = SealedEntry { etag: Etag::random(), bytes: vec![1, 2, 3] };
    assert!(backend.put("u:short-lived", None, &entry, Duration::from_millis(1)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(backend.get("u:short-lived", Duration::from_secs(60)).await.unwrap().is_none(), "past its time limit reads as gone");
    assert!(backend.sweep_expired().await.unwrap() >= 1);
    assert!(store.raw_entries().await.is_empty(), "and the row is deleted");
}
