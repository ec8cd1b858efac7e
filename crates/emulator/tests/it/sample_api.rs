//! The sample to-do API: its own audience and scope, one list per user.

use crate::support;

use idweb_emulator::config::SAMPLE_API_APP_ID;
use serde_json::json;
use support::*;

const ALEX_OID: &str = "2b7c4e10-9d3f-4a8b-b6c2-5e1d0f9a3b02";

fn api_scope() -> String {
    format!("openid api://{SAMPLE_API_APP_ID}/access_as_user")
}

async fn token_for(emulator: &Emulator, user_oid: &str) -> String {
    let code = query(&emulator.authorize_as(&emulator.authorize_params(&api_scope()), user_oid).await)["code"].clone();
    let body: serde_json::Value = emulator.redeem(&code).await.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_user_has_their_own_list() {
    let emulator = Emulator::start().await;
    let adele = token_for(&emulator, ADELE_OID).await;
    let alex = token_for(&emulator, ALEX_OID).await;
    let url = emulator.url("api/todolist");
    let created = emulator.http.post(&url).bearer_auth(&adele).json(&json!({ "title": "Buy milk" })).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let item: serde_json::Value = created.json().await.unwrap();
    assert_eq!(item["owner"], ADELE_OID);

    let adele_list: serde_json::Value = emulator.http.get(&url).bearer_auth(&adele).send().await.unwrap().json().await.unwrap();
    assert_eq!(adele_list[0]["title"], "Buy milk");
    let alex_list: serde_json::Value = emulator.http.get(&url).bearer_auth(&alex).send().await.unwrap().json().await.unwrap();
    assert_eq!(alex_list, json!([]), "no other user's items");

    let item_url = emulator.url(&format!("api/todolist/{}", item["id"]));
    assert_eq!(emulator.http.delete(&item_url).bearer_auth(&alex).send().await.unwrap().status(), 404, "not Alex's to delete");
    assert_eq!(emulator.http.delete(&item_url).bearer_auth(&adele).send().await.unwrap().status(), 204);
    assert_eq!(emulator.http.delete(&item_url).bearer_auth(&adele).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn graph_tokens_and_bad_bodies_are_refused() {
    let emulator = Emulator::start().await;
    let url = emulator.url("api/todolist");
    let graph = emulator.tokens_for("openid User.Read").await["access_token"].as_str().unwrap().to_owned();
    let wrong_audience = emulator.http.get(&url).bearer_auth(&graph).send().await.unwrap();
    assert_eq!(wrong_audience.status(), 401);
    assert!(wrong_audience.text().await.unwrap().contains("InvalidAuthenticationToken"));
    assert_eq!(emulator.http.get(&url).send().await.unwrap().status(), 401);

    let token = token_for(&emulator, ADELE_OID).await;
    let unknown_field = emulator.http.post(&url).bearer_auth(&token).json(&json!({ "titel": "x" })).send().await.unwrap();
    assert_eq!(unknown_field.status(), 400);
    assert!(unknown_field.text().await.unwrap().contains("titel"));
    let empty = emulator.http.post(&url).bearer_auth(&token).json(&json!({ "title": "  " })).send().await.unwrap();
    assert_eq!(empty.status(), 400);
}

#[tokio::test]
async fn a_daemon_with_the_read_all_role_sees_every_list() {
    let emulator = Emulator::start().await;
    let url = emulator.url("api/todolist");
    for (user, title) in [(ADELE_OID, "one"), (ALEX_OID, "two")] {
        let token = token_for(&emulator, user).await;
        emulator.http.post(&url).bearer_auth(&token).json(&json!({ "title": title })).send().await.unwrap();
    }
    let app: serde_json::Value = emulator
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emulator.client_id),
            ("client_secret", SECRET),
            ("scope", &format!("api://{SAMPLE_API_APP_ID}/.default")),
        ])
        .await
        .json()
        .await
        .unwrap();
    let daemon = app["access_token"].as_str().unwrap();
    let all: serde_json::Value = emulator.http.get(&url).bearer_auth(daemon).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let write = emulator.http.post(&url).bearer_auth(daemon).json(&json!({ "title": "x" })).send().await.unwrap();
    assert_eq!(write.status(), 403, "the role reads; writing is for users");
}

#[tokio::test]
async fn a_repeated_transaction_answers_the_item_it_made_instead_of_a_second_one() {
    let emulator = Emulator::start().await;
    let token = token_for(&emulator, ADELE_OID).await;
    let url = emulator.url("api/todolist");
    let new = json!({ "title": "Call the venue", "transactionId": "5f0c-tx_1" });
    let first = emulator.http.post(&url).bearer_auth(&token).json(&new).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = emulator.http.post(&url).bearer_auth(&token).json(&new).send().await.unwrap();
    assert_eq!(again.status(), 200, "a repeat is not a creation");
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first);
    let list: serde_json::Value = emulator.http.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Another user's identical transaction id is theirs alone.
    let alex = token_for(&emulator, ALEX_OID).await;
    assert_eq!(emulator.http.post(&url).bearer_auth(&alex).json(&new).send().await.unwrap().status(), 201);

    let item_url = emulator.url(&format!("api/todolist/{}", first["id"]));
    assert_eq!(emulator.http.delete(&item_url).bearer_auth(&token).send().await.unwrap().status(), 204);
    let replay_after_delete = emulator.http.post(&url).bearer_auth(&token).json(&new).send().await.unwrap();
    assert_eq!(replay_after_delete.status(), 409, "a late replay does not bring a deleted item back");

    let other_title = emulator.http.post(&url).bearer_auth(&alex).json(&json!({ "title": "Something else", "transactionId": "5f0c-tx_1" })).send().await.unwrap();
    assert_eq!(other_title.status(), 409, "a transaction id names one add, title and all");

    for bad in ["", "has space", "x".repeat(65).as_str(), "<script>"] {
        let refused = emulator.http.post(&url).bearer_auth(&token).json(&json!({ "title": "t", "transactionId": bad })).send().await.unwrap();
        assert_eq!(refused.status(), 400, "{bad:?}");
        assert!(refused.text().await.unwrap().contains("transactionId"));
    }
}

#[tokio::test]
async fn items_are_completed_with_patch_and_a_deleted_item_is_restored_at_its_place() {
    let emulator = Emulator::start().await;
    let token = token_for(&emulator, ADELE_OID).await;
    let url = emulator.url("api/todolist");
    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        let item: serde_json::Value = emulator.http.post(&url).bearer_auth(&token).json(&json!({ "title": title })).send().await.unwrap().json().await.unwrap();
        assert_eq!(item["completed"], false);
        ids.push(item["id"].as_u64().unwrap());
    }
    let second = emulator.url(&format!("api/todolist/{}", ids[1]));
    let done: serde_json::Value = emulator.http.patch(&second).bearer_auth(&token).json(&json!({ "completed": true })).send().await.unwrap().json().await.unwrap();
    assert_eq!(done["completed"], true);
    let alex = token_for(&emulator, ALEX_OID).await;
    assert_eq!(emulator.http.patch(&second).bearer_auth(&alex).json(&json!({ "completed": false })).send().await.unwrap().status(), 404, "not Alex's");
    let blank = emulator.http.patch(&second).bearer_auth(&token).json(&json!({ "title": " " })).send().await.unwrap();
    assert_eq!(blank.status(), 400);

    assert_eq!(emulator.http.delete(&second).bearer_auth(&token).send().await.unwrap().status(), 204);
    let restore = emulator.url(&format!("api/todolist/{}/restore", ids[1]));
    assert_eq!(emulator.http.post(&restore).bearer_auth(&alex).send().await.unwrap().status(), 404, "not Alex's to restore");
    let restored: serde_json::Value = emulator.http.post(&restore).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!((restored["id"].as_u64(), &restored["completed"]), (Some(ids[1]), &json!(true)), "the same item, as it was");
    assert_eq!(emulator.http.post(&restore).bearer_auth(&token).send().await.unwrap().status(), 200, "a repeated undo answers the same");
    let list: serde_json::Value = emulator.http.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let titles: Vec<&str> = list.as_array().unwrap().iter().map(|item| item["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["one", "two", "three"], "back at its place");
    let never_deleted = emulator.url(&format!("api/todolist/{}/restore", ids[0] + 1000));
    assert_eq!(emulator.http.post(&never_deleted).bearer_auth(&token).send().await.unwrap().status(), 404);
}
