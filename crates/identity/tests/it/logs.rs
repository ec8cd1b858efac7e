//! LOG-01 (first version): the tracing output of a whole flow — sign-in,
//! Graph call, refused replay, sign-out — holds no code, token or secret;
//! LOG-02; and FLT-03's one line per store outage.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::logs::capture_logs;
use support::shared::new_key;
use support::{location, TestApp, ADELE};

/// Bound on every wait: a hang fails the test instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(20);

// One thread: the app, the emulator and the client all log into this subscriber.
#[tokio::test(flavor = "current_thread")]
async fn log_01_a_full_flow_logs_no_code_token_or_secret() {
    let (logs, _guard) = capture_logs();

    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    browser.callback(&callback).await;
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    assert_eq!(browser.whoami().await, ADELE);
    let adele = idweb_identity::HomeAccountId::new(&support::user_object_id(ADELE), app.emulator.tenant_id());
    let key = idweb_identity::PartitionKey::User(adele);
    let tokens = app.identity.cache().load(&key).await.unwrap().expect("Adele's tokens are cached").partition;
    browser.callback(&callback).await; // a refused replay logs a security event
    browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap();

    let text = logs.text();
    assert!(text.contains("user signed in"), "the capture works: {text}");
    assert!(text.contains("idweb::security"), "the replay was logged as a security event");
    let code = callback.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let mut secrets = vec![("authorization code", code), ("client secret", app.client_secret.clone())];
    secrets.push(("access token", tokens.access_tokens[0].token.secret().clone()));
    secrets.push(("refresh token", tokens.refresh_token.as_ref().unwrap().secret().clone()));
    secrets.push(("state", request.params["state"].clone()));
    secrets.push(("nonce", request.params["nonce"].clone()));
    for (what, value) in secrets {
        assert!(!text.contains(&value), "the {what} appears in the logs");
    }
    let jwt = regex_like_jwt(&text);
    assert!(jwt.is_none(), "a JWT appears in the logs: {jwt:?}");
}

/// Finds `eyJ...\.eyJ...` (a JWT's header and payload) without a regex crate.
fn regex_like_jwt(text: &str) -> Option<&str> {
    text.match_indices("eyJ").map(|(index, _)| &text[index..]).find(|rest| {
        let header: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        header.len() > 10 && rest[header.len()..].starts_with(".eyJ")
    })
}

/// LOG-02: an authorization response whose `error` carries a newline, a
/// carriage return and a terminal escape is logged on one line, escaped.
#[tokio::test(flavor = "current_thread")]
async fn log_02_text_from_outside_cannot_forge_a_log_line_or_drive_a_terminal() {
    let (logs, _guard) = capture_logs();

    let app = TestApp::start().await;
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let forged = "access_denied\n2026-01-01T00:00:00Z  INFO idweb: user signed in as admin\r\x1b[2J";
    let mut callback = app.url.join("signin-oidc").unwrap();
    callback
        .query_pairs_mut()
        .append_pair("state", &request.params["state"])
        .append_pair("error", forged)
        .append_pair("iss", &support::issuer(&app));
    browser.callback(&callback).await;

    let text = logs.text();
    assert!(text.contains("access_denied\\x0a2026-01-01T00:00:00Z  INFO idweb: user signed in as admin\\x0d\\x1b[2J"), "logged, escaped: {text}");
    assert!(!text.lines().any(|line| line.starts_with("2026-01-01")), "no forged line: {text}");
    assert!(!text.contains('\x1b') && !text.contains('\r'), "no raw control character reaches the log");
}

/// LOG-01 over the other token paths: a refresh, an app token, and a
/// certificate credential's client assertions (JWTs the logs must never show).
#[tokio::test(flavor = "current_thread")]
async fn log_01_refreshes_app_tokens_and_client_assertions_log_no_token() {
    let (logs, _guard) = capture_logs();

    let files = support::certificates::certificate_files();
    let entry = serde_json::json!({ "SourceType": "Path", "CertificateDiskPath": files.combined });
    let app = support::certificates::app_with_certificate(&files, entry).await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let adele = support::signed_in(ADELE, app.emulator.tenant_id());
    support::expire_access_tokens(&app.identity, &adele).await;
    let refreshed = app.identity.tokens().for_user(&adele, &["User.Read".to_owned()]).await.unwrap();
    let app_token = app.identity.tokens().for_app(&["https://graph.microsoft.com/.default".to_owned()]).await.unwrap();
    let partition = support::partition(&app.identity, &adele).await;

    let text = logs.text();
    assert!(text.contains("source=Refresh") && text.contains("source=ClientCredentials"), "both paths ran and logged: {text}");
    for (what, value) in [
        ("refreshed access token", refreshed.secret().clone()),
        ("app token", app_token.secret().clone()),
        ("rotated refresh token", partition.refresh_token.unwrap().secret().clone()),
    ] {
        assert!(!text.contains(&value), "the {what} appears in the logs");
    }
    let key = std::fs::read_to_string(&files.key_only).unwrap();
    let key_body: String = key.lines().filter(|line| !line.starts_with("-----")).take(3).collect();
    assert!(!text.contains(&key_body[..40]), "the certificate's key appears in the logs");
    let jwt = regex_like_jwt(&text);
    assert!(jwt.is_none(), "a JWT (token or client assertion) appears in the logs: {jwt:?}");
}

/// FLT-02: the wait before a retry is the one `Retry-After` asked for (read
/// from what the caller decided, not from a clock).
#[tokio::test(flavor = "current_thread")]
async fn flt_02_the_wait_before_a_retry_is_the_one_retry_after_asked_for() {
    let (logs, _guard) = capture_logs();
    let app = TestApp::start().await;
    app.browser().sign_in(ADELE).await;
    let adele = support::signed_in(ADELE, app.emulator.tenant_id());
    app.emulator.faults().arm_api(idweb_emulator::faults::ApiFault::Throttle { retry_after_secs: 2, count: 1 }).unwrap();
    let me = app.identity.graph().me(&adele).await.expect("served after the wait");
    assert_eq!(me.display_name.as_deref(), Some(ADELE));
    let text = logs.text();
    let retry = text.lines().find(|line| line.contains("downstream API asks to retry")).expect("the retry was logged");
    assert!(retry.contains("status=429") && retry.contains("wait_ms=2000"), "{retry}");
}

// FLT-03 with sessions in Redis: here, where every test logs into a subscriber of its own
// (a log call site first reached with none is remembered as uninteresting).
/// How many times `needle` appears in `haystack`.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

// One thread, so the app's log lines land in this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn flt_03_sessions_in_redis_down_every_request_answers_try_again_at_once_with_one_log_line() {
    let (logs, _guard) = support::logs::capture_logs_as_served();
    let mut redis = support::redis::PrivateRedis::start();
    // A long command timeout: a request that queued for it instead of failing fast would show.
    let timeout_ms = 4000;
    // Sessions in Redis, tokens in memory: only the session store fails here.
    let sessions = json!({ "Store": "Redis", "ConnectionString": redis.url(), "TimeoutMilliseconds": timeout_ms });
    let token_cache = json!({ "EncryptionKeys": [{ "Id": "k1", "Key": new_key() }] });
    let app = TestApp::start_with(|_, settings| *settings = json!({ "TokenCache": token_cache, "Session": sessions })).await;
    let adele = app.browser();
    adele.sign_in(ADELE).await;
    assert_eq!(adele.get("/graph/me").await.text().await.unwrap(), ADELE);

    redis.stop();
    // Let the clients see the connection go (fred notices the closed socket).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();

    // Signed in: the user cannot be looked up; a "try again" answer, never a bare 500.
    for _ in 0..3 {
        let answer = adele.get("/graph/me").await;
        assert_eq!(answer.status(), reqwest::StatusCode::SEE_OTHER, "{:?}", answer.text().await);
        assert_eq!(location(&answer), "/auth/error?reason=store_unavailable");
    }
    // Someone new signs in: the start needs no store; the callback's new session cannot be
    // saved, and the browser lands on the sign-in error page, not an empty 500.
    let newcomer = app.browser();
    let request = newcomer.start_sign_in().await;
    let callback = newcomer.choose_user(&request, support::ALEX).await;
    let landed = newcomer
        .client
        .get(callback.clone())
        .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(location(&landed), "/auth/error?reason=store_unavailable");
    // A handler that changed the session and answered: tower-sessions' own save at the end
    // fails. A browser navigating gets a "try again" page that links to the same page (not a
    // redirect: the page it would lead to writes the session too, and could loop), any other
    // client a 503 with Retry-After; never the layer's empty 500.
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let challenge = format!("/test/challenge?claims={}", url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>());
    let navigating = newcomer.client.get(app.url.join(&challenge).unwrap()).header(reqwest::header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(navigating.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(navigating.headers().get(reqwest::header::RETRY_AFTER).and_then(|value| value.to_str().ok()), Some("5"));
    let page = navigating.text().await.unwrap();
    assert!(page.contains(&format!(r#"<a href="{}">Try again</a>"#, challenge.replace('&', "&amp;"))), "{page}");
    let fetching = newcomer.get(&challenge).await;
    assert_eq!(fetching.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(fetching.headers().get(reqwest::header::RETRY_AFTER).and_then(|value| value.to_str().ok()), Some("5"));
    assert!(fetching.text().await.unwrap().contains("try again"));

    // Fast: none of these waited for the command timeout (queued commands would each take it).
    let took = started.elapsed();
    assert!(took < Duration::from_millis(timeout_ms), "{took:?} for the requests during the outage");

    redis.launch();
    let back = Instant::now();
    while app.identity.check_ready().await.is_err() {
        assert!(back.elapsed() < LIMIT, "never reconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The restarted Redis kept nothing: people sign in again, and it works.
    assert_eq!(adele.whoami().await, "nobody");
    adele.sign_in(ADELE).await;
    assert_eq!(adele.whoami().await, ADELE);
    // The outage is declared over once the store has answered for a quiet spell. Signed-in
    // requests may not reach it at all now (the sessions' L1 serves them); the readiness
    // probe a load balancer sends always does.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.identity.check_ready().await.expect("ready again");
    assert_eq!(adele.whoami().await, ADELE);

    let text = logs.text();
    assert_eq!(occurrences(&text, "session store unavailable"), 1, "one line for the outage:\n{text}");
    assert_eq!(occurrences(&text, "session store answering again"), 1, "one line for its end:\n{text}");
    assert!(!text.contains(" ERROR "), "no error line per request:\n{text}");
    assert!(occurrences(&text, " WARN ") <= 2, "no warning per request:\n{text}");
}


// A refusal is not an outage: a session key Redis refuses to read (here a key of the wrong
// type; in production an ACL or a misconfigured Redis) is logged as an error on every
// request, and no outage is declared.
#[tokio::test(flavor = "current_thread")]
async fn flt_03_a_store_that_refuses_rather_than_fails_is_logged_every_time_not_as_an_outage() {
    use fred::prelude::{ClientLike, KeysInterface, ListInterface};
    let (logs, _guard) = support::logs::capture_logs_as_served();
    let redis = support::redis::PrivateRedis::start();
    let sessions = json!({ "Store": "Redis", "ConnectionString": redis.url() });
    let token_cache = json!({ "EncryptionKeys": [{ "Id": "k1", "Key": new_key() }] });
    let app = TestApp::start_with(|_, settings| *settings = json!({ "TokenCache": token_cache, "Session": sessions })).await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    assert_eq!(browser.whoami().await, ADELE);

    let client = support::shared::redis_client(&redis.url()).await;
    let keys = support::shared::redis_keys(&client, "*").await;
    assert_eq!(keys.len(), 1, "the one session: {keys:?}");
    let _: i64 = client.del(keys[0].as_str()).await.unwrap();
    let _: i64 = client.lpush(keys[0].as_str(), "not a session").await.unwrap();
    client.quit().await.unwrap();

    for _ in 0..3 {
        let answer = browser.get("/whoami").await;
        assert!(!answer.status().is_success(), "the session cannot be read");
    }
    let text = logs.text();
    assert_eq!(text.matches("the session store refused a command").count(), 3, "every time:\n{text}");
    assert!(!text.contains("session store unavailable"), "not an outage:\n{text}");
    drop(redis);
}
