//! IDT-01..11: every spoiled ID token the emulator can mint is refused at
//! the callback, and a refused sign-in leaves no session and no cache entry.

use crate::support;

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
    // The matrix row's items, each by its number.
    for (row, mutation) in [
        ("IDT-01 wrong iss", WrongIssuer),
        ("IDT-02 wrong aud", WrongAudience),
        ("IDT-02 missing aud", MissingAudience),
        ("IDT-03 missing sub", MissingSubject),
        ("IDT-03 empty sub", EmptySubject),
        ("IDT-03 sub over 255 characters", LongSubject),
        ("IDT-13 at_hash of another access token", WrongAtHash),
        ("IDT-04 missing iat", MissingIat),
        ("IDT-04 iat in the future", IatInFuture),
        ("IDT-04 nbf in the future", NbfInFuture),
        ("IDT-05 expired", Expired),
        ("IDT-06 wrong nonce", WrongNonce),
        ("IDT-06 missing nonce", MissingNonce),
        ("IDT-07 bad signature", BadSignature),
        ("IDT-07 unknown kid", UnknownKid),
        ("IDT-08 alg none", AlgNone),
        ("IDT-09 HS256", Hs256),
        ("IDT-10 unexpected azp", UnexpectedAzp),
        ("IDT-10 single tenant: another tid", OtherTenant),
    ] {
        let (app, target) = sign_in_with(mutation).await;
        assert_eq!(target, "/auth/error?reason=id_token_rejected", "{row}");
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

#[tokio::test]
async fn idt_05_an_expiry_within_the_clock_skew_is_accepted_and_none_is_without_it() {
    let app = TestApp::start().await;
    app.emulator.faults().arm_id_token(IdTokenFault { mutation: IdTokenMutation::ExpiredWithinSkew, count: 1 }).unwrap();
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after", "a minute past exp is within the default five minutes of skew");
    assert_eq!(browser.whoami().await, ADELE);

    let app = TestApp::start_with(|_, settings| *settings = serde_json::json!({ "AzureAd": { "ClockSkewSeconds": 0 } })).await;
    app.emulator.faults().arm_id_token(IdTokenFault { mutation: IdTokenMutation::ExpiredWithinSkew, count: 1 }).unwrap();
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/auth/error?reason=id_token_rejected");
}

#[tokio::test]
async fn idt_09_hs256_is_refused_even_when_discovery_lists_it() {
    let app = TestApp::start_with(|emulator, _| emulator.id_token_signing_alg_values = vec!["RS256".into(), "HS256".into()]).await;
    app.emulator.faults().arm_id_token(IdTokenFault { mutation: IdTokenMutation::Hs256, count: 1 }).unwrap();
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/auth/error?reason=id_token_rejected");
    assert_eq!(browser.whoami().await, "nobody");
}
