//! FLT-03: Redis stops mid-run and comes back. A private redis-server on a
//! free loopback port is started and stopped by the test (the machine's
//! Redis is never touched). Users with an L1 copy keep working, others get a
//! typed "store unavailable" at once (never a hang, never a panic), readiness
//! says why, sign-out still works, and service resumes without a restart.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use idweb_identity::{IdentityError, UserTokenOptions};
use serde_json::json;
use support::shared::new_key;
use support::{location, signed_in, TestApp, ADELE};

/// Bound on every wait in this test: a hang fails it instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(20);

struct PrivateRedis {
    port: u16,
    dir: std::path::PathBuf,
    server: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("idweb-redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self { port, dir, server: None };
        redis.launch();
        redis
    }

    fn launch(&mut self) {
        let server = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/services.sh installs it)");
        self.server = Some(server);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < LIMIT, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
