//! The Graph client against the emulator's Graph: messages, and the claims
//! challenge of continuous access evaluation (CAE-01).

mod support;

use idweb_emulator::faults::ApiFault;
use idweb_identity::IdentityError;
use support::{signed_in, TestApp, ADELE};

async fn app_with_mail_consented() -> TestApp {
    let app = TestApp::start_with(|emulator, _| {
        emulator.apps[0].admin_consented_scopes = vec!["User.Read".into(), "Mail.Read".into()];
    })
    .await;
    app.browser().sign_in(ADELE).await;
    app
}

#[tokio::test]
async fn messages_come_newest_first_with_a_next_link() {
    let app = app_with_mail_consented().await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let page = app.identity.graph().messages(&adele, 5).await.unwrap();
    assert_eq!(page.messages.len(), 5);
    assert!(page.messages[0].received_date_time > page.messages[4].received_date_time);
    assert!(page.messages[0].from.as_ref().unwrap().email_address.address.is_some());
    assert!(page.next_link.unwrap().contains("$skip=5"));
}

#[tokio::test]
async fn cae_01_a_claims_challenge_renews_the_token_once_and_succeeds() {
    let app = app_with_mail_consented().await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    app.identity.graph().me(&adele).await.unwrap();
    let before = app.emulator.token_requests();
    app.emulator.faults().arm_api(ApiFault::ClaimsChallenge { claims: None, count: 1 }).unwrap();
    let me = app.identity.graph().me(&adele).await.expect("the retry with a renewed token succeeds");
    assert_eq!(me.display_name.as_deref(), Some(ADELE));
    assert_eq!(app.emulator.token_requests(), before + 1, "one renewal, no loop");
}

#[tokio::test]
async fn cae_01_a_second_challenge_asks_the_user_with_the_claims() {
    let app = app_with_mail_consented().await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    app.emulator.faults().arm_api(ApiFault::ClaimsChallenge { claims: Some(claims.into()), count: 2 }).unwrap();
    let before = app.emulator.token_requests();
    let error = app.identity.graph().me(&adele).await.unwrap_err();
    let IdentityError::InteractionRequired { claims: asked, .. } = error else { panic!("{error}") };
    assert_eq!(asked.as_deref(), Some(claims));
    assert_eq!(app.emulator.token_requests(), before + 1, "one renewal only");
}
