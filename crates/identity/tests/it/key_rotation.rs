//! JWKS-01: keys rotated between two sign-ins work (one refetch of the
//! JWKS); a token naming an unknown key is refused, and repeated unknown
//! keys do not make idweb fetch the keys again and again.

use crate::support;

use idweb_emulator::faults::{IdTokenFault, IdTokenMutation};
use support::{location, TestApp, ADELE};

#[tokio::test]
async fn jwks_01_a_sign_in_after_key_rotation_refetches_the_keys_once() {
    let app = TestApp::start().await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
    assert_eq!(app.emulator.jwks_requests(), 1, "fetched at discovery");

    let state = app.emulator.state().clone();
    tokio::task::spawn_blocking(move || state.keys.rotate()).await.unwrap().unwrap();
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after", "the new key is found");
    assert_eq!(app.emulator.jwks_requests(), 2, "one refetch");
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
    assert_eq!(app.emulator.jwks_requests(), 2, "and then the new keys are known");
}

#[tokio::test]
async fn jwks_01_unknown_keys_are_refused_and_refetching_is_rate_limited() {
    let app = TestApp::start().await;
    app.browser().sign_in(ADELE).await;
    for _ in 0..3 {
        app.emulator.faults().arm_id_token(IdTokenFault { mutation: IdTokenMutation::UnknownKid, count: 1 }).unwrap();
        assert_eq!(location(&app.browser().sign_in(ADELE).await), "/auth/error?reason=id_token_rejected");
    }
    assert_eq!(app.emulator.jwks_requests(), 2, "discovery, then a single refetch for three unknown keys");
}

#[tokio::test]
async fn jwks_01_a_failed_refetch_keeps_the_last_good_keys_and_still_counts_against_the_limit() {
    let app = TestApp::start().await;
    app.browser().sign_in(ADELE).await;
    app.emulator.faults().fail_jwks(10);
    for _ in 0..3 {
        app.emulator.faults().arm_id_token(IdTokenFault { mutation: IdTokenMutation::UnknownKid, count: 1 }).unwrap();
        assert_eq!(location(&app.browser().sign_in(ADELE).await), "/auth/error?reason=id_token_rejected");
    }
    assert_eq!(app.emulator.jwks_requests(), 2, "discovery, then one failed refetch: the failing endpoint is not hammered");
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after", "the last good keys still verify");
}
