//! ISO-01: with 200 users signed in and their requests interleaved, every
//! response, session and cached token belongs to the user who asked.

use crate::support;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::join_all;
use idweb_emulator::config::TestUser;
use support::{Browser, TestApp};

const USERS: usize = 200;

fn iso_user(index: usize) -> TestUser {
    TestUser {
        object_id: format!("00000000-0000-4000-8000-{index:012}"),
        display_name: format!("Iso User {index:03}"),
        given_name: "Iso".into(),
        surname: format!("User {index:03}"),
        user_principal_name: format!("isouser{index:03}@contoso.example"),
        mail: format!("isouser{index:03}@contoso.example"),
        job_title: None,
        office_location: None,
    }
}

/// The `oid` claim of an access token (the emulator's tokens are JWTs).
fn token_object_id(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["oid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iso_01_two_hundred_users_concurrently_each_get_only_their_own_data() {
    let app = TestApp::start_with(|emulator, _| emulator.users.extend((0..USERS).map(iso_user))).await;
    let app = Arc::new(app);
    let mut browsers: Vec<(usize, Arc<Browser>)> = Vec::new();
    // Signed in a few at a time, like people arriving.
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(20) {
        let signed_in = join_all(chunk.iter().map(|&index| {
            let browser = Arc::new(app.browser());
            async move {
                browser.sign_in(&iso_user(index).display_name).await;
                (index, browser)
            }
        }))
        .await;
        browsers.extend(signed_in);
    }

    // Every user asks three times at once, all users interleaved.
    let asks = browsers.iter().flat_map(|(index, browser)| {
        (0..3).map(move |round| {
            let browser = browser.clone();
            let index = *index;
            tokio::spawn(async move {
                let path = if round == 1 { "/whoami" } else { "/graph/me" };
                let answer = browser.get(path).await.text().await.unwrap();
                (index, path, answer)
            })
        })
    });
    let answers = join_all(asks).await;
    assert_eq!(answers.len(), USERS * 3);
    for answer in answers {
        let (index, path, text) = answer.unwrap();
        assert_eq!(text, iso_user(index).display_name, "{path} for user {index} answered someone else");
    }

    // And every cached token names its own user.
    let checks = (0..USERS).map(|index| {
        let app = app.clone();
        async move {
            let tenant_id = app.emulator.tenant_id().to_owned();
            let user = idweb_identity::SignedInUser {
                home_account_id: idweb_identity::HomeAccountId::new(&iso_user(index).object_id, &tenant_id),
                object_id: iso_user(index).object_id,
                tenant_id,
                name: iso_user(index).display_name,
                username: String::new(),
                provider_session_id: None,
                id_token: Default::default(),
                signed_in_at: 0,
            };
            let token = app.identity.tokens().for_user(&user, &["User.Read".to_owned()]).await.unwrap();
            assert_eq!(token_object_id(token.secret()), iso_user(index).object_id, "user {index}'s cached token");
        }
    });
    join_all(checks).await;
}
