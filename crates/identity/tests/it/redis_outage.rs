//! FLT-03: Redis stops mid-run and comes back (and a PostgreSQL connection is
//! killed under a session write). A private redis-server on a
//! free loopback port is started and stopped by the test (the machine's
//! Redis is never touched). Users with an L1 copy keep working, others get a
//! typed "store unavailable" at once (never a hang, never a panic), readiness
//! says why, sign-out still works, and service resumes without a restart.

use crate::support;

use std::time::{Duration, Instant};

use idweb_identity::{IdentityError, UserTokenOptions};
use serde_json::json;
use support::shared::new_key;
use support::redis::PrivateRedis;
use support::{location, signed_in, TestApp, ADELE};

/// Bound on every wait in this test: a hang fails it instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_03_redis_down_mid_run_degrades_to_l1_and_recovers_without_restart() {
    let mut redis = PrivateRedis::start();
    let token_cache = json!({
        "Store": "Redis",
        "ConnectionString": redis.url(),
        "EncryptionKeys": [{ "Id": "k1", "Key": new_key() }],
        "TimeoutMilliseconds": 500,
    });
    let app = TestApp::start_with(|_, settings| *settings = json!({ "TokenCache": token_cache })).await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let scopes = vec!["User.Read".to_owned()];
    let served = app.identity.tokens().for_user(&adele, &scopes).await.unwrap();
    let other = app.another_instance(None).await;
    app.identity.check_ready().await.expect("ready while Redis runs");
    // The change feed's first subscription clears the L1 once (notices sent
    // before it could have been missed); on a busy machine that can come after
    // the reads above. Let it settle, then make sure the L1 holds Adele's tokens.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let key = idweb_identity::PartitionKey::User(adele.home_account_id.clone());
    for _ in 0..20 {
        app.identity.tokens().for_user(&adele, &scopes).await.unwrap();
        if app.identity.cache().load(&key).await.unwrap().is_some_and(|copy| copy.tier == idweb_identity::cache::CacheTier::Local) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    redis.stop();
    let from_l1 = tokio::time::timeout(LIMIT, app.identity.tokens().for_user(&adele, &scopes)).await.expect("no hang").expect("L1 keeps serving");
    assert_eq!(from_l1.secret(), served.secret());
    let miss = tokio::time::timeout(LIMIT, other.identity.tokens().for_user(&adele, &scopes)).await.expect("no hang");
    match miss {
        Err(IdentityError::TokenCache(error)) => assert!(error.is_outage(), "an outage, not a defect: {error:?}"),
        other => panic!("an L1 miss during the outage is a typed store error, got {other:?}"),
    }
    let not_ready = tokio::time::timeout(LIMIT, app.identity.check_ready()).await.expect("no hang").unwrap_err();
    let reason = idweb_identity::telemetry::error_chain(&not_ready);
    assert!(reason.contains("redis"), "readiness names the store: {reason}");

    // Sign-out ends the session and says so even though the purge cannot reach Redis yet.
    let signed_out = tokio::time::timeout(LIMIT, browser.client.post(app.url.join("/auth/sign-out").unwrap()).send()).await.expect("no hang").unwrap();
    assert_eq!(signed_out.status(), reqwest::StatusCode::SEE_OTHER);
    assert!(!location(&signed_out).contains("/auth/error"));
    assert_eq!(browser.whoami().await, "nobody");

    redis.launch();
    // Each instance reconnects on its own (backoff up to 5 s): wait for both.
    let started = Instant::now();
    while app.identity.check_ready().await.is_err() || other.identity.check_ready().await.is_err() {
        assert!(started.elapsed() < LIMIT, "never reconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The restarted Redis kept nothing: the other instance's miss is now an ordinary "sign in again".
    browser.sign_in(ADELE).await;
    let scopes_forced = UserTokenOptions { force_refresh: true, ..UserTokenOptions::new(&scopes) };
    let renewed = app.identity.tokens().for_user_with(&adele, scopes_forced).await.expect("writes reach Redis again");
    let seen = tokio::time::timeout(LIMIT, other.identity.tokens().for_user(&adele, &scopes)).await.expect("no hang").expect("recovered without a restart");
    assert_eq!(seen.secret(), renewed.secret());
}

/// A session write running on a PostgreSQL connection when that connection
/// is terminated (`pg_terminate_backend`, as a failover or an operator does):
/// it is tried once more on a new connection, and the request succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_03_a_session_write_whose_postgres_connection_is_killed_under_it_is_tried_again() {
    use support::shared::{postgres_pool, postgres_url, Engine, SharedStore};
    let store = SharedStore::new(Engine::Postgres);
    let application = format!("idweb-flt03-{:08x}", rand::random::<u32>());
    let url = format!("{}?application_name={application}", postgres_url());
    let settings = json!({
        "TokenCache": { "Store": "Postgres", "ConnectionString": url, "Schema": store.namespace, "EncryptionKeys": [{ "Id": "k1", "Key": new_key() }] },
        "Session": { "Store": "Postgres", "ConnectionString": url, "Schema": store.namespace },
    });
    let app = TestApp::start_with(|_, customised| *customised = settings).await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    assert_eq!(browser.whoami().await, ADELE);

    // Another connection holds every session row, so the app's next session write waits on it.
    let admin = postgres_pool().await;
    let mut holder = admin.begin().await.unwrap();
    sqlx::query(&format!("select id from \"{}\".sessions for update", store.namespace)).fetch_all(&mut *holder).await.unwrap();
    let challenge = format!("/test/challenge?claims={}", url::form_urlencoded::byte_serialize(br#"{"id_token":{"acrs":{"essential":true}}}"#).collect::<String>());
    let writing = tokio::spawn({
        let client = browser.client.clone();
        let url = app.url.join(&challenge).unwrap();
        async move { client.get(url).send().await.unwrap() }
    });
    // Once the write waits on the lock, its connection is killed under it.
    let started = Instant::now();
    let waiting = "select pid from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'";
    let pid: i32 = loop {
        if let Some((pid,)) = sqlx::query_as::<_, (i32,)>(waiting).bind(&application).fetch_optional(&admin).await.unwrap() {
            break pid;
        }
        assert!(started.elapsed() < LIMIT, "the session write never waited on the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (killed,): (bool,) = sqlx::query_as("select pg_terminate_backend($1)").bind(pid).fetch_one(&admin).await.unwrap();
    assert!(killed);
    holder.rollback().await.unwrap();

    let answer = tokio::time::timeout(LIMIT, writing).await.expect("no hang").unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK, "the write went through on a new connection");
    assert_eq!(browser.whoami().await, ADELE);
}
