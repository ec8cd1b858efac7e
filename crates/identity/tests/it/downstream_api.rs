//! Named downstream APIs (the emulator's sample to-do API) and the Graph
//! client's collections: calls for the user and as the app, paging,
//! throttling retried within the budget (FLT-02), bad paths refused.

use crate::support;

use idweb_emulator::faults::ApiFault;
use idweb_identity::IdentityError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::{signed_in, TestApp, ADELE, TODO_SCOPE};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Todo {
    id: u64,
    title: String,
    owner: String,
}

async fn app() -> (TestApp, idweb_identity::SignedInUser) {
    let app = TestApp::start_with(|emulator, _| {
        emulator.apps[0].admin_consented_scopes = vec!["User.Read".into(), "Mail.Read".into(), TODO_SCOPE.into()];
    })
    .await;
    app.browser().sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    (app, adele)
}

#[tokio::test]
async fn a_named_api_round_trips_for_the_user() {
    let (app, adele) = app().await;
    let apis = app.identity.downstream();
    let created: Todo = apis.post_for_user("TodoList", &adele, None, &json!({ "title": "Write the report" })).await.unwrap();
    assert_eq!(created.owner, adele.object_id);
    let listed: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.unwrap();
    assert_eq!(listed, vec![created]);
    let done: serde_json::Value = apis.patch_for_user("TodoList", &adele, Some(&format!("todolist/{}", listed[0].id)), &json!({ "completed": true })).await.unwrap();
    assert_eq!(done["completed"], true, "PATCH sends the change and reads the answer");
    apis.delete_for_user("TodoList", &adele, Some(&format!("todolist/{}", listed[0].id))).await.unwrap();
    let after: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.unwrap();
    assert!(after.is_empty());
    let missing = apis.delete_for_user("TodoList", &adele, Some("todolist/999")).await.unwrap_err();
    assert!(matches!(missing, IdentityError::Downstream { status: 404, .. }), "{missing}");
}

#[tokio::test]
async fn request_app_token_calls_as_the_app() {
    let (app, adele) = app().await;
    let apis = app.identity.downstream();
    let _: Todo = apis.post_for_user("TodoList", &adele, None, &json!({ "title": "one" })).await.unwrap();
    let everyone: Vec<Todo> = apis.call_for_app("TodoListAsApp", None).await.unwrap();
    assert_eq!(everyone.len(), 1, "the app role reads every user's list");
}

#[tokio::test]
async fn flt_02_throttling_is_retried_after_the_asked_wait_then_succeeds() {
    let (app, adele) = app().await;
    app.emulator.faults().arm_api(ApiFault::Throttle { retry_after_secs: 1, count: 1 }).unwrap();
    let listed: Vec<Todo> = app.identity.downstream().get_for_user("TodoList", &adele, None).await.expect("the retry succeeds");
    assert!(listed.is_empty());
}

#[tokio::test]
async fn flt_02_unavailability_beyond_the_retry_budget_is_a_clear_error() {
    let (app, adele) = app().await;
    app.emulator.faults().arm_api(ApiFault::Status { status: 503, retry_after_secs: Some(0), count: 3 }).unwrap();
    let error = app.identity.downstream().get_for_user::<Vec<Todo>>("TodoList", &adele, None).await.unwrap_err();
    let IdentityError::Downstream { status, code, .. } = &error else { panic!("{error}") };
    assert_eq!((*status, code.as_str()), (503, "serviceNotAvailable"));
    assert!(app.emulator.faults().armed().api.is_empty(), "three attempts: the first and two retries");

    app.emulator.faults().arm_api(ApiFault::Throttle { retry_after_secs: 3600, count: 1 }).unwrap();
    let error = app.identity.downstream().get_for_user::<Vec<Todo>>("TodoList", &adele, None).await.unwrap_err();
    assert!(matches!(error, IdentityError::Downstream { status: 429, .. }), "an hour's wait is not waited: {error}");
}

#[tokio::test]
async fn unknown_apis_and_paths_outside_the_api_are_refused() {
    let (app, adele) = app().await;
    let apis = app.identity.downstream();
    let unknown = apis.get_for_user::<serde_json::Value>("Payroll", &adele, None).await.unwrap_err();
    assert!(unknown.to_string().contains("DownstreamApis:Payroll"), "{unknown}");
    for escape in ["https://evil.example/steal", "../v1.0/me", "../../7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10/oauth2/v2.0/token"] {
        let refused = apis.get_for_user::<serde_json::Value>("TodoList", &adele, Some(escape)).await.unwrap_err();
        assert!(refused.to_string().contains("not under the API's base URL"), "{escape}: {refused}");
    }
}

#[tokio::test]
async fn graph_collections_page_to_the_end_and_users_need_the_app() {
    let (app, adele) = app().await;
    let graph = app.identity.graph();
    let all = graph.messages_up_to(&adele, 100, 10).await.unwrap();
    assert_eq!(all.len(), 25, "three pages followed to the end");
    let some = graph.messages_up_to(&adele, 12, 10).await.unwrap();
    assert_eq!(some.len(), 12, "stops at the caller's limit");
    let users = graph.users(2).await.unwrap();
    assert_eq!(users.users.len(), 2);
    assert!(users.next_link.is_some());
    let photo = graph.me_photo(&adele).await.unwrap().expect("a photo");
    assert_eq!(photo.content_type, "image/png");
    let selected = graph.me_select(&adele, &["displayName"]).await.unwrap();
    assert_eq!(selected.display_name.as_deref(), Some(ADELE));
    assert!(selected.mail.is_none(), "only what was selected");
    let foreign = graph.messages_page(&adele, "https://evil.example/v1.0/me/messages").await.unwrap_err();
    assert!(foreign.to_string().contains("not under"), "{foreign}");
}

#[tokio::test]
async fn flt_02_a_post_answered_503_is_not_repeated_unless_the_api_says_writes_are_idempotent() {
    let (app, adele) = app().await;
    app.emulator.faults().arm_api(ApiFault::Status { status: 503, retry_after_secs: Some(0), count: 1 }).unwrap();
    let error = app.identity.downstream().post_for_user::<_, Todo>("TodoList", &adele, None, &json!({ "title": "once" })).await.unwrap_err();
    assert!(matches!(error, IdentityError::Downstream { status: 503, .. }), "{error}");
    let listed: Vec<Todo> = app.identity.downstream().get_for_user("TodoList", &adele, None).await.unwrap();
    assert!(listed.is_empty(), "not sent again");

    // The same API declared idempotent for writes: the 503 is retried.
    let mut settings = app.settings.clone();
    settings["DownstreamApis"]["TodoList"]["RetryWrites"] = json!(true);
    let relaxed = app.another_instance_with(|changed| *changed = settings, Some(app.identity.cache().clone())).await;
    app.emulator.faults().arm_api(ApiFault::Status { status: 503, retry_after_secs: Some(0), count: 1 }).unwrap();
    let created: Todo = relaxed.identity.downstream().post_for_user("TodoList", &adele, None, &json!({ "title": "retried" })).await.unwrap();
    assert_eq!(created.title, "retried");
}

/// The emulator's admin API: every access token issued so far is refused with a plain 401.
async fn revoke_issued_access_tokens(app: &TestApp) {
    let url = format!("{}_emulator/access-tokens/revoke", app.emulator.base_url());
    let answer = reqwest::Client::new().post(url).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

#[tokio::test]
async fn flt_05_an_api_that_refuses_a_cached_token_recovers_with_one_token_request() {
    let (app, adele) = app().await;
    let apis = app.identity.downstream();
    let _: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.unwrap();
    assert_eq!(app.identity.graph().me(&adele).await.unwrap().display_name.as_deref(), Some(ADELE));
    revoke_issued_access_tokens(&app).await;

    let requests = app.emulator.token_requests();
    let listed: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.expect("the to-do API recovers");
    assert!(listed.is_empty());
    assert_eq!(app.emulator.token_requests(), requests + 1, "one renewal for the refused to-do token");
    assert_eq!(app.identity.graph().me(&adele).await.unwrap().display_name.as_deref(), Some(ADELE), "Graph recovers too");
    assert_eq!(app.emulator.token_requests(), requests + 2, "and one renewal for Graph's");
    // The renewed tokens are cached and accepted: no more requests.
    let _: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.unwrap();
    app.identity.graph().me(&adele).await.unwrap();
    assert_eq!(app.emulator.token_requests(), requests + 2);
}

#[tokio::test]
async fn flt_05_a_renewed_token_refused_again_asks_the_user_to_sign_in_again_without_a_retry_storm() {
    let (app, adele) = app().await;
    let apis = app.identity.downstream();
    let _: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.unwrap();
    // Every token, renewed or not, is refused from now on.
    app.emulator.faults().refuse_every_access_token();

    let requests = app.emulator.token_requests();
    let error = apis.get_for_user::<Vec<Todo>>("TodoList", &adele, None).await.unwrap_err();
    assert!(matches!(error, IdentityError::TokenRefused { ref scopes } if scopes == &vec![TODO_SCOPE.to_owned()]), "{error}");
    assert_eq!(app.emulator.token_requests(), requests + 1, "renewed once, then given up");
    for _ in 0..5 {
        let error = apis.get_for_user::<Vec<Todo>>("TodoList", &adele, None).await.unwrap_err();
        assert!(matches!(error, IdentityError::TokenRefused { .. }), "{error}");
    }
    assert_eq!(app.emulator.token_requests(), requests + 1, "reloads do not renew again (bounded per user and API)");
    // The partition kept its refresh token: this is the resource's refusal, not the provider's.
    assert!(support::partition(&app.identity, &adele).await.refresh_token.is_some());

    // The resource accepts new tokens again; "Sign in again" (a new grant) is what brings the page back.
    app.emulator.faults().clear();
    revoke_issued_access_tokens(&app).await;
    assert!(matches!(apis.get_for_user::<Vec<Todo>>("TodoList", &adele, None).await, Err(IdentityError::TokenRefused { .. })));
    app.browser().sign_in(ADELE).await;
    let listed: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.expect("the new sign-in's tokens are tried at once");
    assert!(listed.is_empty());
}

#[tokio::test]
async fn flt_05_an_app_token_the_api_refuses_is_renewed_once() {
    let (app, _) = app().await;
    let apis = app.identity.downstream();
    let _: Vec<Todo> = apis.call_for_app("TodoListAsApp", None).await.unwrap();
    revoke_issued_access_tokens(&app).await;
    let requests = app.emulator.token_requests();
    let _: Vec<Todo> = apis.call_for_app("TodoListAsApp", None).await.expect("a new app token is accepted");
    assert_eq!(app.emulator.token_requests(), requests + 1);

    app.emulator.faults().refuse_every_access_token();
    let requests = app.emulator.token_requests();
    let error = apis.call_for_app::<Vec<Todo>>("TodoListAsApp", None).await.unwrap_err();
    assert!(matches!(error, IdentityError::Downstream { status: 401, .. }), "{error}");
    apis.call_for_app::<Vec<Todo>>("TodoListAsApp", None).await.unwrap_err();
    assert_eq!(app.emulator.token_requests(), requests + 1, "renewed once, not on every call");
}

#[tokio::test]
async fn flt_05_the_claims_challenge_path_is_unchanged() {
    let (app, adele) = app().await;
    let apis = app.identity.downstream();
    let _: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.unwrap();
    app.emulator.faults().arm_api(ApiFault::ClaimsChallenge { claims: None, count: 1 }).unwrap();
    let requests = app.emulator.token_requests();
    let _: Vec<Todo> = apis.get_for_user("TodoList", &adele, None).await.expect("a challenge is answered by a renewal with claims");
    assert_eq!(app.emulator.token_requests(), requests + 1);
}
