//! IDT-01..11: every spoiled ID token the emulator can mint is refused at
//! the callback, and a refused sign-in leaves no session and no cache entry.

mod support;

use idweb_emulator::faults::{IdTokenFault, IdTokenMutation};
use support::{location, TestApp, ADELE};

async fn sign_in_with(mutation: IdTokenMutation) -> (TestApp, String) {
    let app = TestApp::start().await;
    app.emulator.faults().arm_id_token(IdTokenFault { mutation, count: 1 }).unwrap();
    let browser = app.browser();
    let response = browser.sign_in(ADELE).await;
    let target = location(&response).to_owned();
    assert_eq!(browser.whoami().await, "nobody", "IDT-11: {mutation:?} created a session");
    (app, target)
}

#[tokio::test]
async fn idt_01_to_10_every_spoiled_id_token_is_rejected_and_nothing_is_kept() {
    use IdTokenMutation::*;
    for mutation in [
        WrongIssuer,
        WrongAudience,
        MissingAudience,
        MissingSubject,
        MissingIat,
        Expired,
        WrongNonce,
        MissingNonce,
        BadSignature,
        AlgNone,
        Hs256,
        UnexpectedAzp,
        UnknownKid,
    ] {
        let (app, target) = sign_in_with(mutation).await;
        assert_eq!(target, "/auth/error?reason=id_token_rejected", "{mutation:?}");
        assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0, "IDT-11: {mutation:?} left tokens in the cache");
    }
}

#[tokio::test]
async fn an_unspoiled_sign_in_after_a_refused_one_succeeds() {
    let (app, _) = sign_in_with(IdTokenMutation::BadSignature).await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.whoami().await, ADELE);
}
