//! SES-05: a session that has ended stays ended. A request of the session
//! still in flight when the user signs out (in another tab), when the
//! provider ends the session by front-channel or back-channel logout, or
//! when a request ends it and starts a new one, must not bring the session
//! back when it finishes, on every session store.

use crate::support;

use reqwest::StatusCode;
use serde_json::json;
use support::shared::{new_key, Engine, SharedStore};
use support::{user_object_id, TestApp, ADELE};

/// How the session ends while the slow request is in flight.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The user signs out in another tab of the same browser.
    SignOut,
    /// The provider's front-channel logout URL, loaded in its iframe.
    FrontChannel,
    /// The provider posts a logout token.
    BackChannel,
    /// A request ends the session and starts a new one (the idle timeout,
    /// then a sign-in start): the new one must not get the ended one's id.
    Restarted,
}

const ENDINGS: [Ending; 4] = [Ending::SignOut, Ending::FrontChannel, Ending::BackChannel, Ending::Restarted];

/// The app with its sessions (and tokens) on `store`, or in memory.
async fn app_on(store: Option<&SharedStore>) -> TestApp {
    match store {
        None => TestApp::start().await,
        Some(store) => {
            let settings = json!({ "TokenCache": store.token_cache_settings(&[("k1", &new_key())]), "Session": store.session_settings() });
            TestApp::start_with(|_, customised| *customised = settings).await
        }
    }
}

/// Signs Adele in, starts a slow request of her session, ends the session
/// the way `ending` says while that request is in flight, then lets it
/// finish: the session must stay ended.
async fn an_ended_session_stays_ended(app: &TestApp, ending: Ending, gate_name: &str) {
    let sids_before = app.emulator.state().sso.sids_of(&user_object_id(ADELE));
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    assert_eq!(browser.whoami().await, ADELE);
    let sids = app.emulator.state().sso.sids_of(&user_object_id(ADELE));
    let sid = sids.into_iter().find(|sid| !sids_before.contains(sid)).expect("this browser's provider session");

    let gate = support::gate(gate_name);
    let slow = tokio::spawn({
        let client = browser.client.clone();
        let url = app.url.join(&format!("/test/slow?gate={gate_name}")).unwrap();
        async move { client.get(url).send().await.unwrap() }
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), gate.reached.notified()).await.expect("the slow request read the session");

    let ended = match ending {
        Ending::SignOut => browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap(),
        Ending::FrontChannel => support::front_channel(app, &support::issuer(app), &sid).await,
        Ending::BackChannel => {
            let token = app.emulator.state().minter().logout_token(&support::client_id(app), Some(&sid), None);
            support::back_channel(app, &token).await
        }
        Ending::Restarted => browser.get("/test/restart").await,
    };
    assert!(ended.status() == StatusCode::OK || ended.status().is_redirection(), "{ending:?} answered {}", ended.status());
    assert_eq!(browser.whoami().await, "nobody", "{ending:?} ended the session");

    gate.open.notify_one();
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), StatusCode::OK);
    assert_eq!(slow.text().await.unwrap(), ADELE, "the slow request answers as it began");
    assert_eq!(browser.whoami().await, "nobody", "{ending:?}: the slow request's write-back brought the session back");
    assert_eq!(browser.whoami().await, "nobody", "{ending:?}: and it stays ended");
}

async fn every_ending_on(engine: Option<Engine>) {
    let store = engine.map(SharedStore::new);
    let app = app_on(store.as_ref()).await;
    let run = rand::random::<u32>();
    for ending in ENDINGS {
        an_ended_session_stays_ended(&app, ending, &format!("{engine:?}-{ending:?}-{run}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_05_a_session_ended_during_a_slow_request_stays_ended_in_memory() {
    every_ending_on(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_05_a_session_ended_during_a_slow_request_stays_ended_on_redis() {
    every_ending_on(Some(Engine::Redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_05_a_session_ended_during_a_slow_request_stays_ended_on_postgres() {
    every_ending_on(Some(Engine::Postgres)).await;
}
