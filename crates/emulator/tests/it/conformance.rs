//! A generic OpenID Connect client library, used as any relying party
//! would use it, completes sign-in against the emulator: discovery, the
//! authorization code flow with PKCE, client authentication, and ID token
//! verification against the published keys.

use crate::support;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use support::*;

#[tokio::test]
async fn the_openidconnect_crate_signs_in_with_discovery_pkce_and_a_verified_id_token() {
    let emulator = Emulator::start().await;
    let issuer = IssuerUrl::new(emulator.running.authority()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &emulator.http).await.unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(emulator.client_id.clone()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_scope(Scope::new("User.Read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The person at the browser: open the sign-in page, pick Adele.
    let params: Vec<(String, String)> = authorize_url.query_pairs().into_owned().collect();
    let page = emulator.http.get(authorize_url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Adele Vance"));
    let answer = query(&emulator.authorize_as(&params, ADELE_OID).await);
    assert_eq!(answer["state"], *csrf_state.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(answer["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&emulator.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("the ID token verifies");
    assert_eq!(claims.issuer().as_str(), emulator.running.authority());
    assert_eq!(claims.preferred_username().unwrap().as_str(), "AdeleV@contoso.example");
    assert!(tokens.refresh_token().is_some());

    let userinfo: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&emulator.http)
        .await
        .expect("the UserInfo endpoint answers with the ID token's subject");
    assert_eq!(userinfo.subject(), claims.subject());

    // The refresh token works through the same library.
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&emulator.http)
        .await
        .unwrap();
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
}
