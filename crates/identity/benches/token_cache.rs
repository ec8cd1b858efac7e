//! `token_cache`: `TokenAcquisition::for_user` served from the in-memory
//! cache with 1, 10 000 and 1 000 000 users cached, and the memory one
//! cached user costs. Results: docs/BENCHMARKS.md.
//!
//! `cargo bench -p idweb-identity --bench token_cache`

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use idweb_identity::scopes::normalise_scopes;
use idweb_identity::cache::{CachedAccessToken, TokenPartition};
use idweb_identity::{HomeAccountId, Identity, IdentityConfig, PartitionKey, SignedInUser};
use openidconnect::{AccessToken, RefreshToken};

const POPULATIONS: [usize; 3] = [1, 10_000, 1_000_000];

fn identity(runtime: &tokio::runtime::Runtime) -> Arc<Identity> {
    // Nothing is fetched until a token request is needed, and a cache hit needs none.
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
        "TokenCache": { "MaxPartitions": 2_000_000 },
    });
    runtime.block_on(Identity::builder(IdentityConfig::from_json(&settings).expect("settings")).build()).expect("identity")
}

fn user(index: usize) -> SignedInUser {
    let object_id = format!("{index:08x}-0000-4000-8000-000000000000");
    SignedInUser {
        home_account_id: HomeAccountId::new(&object_id, "tenant"),
        object_id,
        tenant_id: "tenant".into(),
        name: String::new(),
        username: String::new(),
        provider_session_id: None,
        id_token: Default::default(),
        signed_in_at: 0,
    }
}

/// A partition like one after sign-in: one Graph access token (a JWT-sized string) and a refresh token.
fn partition(index: usize) -> TokenPartition {
    let mut partition = TokenPartition { refresh_token: Some(RefreshToken::new(format!("{index:0>760}"))), ..Default::default() };
    partition.put_access_token(CachedAccessToken {
        scopes: normalise_scopes(["User.Read"]),
        token: AccessToken::new(format!("{index:0>1500}")),
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        refresh_on: None,
        tenant: None,
    });
    partition
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn cache_hits(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let scopes = vec!["User.Read".to_owned()];
    let mut group = c.benchmark_group("token_cache_hit");
    for population in POPULATIONS {
        let identity = identity(&runtime);
        let before = resident_bytes();
        for index in 0..population {
            let key = PartitionKey::User(user(index).home_account_id);
            runtime.block_on(identity.cache().save(&key, &partition(index), None)).expect("stored");
        }
        if let (Some(before), Some(after)) = (before, resident_bytes()) {
            let per_user = after.saturating_sub(before) as f64 / population as f64;
            println!("token_cache: {population} users cached, {per_user:.0} bytes resident per user");
        }
        let users: Vec<SignedInUser> = (0..population.min(1024)).map(|index| user(index * (population / population.min(1024)))).collect();
        let mut next = 0usize;
        group.bench_function(BenchmarkId::from_parameter(population), |bench| {
            bench.iter_batched(
                || {
                    next = (next + 1) % users.len();
                    &users[next]
                },
                |signed_in| runtime.block_on(identity.tokens().for_user(signed_in, &scopes)).expect("a cache hit"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = cache_hits
}
criterion_main!(benches);
