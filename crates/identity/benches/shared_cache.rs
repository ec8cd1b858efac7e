//! `shared_cache`: `TokenAcquisition::for_user` served from the L1 in front
//! of a shared store, and from the shared store itself (the L1 holding
//! nothing: one round trip, decryption, decoding), on real Redis and real
//! PostgreSQL, with the memory store as the baseline; and a renewal (the
//! refresh token redeemed at the in-process emulator, the partition written
//! back) for comparison. Results: docs/BENCHMARKS.md.
//!
//! `cargo bench -p idweb-identity --bench shared_cache` (Redis on
//! 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432, as scripts/services.sh
//! starts them; IDWEB_TEST_REDIS_URL / IDWEB_TEST_POSTGRES_URL point elsewhere).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use idweb_identity::cache::encryption::{EncryptionKey, KeyRing};
use idweb_identity::scopes::normalise_scopes;
use idweb_identity::cache::{CachedAccessToken, LayeredSettings, LayeredTokenCache, TokenPartition};
use idweb_identity::{Identity, IdentityConfig, PartitionKey, SignedInUser, TokenCacheStore};
use openidconnect::{AccessToken, RefreshToken};

#[path = "../tests/it/support/mod.rs"]
mod support;

use support::shared::{Engine, SharedStore};

fn settings() -> IdentityConfig {
    // Nothing is fetched until a token request is needed, and a cache hit needs none.
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
    });
    IdentityConfig::from_json(&settings).expect("settings")
}

fn adele() -> SignedInUser {
    support::signed_in(support::ADELE, "tenant")
}

/// A partition like one after sign-in: a JWT-sized access token and a refresh token.
fn partition() -> TokenPartition {
    let mut partition = TokenPartition { refresh_token: Some(RefreshToken::new("r".repeat(760))), ..Default::default() };
    partition.put_access_token(CachedAccessToken {
        scopes: normalise_scopes(["User.Read"]),
        token: AccessToken::new("a".repeat(1500)),
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        refresh_on: None,
        tenant: None,
    });
    partition
}

/// An engine over a layered store whose L1 keeps copies for `l1_time_to_live`
/// (a nanosecond: every read goes to the shared store).
async fn layered_identity(store: &SharedStore, l1_time_to_live: Duration) -> Arc<Identity> {
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let ring = KeyRing::new(vec![EncryptionKey::from_base64("bench", &key).expect("key")]).expect("ring");
    let tiers = LayeredSettings { l1_max_partitions: 10_000, l1_time_to_live, l2_time_to_live: Duration::from_secs(600) };
    let layered: Arc<dyn TokenCacheStore> = Arc::new(LayeredTokenCache::new(store.backend().await, Arc::new(ring), tiers));
    Identity::builder(settings()).token_cache(layered).build().await.expect("identity")
}

fn tiers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let scopes = vec!["User.Read".to_owned()];
    let user = adele();
    let key = PartitionKey::User(user.home_account_id.clone());
    let mut group = c.benchmark_group("for_user_by_tier");

    let memory = runtime.block_on(Identity::builder(settings()).build()).expect("identity");
    runtime.block_on(memory.cache().save(&key, &partition(), None)).expect("stored");
    group.bench_function("memory_store", |bench| bench.iter(|| runtime.block_on(memory.tokens().for_user(&user, &scopes)).expect("hit")));

    for (label, engine) in [("redis", Engine::Redis), ("postgres", Engine::Postgres)] {
        // Its own key prefix or schema, removed when `store` is dropped.
        let store = SharedStore::new(engine);
        let with_l1 = runtime.block_on(layered_identity(&store, Duration::from_secs(600)));
        runtime.block_on(with_l1.cache().save(&key, &partition(), None)).expect("stored");
        group.bench_function(format!("{label}_l1_hit"), |bench| {
            bench.iter(|| runtime.block_on(with_l1.tokens().for_user(&user, &scopes)).expect("hit"))
        });
        let without_l1 = runtime.block_on(layered_identity(&store, Duration::from_nanos(1)));
        group.bench_function(format!("{label}_l2_hit"), |bench| {
            bench.iter(|| runtime.block_on(without_l1.tokens().for_user(&user, &scopes)).expect("hit"))
        });
    }
    group.finish();
}

/// A renewal: the user's refresh token redeemed at the emulator (in this
/// process, over loopback HTTP), the ID token checked, the partition written.
fn renewals(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let scopes = vec!["User.Read".to_owned()];
    let mut group = c.benchmark_group("for_user_by_tier");
    let redis = SharedStore::new(Engine::Redis);
    let redis_settings = redis.token_cache_settings(&[("bench", &base64::engine::general_purpose::STANDARD.encode([7u8; 32]))]);
    for (label, settings) in [("memory_store_refresh", serde_json::json!({})), ("redis_refresh", serde_json::json!({ "TokenCache": redis_settings }))] {
        let app = runtime.block_on(support::TestApp::start_with(move |_, tree| *tree = settings));
        runtime.block_on(app.browser().sign_in(support::ADELE));
        let adele = support::signed_in(support::ADELE, app.emulator.tenant_id());
        let forced = idweb_identity::UserTokenOptions { force_refresh: true, ..idweb_identity::UserTokenOptions::new(&scopes) };
        group.bench_function(label, |bench| bench.iter(|| runtime.block_on(app.identity.tokens().for_user_with(&adele, forced)).expect("renewed")));
    }
    group.finish();
    drop(redis);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = tiers, renewals
}
criterion_main!(benches);
