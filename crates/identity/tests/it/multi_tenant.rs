//! IDT-12 and tenants: a multi-tenant app (`organizations`) checks each ID
//! token's issuer against Microsoft's `{tenantid}` template with the
//! token's own `tid`, can restrict tenants, and can ask another tenant's
//! token endpoint; a tenant given by domain works too.

use crate::support;

use idweb_emulator::faults::{IdTokenFault, IdTokenMutation};
use idweb_identity::UserTokenOptions;
use serde_json::json;
use support::{location, signed_in, TestApp, ADELE};

async fn app_with(azure_ad: serde_json::Value) -> TestApp {
    TestApp::start_with(move |_, settings| *settings = json!({ "AzureAd": azure_ad })).await
}

#[tokio::test]
async fn idt_12_a_multi_tenant_app_accepts_the_users_own_tenant_issuer() {
    let app = app_with(json!({ "TenantId": "organizations" })).await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.whoami().await, ADELE);
}

#[tokio::test]
async fn idt_12_an_issuer_that_is_not_the_tokens_own_tenant_is_rejected() {
    let app = app_with(json!({ "TenantId": "organizations" })).await;
    app.emulator.faults().arm_id_token(IdTokenFault { mutation: IdTokenMutation::WrongIssuer, count: 1 }).unwrap();
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/auth/error?reason=id_token_rejected");
    assert_eq!(browser.whoami().await, "nobody");
}

#[tokio::test]
async fn idt_12_a_tenant_outside_the_allow_list_cannot_sign_in() {
    let app = app_with(json!({ "TenantId": "organizations", "AllowedTenants": ["00000000-0000-0000-0000-0000000fab00"] })).await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/auth/error?reason=id_token_rejected");
    assert_eq!(app.identity.cache().partition_count().await.unwrap(), 0, "IDT-11: nothing cached");
}

#[tokio::test]
async fn a_tenant_given_by_domain_discovers_the_guid_issuer() {
    let app = app_with(json!({ "TenantId": "contoso.example" })).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
}

#[tokio::test]
async fn a_tenant_override_asks_that_tenants_token_endpoint_and_caches_apart() {
    let app = app_with(json!({ "TenantId": "organizations" })).await;
    app.browser().sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let scopes = vec!["User.Read".to_owned()];
    let home = app.emulator.tenant_id().to_owned();
    let options = UserTokenOptions { tenant: Some(&home), ..UserTokenOptions::new(&scopes) };
    let before = app.emulator.token_requests();
    let in_home = app.identity.tokens().for_user_with(&adele, options).await.unwrap();
    assert_eq!(app.emulator.token_requests(), before + 1, "a tenant's token is not the configured authority's");
    let again = app.identity.tokens().for_user_with(&adele, options).await.unwrap();
    assert_eq!(in_home.secret(), again.secret(), "then cached for that tenant");

    for bent in ["../evil", "..", ".", "contoso..example", "a/b"] {
        let bad = UserTokenOptions { tenant: Some(bent), ..UserTokenOptions::new(&scopes) };
        assert!(app.identity.tokens().for_user_with(&adele, bad).await.is_err(), "{bent} refused");
    }
}

#[tokio::test]
async fn a_refusal_from_an_override_tenant_keeps_the_home_refresh_token() {
    let app = app_with(json!({ "TenantId": "organizations" })).await;
    app.browser().sign_in(ADELE).await;
    let adele = signed_in(ADELE, app.emulator.tenant_id());
    let scopes = vec!["User.Read".to_owned()];
    support::refuse_next_refresh(&app, "invalid_grant", None);
    let home = app.emulator.tenant_id().to_owned();
    let options = UserTokenOptions { tenant: Some(&home), ..UserTokenOptions::new(&scopes) };
    assert!(app.identity.tokens().for_user_with(&adele, options).await.is_err());
    let partition = app.identity.tokens().partition(&adele).await.unwrap().unwrap();
    assert!(partition.refresh_token.is_some(), "the home grant is untouched");
}
