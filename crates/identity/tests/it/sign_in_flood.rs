//! SES-04: anonymous sign-in starts cost signed-in users nothing. A client
//! starting sign-ins in a loop (bounded, on loopback) creates no session,
//! is answered 429 with `Retry-After` past its address's allowance, and
//! neither signs anyone out nor stops a sign-in begun before the flood in
//! another browser; on the memory store (with a small bound) and on Redis.

use crate::support;

use reqwest::StatusCode;
use serde_json::json;
use support::shared::{new_key, Engine, SharedStore};
use support::{location, TestApp, ADELE, ALEX};

/// Starts the flood sends, all from one address with no cookies kept.
const FLOOD: usize = 2_000;
/// The allowance per address per minute in these tests.
const PER_MINUTE: u32 = 30;
/// The memory store's bound: far fewer sessions than the flood's starts.
const MAX_SESSIONS: u32 = 50;

async fn app_on(store: Option<&SharedStore>, per_minute: u32) -> TestApp {
    let mut settings = json!({
        "Hosting": { "SignInStartsPerMinute": per_minute },
        "Session": { "MaxSessions": MAX_SESSIONS },
    });
    if let Some(store) = store {
        settings["TokenCache"] = store.token_cache_settings(&[("k1", &new_key())]);
        settings["Session"] = store.session_settings();
    }
    TestApp::start_with(|_, customised| *customised = settings).await
}

/// `FLOOD` sign-in starts from one client that keeps no cookies; the
/// statuses they got (303 started, 429 refused), checking that none
/// created a session.
async fn flood(app: &TestApp) -> (usize, usize) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = app.url.join("/auth/sign-in?returnUrl=/").unwrap();
    let session_cookie = format!("{}=", app.identity.config().session.cookie_name);
    let (mut started, mut refused) = (0, 0);
    for _ in 0..FLOOD {
        let answer = client.get(url.clone()).send().await.unwrap();
        let sets_session = answer.headers().get_all("set-cookie").iter().any(|cookie| cookie.to_str().unwrap().starts_with(&session_cookie));
        assert!(!sets_session, "a sign-in start created a session");
        match answer.status() {
            StatusCode::SEE_OTHER => started += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: u64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&wait), "Retry-After {wait}");
                let page = answer.text().await.unwrap();
                assert!(page.contains("Too many sign-in attempts") && page.contains("try again in"), "{page}");
                refused += 1;
            }
            other => panic!("a start answered {other}"),
        }
    }
    (started, refused)
}

/// With no limit in the way, every start of the flood goes through: the
/// store must still hold what it held (the bound is far below the flood),
/// nobody is signed out, and a sign-in begun before the flood completes.
async fn flood_spares_signed_in_users_and_sign_ins_in_flight(store: Option<&SharedStore>) {
    let app = app_on(store, 0).await;
    let adele = app.browser();
    adele.sign_in(ADELE).await;
    let alex = app.browser();
    alex.sign_in(ALEX).await;
    let latecomer = app.browser();
    let begun = latecomer.start_sign_in().await;
    let held_before = app.identity.sessions_held();

    assert_eq!(flood(&app).await, (FLOOD, 0), "no limit: every start went through");
    if let Some(before) = held_before {
        assert_eq!(app.identity.sessions_held(), Some(before), "the flood left nothing in the session store");
    }
    assert_eq!(adele.whoami().await, ADELE, "signed-in users stay signed in");
    assert_eq!(alex.whoami().await, ALEX);
    let callback = latecomer.choose_user(&begun, ADELE).await;
    let completed = latecomer.callback(&callback).await;
    assert_eq!(location(&completed), "/after", "the sign-in begun before the flood completes");
    assert_eq!(latecomer.whoami().await, ADELE);
    // Shared stores: the test's sessions end with it (Redis session keys carry no prefix).
    for browser in [&adele, &alex, &latecomer] {
        browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap();
    }
}

#[tokio::test]
async fn ses_04_a_flood_of_sign_in_starts_costs_the_memory_store_nothing() {
    flood_spares_signed_in_users_and_sign_ins_in_flight(None).await;
}

#[tokio::test]
async fn ses_04_a_flood_of_sign_in_starts_costs_redis_nothing() {
    let store = SharedStore::new(Engine::Redis);
    flood_spares_signed_in_users_and_sign_ins_in_flight(Some(&store)).await;
}

#[tokio::test]
async fn ses_04_past_its_allowance_a_client_address_is_answered_429_with_retry_after() {
    let app = app_on(None, PER_MINUTE).await;
    let (started, refused) = flood(&app).await;
    // The allowance, plus what refilled while the flood ran (a few seconds at most).
    assert!(started >= PER_MINUTE as usize && started <= PER_MINUTE as usize + 10, "{started} starts went through");
    assert_eq!(started + refused, FLOOD);
}
