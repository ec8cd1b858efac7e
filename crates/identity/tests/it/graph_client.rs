//! The Graph client against the emulator's Graph: messages, and the claims
//! challenge of continuous access evaluation (CAE-01).

use crate::support;

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
async fn xss_01_one_message_comes_with_its_body_and_an_id_that_is_not_one_is_refused_before_any_request() {
    let app = app_with_mail_consented().await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let listed = app.identity.graph().messages(&adele, 2).await.unwrap();
    let message = app.identity.graph().message(&adele, &listed.messages[1].id).await.unwrap();
    assert_eq!(message.message, listed.messages[1], "the same fields as the list, and");
    let body = message.body.expect("a body");
    assert_eq!(body.content_type, "html");
    assert!(body.content.contains("<p>Hi Adele,</p>"), "{}", body.content);
    let missing = app.identity.graph().message(&adele, "AAMkAG00000000-9999").await.unwrap_err();
    assert!(matches!(missing, IdentityError::Downstream { status: 404, .. }), "{missing}");
    for hostile in ["../me", "a/b", "x?$select=*", "", "a b"] {
        let refused = app.identity.graph().message(&adele, hostile).await.unwrap_err();
        assert!(matches!(refused, IdentityError::InvalidRequest(_)), "{hostile:?}: {refused}");
    }
}

#[tokio::test]
async fn cae_01_a_revocation_challenge_evicts_the_cached_token_and_one_renewal_satisfies_it() {
    let app = app_with_mail_consented().await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    app.identity.graph().me(&adele).await.unwrap();
    // Tokens issued before now are revoked (a password change, say): Graph
    // challenges by what the token says, so only a genuinely new token passes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let policy = format!(r#"{{"access_token":{{"nbf":{{"essential":true,"value":"{now}"}}}}}}"#);
    app.emulator.faults().require_claims(Some(policy));
    let before = app.emulator.token_requests();
    let me = app.identity.graph().me(&adele).await.expect("the retry with a renewed token succeeds");
    assert_eq!(me.display_name.as_deref(), Some(ADELE));
    assert_eq!(app.emulator.token_requests(), before + 1, "one renewal, no loop");
    app.identity.graph().me(&adele).await.expect("the new token is the cached one now");
    assert_eq!(app.emulator.token_requests(), before + 1, "and it satisfies the policy without another renewal");
}

#[tokio::test]
async fn cae_01_a_challenge_a_refresh_cannot_meet_asks_the_user_with_the_claims() {
    let app = app_with_mail_consented().await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    app.identity.graph().me(&adele).await.unwrap();
    // An authentication context (step-up): only the user can satisfy it.
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    app.emulator.faults().require_claims(Some(claims.into()));
    let before = app.emulator.token_requests();
    let error = app.identity.graph().me(&adele).await.unwrap_err();
    let IdentityError::InteractionRequired { claims: asked, .. } = error else { panic!("{error}") };
    assert_eq!(asked.as_deref(), Some(claims), "the user is asked with the challenge's claims");
    assert_eq!(app.emulator.token_requests(), before + 1, "one attempt to renew, no loop");
    let partition = support::partition(&app.identity, &adele).await;
    assert!(partition.access_tokens.iter().all(|token| !token.scopes.contains("user.read")), "the challenged token is evicted");
    assert!(partition.refresh_token.is_some(), "the grant itself lives on");
}
