//! Sessions in Redis or PostgreSQL with an L1 in each instance: a signed-in
//! user's requests at steady state read no shared store, and a change or an
//! end made on one instance reaches the other's L1 by change notice (so a
//! session ended on one instance is refused by the other, and no save can
//! bring it back: SES-05); while the notices cannot arrive, no copy is used.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use idweb_identity::stores::{open_session_store, SessionBackend, SessionStoreSettings};
use serde_json::json;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

use crate::support;
use support::shared::{Engine, SharedStore};

/// Longest a notice may take to arrive here: on loopback it takes well under
/// a millisecond; this only stops a test that would otherwise wait forever.
const NOTICE_LIMIT: Duration = Duration::from_secs(5);

async fn instance(config: idweb_identity::config::SharedStoreConfig) -> SessionBackend {
    let settings = SessionStoreSettings {
        max_sessions: 1000,
        max_bytes: 1 << 20,
        shared: Some(config),
        l1_max_sessions: 1000,
        l1_expiration: Duration::from_secs(60),
    };
    let backend = open_session_store(&settings).await.unwrap();
    let started = Instant::now();
    while !backend.l1().expect("a shared store has an L1 by default").is_listening() {
        assert!(started.elapsed() < NOTICE_LIMIT, "the change feed never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    backend
}

fn reads(backend: &SessionBackend) -> u64 {
    backend.l1().map(|l1| l1.store_reads()).unwrap_or_default()
}

/// Waits until `instance` loads `id` as `expected` says (`None`: no session); how long that took.
async fn until_loaded(instance: &SessionBackend, id: &Id, expected: Option<&serde_json::Value>) -> Duration {
    let started = Instant::now();
    loop {
        let loaded = instance.load(id).await.unwrap();
        if loaded.as_ref().map(|record| &record.data["user"]) == expected {
            return started.elapsed();
        }
        assert!(started.elapsed() < NOTICE_LIMIT, "instance B still loads {loaded:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn two_instances_share_sessions(engine: Engine) {
    let store = SharedStore::new(engine);
    let (a, b) = (instance(store.config()).await, instance(store.config()).await);
    let mut record = Record {
        id: Id::default(),
        data: HashMap::from([("user".to_owned(), json!("adele"))]),
        expiry_date: OffsetDateTime::now_utc() + time::Duration::minutes(5),
    };
    a.create(&mut record).await.unwrap();

    // Steady state: B reads the store once, then serves its copy.
    let before = reads(&b);
    for _ in 0..50 {
        assert_eq!(b.load(&record.id).await.unwrap().unwrap().data["user"], "adele");
    }
    assert_eq!(reads(&b) - before, 1, "one read, then the L1");

    // A changes the session: B's copy is dropped by the notice.
    record.data.insert("user".into(), json!("adele, active"));
    a.save(&record).await.unwrap();
    let changed_after = until_loaded(&b, &record.id, Some(&json!("adele, active"))).await;

    // A ends it (a sign-out): B refuses it once the notice arrives, and B's
    // late save of the copy it had does not bring it back (SES-05).
    let stale = b.load(&record.id).await.unwrap().unwrap();
    a.delete(&record.id).await.unwrap();
    let ended_after = until_loaded(&b, &record.id, None).await;
    b.save(&stale).await.unwrap();
    assert!(a.load(&record.id).await.unwrap().is_none());
    assert!(b.load(&record.id).await.unwrap().is_none());
    eprintln!("{engine:?}: a change reached the other instance in {changed_after:?}, an end in {ended_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_06_sessions_on_redis_are_served_from_l1_and_a_change_on_one_instance_reaches_the_other() {
    two_instances_share_sessions(Engine::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_06_sessions_on_postgres_are_served_from_l1_and_a_change_on_one_instance_reaches_the_other() {
    two_instances_share_sessions(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_06_sessions_on_a_redis_cluster_are_served_from_l1_and_a_change_on_one_instance_reaches_the_other() {
    if support::shared::redis_cluster_url().is_none() {
        eprintln!("skipped: no IDWEB_TEST_REDIS_CLUSTER_URL (scripts/test.sh starts a cluster)");
        return;
    }
    two_instances_share_sessions(Engine::RedisCluster).await;
}

/// While its notices cannot arrive (Redis gone), an instance uses no copy:
/// every load asks the store (and fails, as the outage says); once Redis is
/// back and the feed listens again, copies serve again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_06_no_copy_is_used_while_the_notices_cannot_arrive() {
    let mut redis = support::redis::PrivateRedis::start();
    let mut store = SharedStore::new(Engine::Redis).config();
    store.connection_string = idweb_identity::config::ConnectionString::new(redis.url());
    let b = instance(store).await;
    let mut record = Record { id: Id::default(), data: HashMap::from([("user".to_owned(), json!("adele"))]), expiry_date: OffsetDateTime::now_utc() + time::Duration::minutes(5) };
    b.create(&mut record).await.unwrap();
    b.load(&record.id).await.unwrap();
    assert!(b.load(&record.id).await.unwrap().is_some());

    redis.stop();
    let l1 = b.l1().unwrap();
    let started = Instant::now();
    while l1.is_listening() {
        assert!(started.elapsed() < NOTICE_LIMIT, "the feed never noticed Redis go");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(b.load(&record.id).await.is_err(), "no copy while notices cannot arrive: the store is asked, and is down");

    redis.launch();
    let started = Instant::now();
    while !l1.is_listening() {
        assert!(started.elapsed() < Duration::from_secs(20), "the feed never listened again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The restarted Redis kept nothing: the session is gone, not served from a copy.
    assert!(b.load(&record.id).await.unwrap().is_none());
}

/// A TCP relay to a Redis that can go deaf: it keeps every connection open
/// but stops passing what Redis sends, as a proxy or NAT that dropped the
/// connection without a word would.
struct DeafeningRelay {
    port: u16,
    deaf: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl DeafeningRelay {
    async fn to(target: u16) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let deaf = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let relay_deaf = deaf.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { continue };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move { let _ = tokio::io::copy(&mut client_read, &mut server_write).await; });
                let deaf = relay_deaf.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    loop {
                        if deaf.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                        match server_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => {
                                if client_write.write_all(&buffer[..read]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { port, deaf }
    }
}

/// A subscriber connection that stays open but hears nothing (no error, no
/// close) is found out by the feed's probes: the instance stops using
/// copies within a few seconds (a probe every second, back within two), not
/// the L1's time to live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_06_a_feed_that_went_deaf_without_a_word_stops_the_copies_within_the_probe_deadline() {
    let redis = support::redis::PrivateRedis::start();
    let port: u16 = redis.url().trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap();
    let relay = DeafeningRelay::to(port).await;
    let mut store = SharedStore::new(Engine::Redis).config();
    store.connection_string = idweb_identity::config::ConnectionString::new(format!("redis://127.0.0.1:{}/", relay.port));
    let b = instance(store).await;
    let l1 = b.l1().unwrap();
    relay.deaf.store(true, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    while l1.is_listening() {
        assert!(started.elapsed() < Duration::from_secs(10), "a deaf feed was still trusted after 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("a deaf feed stopped the copies after {:?}", started.elapsed());
}
