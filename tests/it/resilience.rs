//! What a person sees when a service stops accepting their sign-in
//! (FLT-05), against the whole app router as `main` builds it.
#![cfg(feature = "ssr")]

use crate::common;

use common::browser::{start_app, Browser};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_05_a_profile_page_whose_service_refuses_renewed_tokens_offers_sign_in_again() {
    let app = start_app(Vec::new(), |_| {}).await;
    let browser = Browser::new(&app.url);
    browser.sign_in("Adele Vance").await;
    let page = browser.get("/profile").await.text().await.unwrap();
    assert!(page.contains("AdeleV@contoso.example"), "the profile renders before the fault");

    // Graph refuses every token from now on, renewed or not.
    app.emulator.faults().refuse_every_access_token();
    let requests = app.emulator.token_requests();
    let answer = browser.get("/profile").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "the page's status says the user must act");
    let page = answer.text().await.unwrap();
    assert!(page.contains("no longer accepts your sign-in"), "{page}");
    assert!(
        page.contains(r#"href="/auth/sign-in?returnUrl=/profile&amp;interactive=true""#),
        "Sign in again goes to the provider's page and back here: {page}"
    );
    assert!(!page.contains("Try again"), "no retry link that repeats the refusal");
    assert_eq!(app.emulator.token_requests(), requests + 1, "one renewal was tried");

    // The server function says the same to the islands, with its own status.
    let answer = browser.call("/api/my_profile", "").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.text().await.unwrap().contains("SignInAgain"));
    assert_eq!(app.emulator.token_requests(), requests + 1, "and no renewal storm on reloads");

    // Signing in again, interactively, brings the page back once the service accepts tokens.
    app.emulator.faults().clear();
    let start = browser.get("/auth/sign-in?returnUrl=/profile&interactive=true").await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = common::browser::location(&start);
    assert!(authorize.contains("/authorize?") && !authorize.contains("prompt=none"), "interactive, no silent attempt: {authorize}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_05_a_page_recovers_by_itself_when_only_the_cached_token_was_refused() {
    let app = start_app(Vec::new(), |_| {}).await;
    let browser = Browser::new(&app.url);
    browser.sign_in("Adele Vance").await;
    assert!(browser.get("/profile").await.text().await.unwrap().contains("AdeleV@contoso.example"));
    let revoke = format!("{}_emulator/access-tokens/revoke", app.emulator.base_url());
    assert!(reqwest::Client::new().post(revoke).send().await.unwrap().status().is_success());

    let requests = app.emulator.token_requests();
    let page = browser.get("/profile").await.text().await.unwrap();
    assert!(page.contains("AdeleV@contoso.example"), "the profile renders again: {page}");
    assert_eq!(app.emulator.token_requests(), requests + 1, "with one token request");
}

/// The app as `main` serves it, with a route that takes `ms` milliseconds,
/// draining as `times` says once `signal` fires.
async fn serve_draining(
    times: idweb::server::shutdown::ShutdownTimes,
) -> (std::net::SocketAddr, idweb::server::shutdown::Lifecycle, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<idweb::server::shutdown::Stopped>>) {
    use axum::extract::Path;
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
        "Session": { "SecureCookie": false },
    });
    let identity = idweb_identity::Identity::builder(idweb_identity::IdentityConfig::from_json(&settings).unwrap()).build().await.unwrap();
    let lifecycle = idweb::server::shutdown::Lifecycle::default();
    let options = idweb::server::site_options().unwrap();
    let slow = |Path(ms): Path<u64>| async move {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        "done"
    };
    let app = idweb::server::app_router_with(identity, options, &lifecycle).route("/test/slow/{ms}", axum::routing::get(slow));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        let _ = fired.await;
    };
    let server = tokio::spawn(idweb::server::shutdown::serve_until(listener, app, lifecycle.clone(), times, signal));
    (address, lifecycle, fire, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_readyz_fails_at_once_the_listener_drains_and_requests_in_flight_get_a_bounded_time() {
    use idweb::server::shutdown::{ShutdownTimes, Stopped};
    use std::time::Duration;
    let times = ShutdownTimes { drain: Duration::from_secs(1), finish: Duration::from_secs(1) };
    let (address, lifecycle, fire, server) = serve_draining(times).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    assert_eq!(client.get(url("/readyz")).send().await.unwrap().status(), StatusCode::OK);

    // In flight when the signal comes: one that fits in the time given, one that never would.
    let quick = tokio::spawn(reqwest::get(url("/test/slow/1500")));
    let stuck = tokio::spawn(reqwest::get(url("/test/slow/60000")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    fire.send(()).unwrap();
    while !lifecycle.is_draining() {
        tokio::task::yield_now().await;
    }

    // Draining: not ready at once, but still accepting (the balancer is moving away), and every answer closes its connection.
    let ready = client.get(url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers().get("connection").and_then(|value| value.to_str().ok()), Some("close"));
    assert_eq!(ready.text().await.unwrap(), "not ready: shutting down");
    assert_eq!(client.get(url("/healthz")).send().await.unwrap().status(), StatusCode::OK, "new connections are still served while draining");

    // Then the listener closes, the quick request finishes, the stuck one is dropped when the time runs out.
    let stopped = tokio::time::timeout(Duration::from_secs(30), server).await.expect("shutdown is bounded").unwrap().unwrap();
    assert_eq!(stopped, Stopped::TimedOut, "the 60 s request did not hold the process");
    let quick = quick.await.unwrap().expect("the request in flight was answered");
    assert_eq!(quick.text().await.unwrap(), "done");
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "the listener is closed");
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_nothing_in_flight_finishes_cleanly() {
    use idweb::server::shutdown::{ShutdownTimes, Stopped};
    use std::time::Duration;
    let times = ShutdownTimes { drain: Duration::from_millis(100), finish: Duration::from_secs(20) };
    let (address, _, fire, server) = serve_draining(times).await;
    assert_eq!(reqwest::get(format!("http://{address}/healthz")).await.unwrap().status(), StatusCode::OK);
    fire.send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(30), server).await.expect("shutdown is bounded").unwrap().unwrap();
    assert_eq!(stopped, Stopped::Finished);
}
