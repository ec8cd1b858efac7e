//! FLT-01 at code redemption and discovery: an outage, a gateway's error
//! page or a misconfigured provider is told apart from an attack. The user
//! reads the right reason and no security event is logged for an outage.

use crate::support;

use idweb_emulator::faults::{InjectedError, RawAnswer, TokenFault};
use support::{location, Browser, TestApp, ADELE};

fn answer_code_redemption_with(app: &TestApp, status: u16, content_type: &str, body: &str) {
    let raw = RawAnswer { status, content_type: content_type.into(), body: body.into(), retry_after_secs: None };
    let fault = TokenFault { grant_type: Some("authorization_code".into()), delay_ms: 0, error: None, raw: Some(raw), count: 1 };
    app.emulator.faults().arm_token(fault).unwrap();
}

async fn sign_in_outcome(app: &TestApp) -> (String, Browser) {
    let browser = app.browser();
    let request = browser.start_sign_in().await;
    let callback = browser.choose_user(&request, ADELE).await;
    let outcome = location(&browser.callback(&callback).await).to_owned();
    (outcome, browser)
}

#[tokio::test]
async fn flt_01_a_503_html_page_at_code_redemption_is_an_outage_not_a_rejected_code() {
    let app = TestApp::start().await;
    answer_code_redemption_with(&app, 503, "text/html", "<html><body><h1>503 Service Unavailable</h1></body></html>");
    let (outcome, browser) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
    assert_eq!(browser.whoami().await, "nobody");
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0);
}

#[tokio::test]
async fn flt_01_a_problem_json_from_a_gateway_is_an_outage_not_a_validation_failure() {
    let app = TestApp::start().await;
    let problem = r#"{"type":"https://gateway.example/errors/quota","title":"Request blocked","status":403}"#;
    answer_code_redemption_with(&app, 403, "application/problem+json", problem);
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn flt_01_a_500_is_an_outage_even_when_its_body_says_invalid_grant() {
    let app = TestApp::start().await;
    answer_code_redemption_with(&app, 500, "application/json", r#"{"error":"invalid_grant","error_description":"boom"}"#);
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn flt_01_a_200_html_page_is_an_outage_not_an_id_token_failure() {
    let app = TestApp::start().await;
    answer_code_redemption_with(&app, 200, "text/html; charset=utf-8", "<html>Please sign in to the proxy</html>");
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=provider_unavailable");
}

#[tokio::test]
async fn tok_02_a_real_invalid_grant_is_still_a_rejected_code() {
    let app = TestApp::start().await;
    let injected = InjectedError { error: "invalid_grant".into(), status: None, aadsts: None, description: None, suberror: None, claims: None };
    let fault = TokenFault { grant_type: Some("authorization_code".into()), delay_ms: 0, error: Some(injected), raw: None, count: 1 };
    app.emulator.faults().arm_token(fault).unwrap();
    let (outcome, _) = sign_in_outcome(&app).await;
    assert_eq!(outcome, "/auth/error?reason=code_rejected");
}

#[tokio::test]
async fn flt_01_a_discovery_issuer_of_another_host_is_a_misconfigured_provider_not_an_outage() {
    // The emulator declares issuers under 127.0.0.1; this app is told the authority is `localhost`.
    let app = TestApp::start_with(|_, _| {}).await;
    let mut settings = app.settings.clone();
    let instance = app.emulator.base_url().replace("127.0.0.1", "localhost");
    settings["AzureAd"]["Instance"] = serde_json::json!(instance);
    let other = app.another_instance_with(|changed| *changed = settings, None).await;
    let response = Browser::new(other.url.clone()).get("/auth/sign-in").await;
    assert_eq!(location(&response), "/auth/error?reason=provider_misconfigured");
}

// FLT-04: a provider outage with renewals due fails nobody whose token still works.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use idweb_identity::cache::SaveOutcome;
use idweb_identity::{HomeAccountId, IdentityError, PartitionKey, SignedInUser};

/// Users signed in for the outage tests: the emulator's three and more made like them.
const USERS: usize = 12;

struct Person {
    name: String,
    user: SignedInUser,
    browser: Browser,
}

fn more_users(emulator: &mut idweb_emulator::EmulatorConfig) {
    let template = emulator.users[0].clone();
    for index in emulator.users.len()..USERS {
        let mut user = template.clone();
        user.object_id = format!("0000a0a0-0000-4000-8000-{index:012}");
        user.display_name = format!("Outage User{index}");
        user.given_name = "Outage".into();
        user.surname = format!("User{index}");
        user.user_principal_name = format!("outage{index}@contoso.example");
        user.mail = user.user_principal_name.clone();
        emulator.users.push(user);
    }
}

/// An app with [`USERS`] people signed in through the real flow.
async fn app_with_people(customise: impl FnOnce(&mut idweb_emulator::EmulatorConfig, &mut serde_json::Value)) -> (TestApp, Vec<Person>) {
    let app = TestApp::start_with(|emulator, settings| {
        more_users(emulator);
        customise(emulator, settings);
    })
    .await;
    let mut config = idweb_emulator::EmulatorConfig::default();
    more_users(&mut config);
    let users = config.users;
    let mut people = Vec::new();
    for test_user in users {
        let browser = app.browser();
        let answer = browser.sign_in(&test_user.display_name).await;
        assert!(answer.status().is_redirection(), "{} signed in: {}", test_user.display_name, answer.status());
        let tenant = app.emulator.tenant_id().to_owned();
        let user = SignedInUser {
            home_account_id: HomeAccountId::new(&test_user.object_id, &tenant),
            object_id: test_user.object_id.clone(),
            tenant_id: tenant.clone(),
            name: test_user.display_name.clone(),
            username: String::new(),
            provider_session_id: None,
            id_token: Default::default(),
            signed_in_at: 0,
        };
        people.push(Person { name: test_user.display_name, user, browser });
    }
    assert_eq!(people.len(), USERS);
    (app, people)
}

/// Makes the user's cached access tokens due for renewal (as `refresh_in`
/// passing would), each with `left` of its life remaining.
async fn make_due(app: &TestApp, user: &SignedInUser, left: Duration) {
    let key = PartitionKey::User(user.home_account_id.clone());
    let stored = app.identity.cache().load_latest(&key).await.unwrap().expect("a partition");
    let mut partition = stored.partition;
    for token in &mut partition.access_tokens {
        token.refresh_on = Some(SystemTime::now() - Duration::from_secs(1));
        token.expires_at = SystemTime::now() + left;
    }
    let outcome = app.identity.cache().save(&key, &partition, Some(stored.etag)).await.unwrap();
    assert!(matches!(outcome, SaveOutcome::Saved(_)));
}

/// Whether the user's Graph token has been renewed (no longer due, no back-off).
async fn renewed(app: &TestApp, user: &SignedInUser) -> bool {
    let partition = support::partition(&app.identity, user).await;
    let now = SystemTime::now();
    partition.renewal_backoff.is_none()
        && !partition.access_tokens.is_empty()
        && partition.access_tokens.iter().all(|token| token.refresh_on.is_none_or(|due| due > now))
}

/// The token endpoint answers every refresh with a gateway's 503 page (until cleared).
fn fail_refreshes(app: &TestApp, retry_after_secs: Option<u64>, status: u16) {
    let raw = RawAnswer { status, content_type: "text/html".into(), body: "<html>503 Service Unavailable</html>".into(), retry_after_secs };
    let fault = TokenFault { grant_type: Some("refresh_token".into()), delay_ms: 0, error: None, raw: Some(raw), count: 100_000 };
    app.emulator.faults().arm_token(fault).unwrap();
}

/// Every person views their Graph page until `until`; answers that are not
/// their own name are counted as failures.
async fn views_until(people: &Arc<Vec<Person>>, until: Instant, failures: &Arc<AtomicU64>, views: &Arc<AtomicU64>) {
    let mut tasks = Vec::new();
    for index in 0..people.len() {
        let (people, failures, views) = (people.clone(), failures.clone(), views.clone());
        tasks.push(tokio::spawn(async move {
            let person = &people[index];
            while Instant::now() < until {
                let answer = person.browser.get("/graph/me").await;
                let ok = answer.status().is_success();
                let body = answer.text().await.unwrap();
                views.fetch_add(1, Ordering::Relaxed);
                if !ok || body != person.name {
                    failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("{}: {body}", person.name);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flt_04_a_provider_outage_with_renewals_due_fails_no_page_and_asks_the_provider_once_per_user_plus_probes() {
    let (app, people) = app_with_people(|_, _| {}).await;
    for person in &people {
        make_due(&app, &person.user, Duration::from_secs(3500)).await;
    }
    let people = Arc::new(people);
    let (failures, views) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    // The token endpoint fails for 8 seconds while everyone keeps reading.
    fail_refreshes(&app, None, 503);
    let before = app.emulator.token_requests();
    views_until(&people, Instant::now() + Duration::from_secs(8), &failures, &views).await;
    let during = app.emulator.token_requests() - before;
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no page failed for a user whose token works");
    assert!(views.load(Ordering::Relaxed) > 10 * USERS as u64, "the users kept reading: {views:?}");
    // One renewal per user before the breaker opened, and a few probes after.
    assert!(during <= USERS as u64 + 4, "{during} token requests in the outage for {USERS} users");

    // The endpoint returns: within one back-off every user's token is renewed.
    app.emulator.faults().clear();
    let returned = Instant::now();
    let mut recovered = None;
    while returned.elapsed() < Duration::from_secs(90) {
        views_until(&people, Instant::now() + Duration::from_millis(500), &failures, &views).await;
        let mut all = true;
        for person in people.iter() {
            all &= renewed(&app, &person.user).await;
        }
        if all {
            recovered = Some(returned.elapsed());
            break;
        }
    }
    let recovered = recovered.expect("every user's token renewed after the provider returned");
    eprintln!("FLT-04: {during} token requests during the outage, recovered {recovered:?} after the endpoint returned");
    // The longest wait is the breaker's (probes double from 5 s up to a minute) or a partition's.
    assert!(recovered < Duration::from_secs(75), "recovery took {recovered:?}");
    assert_eq!(failures.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn flt_04_an_expired_token_is_never_served_whatever_the_provider_does() {
    let app = TestApp::start().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    let user = support::signed_in(ADELE, app.emulator.tenant_id());
    let scopes = vec!["User.Read".to_owned()];
    fail_refreshes(&app, None, 503);

    // Due, and working for 10 more seconds: too close to its end to start a call with.
    make_due(&app, &user, Duration::from_secs(10)).await;
    let error = app.identity.tokens().for_user(&user, &scopes).await.unwrap_err();
    assert!(matches!(error, IdentityError::ProviderUnavailable(_)), "{error}");
    // Renewals of this user now wait: still no token, and no request either.
    let requests = app.emulator.token_requests();
    let error = app.identity.tokens().for_user(&user, &scopes).await.unwrap_err();
    assert!(matches!(error, IdentityError::ProviderUnavailable(ref why) if why.contains("renewals wait")), "{error}");
    assert_eq!(app.emulator.token_requests(), requests);

    // Expired outright: the same.
    support::expire_access_tokens(&app.identity, &user).await;
    let error = app.identity.tokens().for_user(&user, &scopes).await.unwrap_err();
    assert!(matches!(error, IdentityError::ProviderUnavailable(_)), "{error}");
    assert!(browser.get("/graph/me").await.text().await.unwrap().contains("unavailable"));
}

#[tokio::test]
async fn flt_04_a_renewal_that_fails_serves_the_working_token_and_the_backoff_is_shared_through_the_cache() {
    let app = TestApp::start().await;
    app.browser().sign_in(ADELE).await;
    let user = support::signed_in(ADELE, app.emulator.tenant_id());
    let scopes = vec!["User.Read".to_owned()];
    make_due(&app, &user, Duration::from_secs(3000)).await;
    let held = support::partition(&app.identity, &user).await.access_tokens[0].token.secret().clone();
    fail_refreshes(&app, Some(20), 503);

    let requests = app.emulator.token_requests();
    let served = app.identity.tokens().for_user(&user, &scopes).await.unwrap();
    assert_eq!(served.secret(), &held, "the token due for renewal is served");
    assert_eq!(app.emulator.token_requests(), requests + 1);
    let backoff = support::partition(&app.identity, &user).await.renewal_backoff.expect("the back-off is kept in the partition");
    let wait = backoff.not_before.duration_since(SystemTime::now()).unwrap();
    assert!(wait > Duration::from_secs(18) && wait <= Duration::from_secs(23), "Retry-After: 20 is honoured: {wait:?}");

    // Another instance sharing the partition waits as well: no request of its own.
    let other = app.another_instance(Some(app.identity.cache().clone())).await;
    for _ in 0..5 {
        assert_eq!(other.identity.tokens().for_user(&user, &scopes).await.unwrap().secret(), &held);
        assert_eq!(app.identity.tokens().for_user(&user, &scopes).await.unwrap().secret(), &held);
    }
    assert_eq!(app.emulator.token_requests(), requests + 1, "one request for the outage, whoever asks");
}

#[tokio::test]
async fn flt_04_a_429_with_retry_after_pauses_every_renewal_of_the_app() {
    let (app, people) = app_with_people(|_, _| {}).await;
    for person in &people {
        make_due(&app, &person.user, Duration::from_secs(3000)).await;
    }
    let refreshes = |count| TokenFault {
        grant_type: Some("refresh_token".into()),
        delay_ms: 0,
        error: None,
        raw: Some(RawAnswer { status: 429, content_type: "application/json".into(), body: r#"{"error":"temporarily_unavailable"}"#.into(), retry_after_secs: Some(60) }),
        count,
    };
    app.emulator.faults().arm_token(refreshes(1)).unwrap();
    let scopes = vec!["User.Read".to_owned()];
    let requests = app.emulator.token_requests();
    for person in &people {
        app.identity.tokens().for_user(&person.user, &scopes).await.expect("the working token is served");
    }
    assert_eq!(app.emulator.token_requests(), requests + 1, "after one 429 nobody else's renewal is sent");
}
