use std::time::{Duration, SystemTime};

use openidconnect::AccessToken;

use super::*;
use crate::user::HomeAccountId;

fn token(scopes: &[&str], lifetime: Duration) -> CachedAccessToken {
    CachedAccessToken {
        scopes: normalise_scopes(scopes.iter().copied()),
        token: AccessToken::new(format!("token-for-{}", scopes.join("+"))),
        expires_at: SystemTime::now() + lifetime,
    }
}

#[test]
fn normalising_drops_oidc_scopes_and_the_graph_prefix() {
    let scopes = normalise_scopes(["openid", "Profile", "offline_access", "https://graph.microsoft.com/User.Read", "Mail.Read"]);
    assert_eq!(scopes.into_iter().collect::<Vec<_>>(), vec!["mail.read", "user.read"]);
}

#[test]
fn a_token_covers_a_subset_of_its_scopes_until_it_expires() {
    let mut tokens = UserTokens::default();
    tokens.put_access_token(token(&["User.Read", "Mail.Read"], Duration::from_secs(3600)));
    let now = SystemTime::now();
    assert!(tokens.access_token_covering(&normalise_scopes(["user.read"]), now).is_some());
    assert!(tokens.access_token_covering(&normalise_scopes(["Calendars.Read"]), now).is_none());
    let after_expiry = now + Duration::from_secs(7200);
    assert!(tokens.access_token_covering(&normalise_scopes(["user.read"]), after_expiry).is_none());
}

#[test]
fn a_new_token_for_the_same_scopes_replaces_the_old_one() {
    let mut tokens = UserTokens::default();
    tokens.put_access_token(token(&["User.Read"], Duration::from_secs(10)));
    tokens.put_access_token(token(&["User.Read"], Duration::from_secs(3600)));
    assert_eq!(tokens.access_tokens.len(), 1);
    assert!(tokens.access_tokens[0].expires_at > SystemTime::now() + Duration::from_secs(60));
}

#[test]
fn users_are_partitioned_and_removed_whole() {
    let cache = MemoryTokenCache::new();
    let adele = HomeAccountId::new("oid-a", "tid");
    let alex = HomeAccountId::new("oid-b", "tid");
    cache.update(&adele, |tokens| tokens.put_access_token(token(&["User.Read"], Duration::from_secs(60))));
    cache.update(&alex, |tokens| tokens.put_access_token(token(&["Mail.Read"], Duration::from_secs(60))));
    assert_eq!(cache.user_count(), 2);
    assert!(cache.remove_user(&adele));
    assert!(cache.get(&adele).is_none());
    assert_eq!(cache.get(&alex).unwrap().access_tokens.len(), 1);
}

#[test]
fn cached_tokens_are_redacted_in_debug_output() {
    let cache = MemoryTokenCache::new();
    let user = HomeAccountId::new("oid", "tid");
    cache.update(&user, |tokens| tokens.put_access_token(token(&["User.Read"], Duration::from_secs(60))));
    assert!(!format!("{:?}", cache.get(&user)).contains("token-for"));
}
