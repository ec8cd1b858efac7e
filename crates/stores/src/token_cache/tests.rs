use std::time::{Duration, SystemTime};

use openidconnect::AccessToken;

use super::*;
use crate::HomeAccountId;

fn token(scopes: &[&str], lifetime: Duration) -> CachedAccessToken {
    CachedAccessToken {
        scopes: scope_set(scopes.iter().copied()),
        token: AccessToken::new(format!("token-for-{}", scopes.join("+"))),
        expires_at: SystemTime::now() + lifetime,
        refresh_on: None,
        tenant: None,
    }
}

const NO_MARGIN: Duration = Duration::ZERO;

#[test]
fn a_token_covers_a_subset_of_its_scopes_until_the_margin_before_expiry() {
    let mut tokens = TokenPartition::default();
    tokens.put_access_token(token(&["User.Read", "Mail.Read"], Duration::from_secs(3600)));
    let now = SystemTime::now();
    assert!(tokens.access_token_covering(&scope_set(["user.read"]), None, now, NO_MARGIN).is_some());
    assert!(tokens.access_token_covering(&scope_set(["Calendars.Read"]), None, now, NO_MARGIN).is_none());
    let within_margin = Duration::from_secs(3700);
    assert!(tokens.access_token_covering(&scope_set(["user.read"]), None, now, within_margin).is_none());
}

#[test]
fn refresh_in_makes_a_valid_token_due_for_renewal() {
    let mut due = token(&["User.Read"], Duration::from_secs(3600));
    due.refresh_on = Some(SystemTime::now() - Duration::from_secs(1));
    assert!(!due.is_fresh(SystemTime::now(), NO_MARGIN));
}

#[test]
fn a_new_token_for_the_same_scopes_replaces_the_old_one() {
    let mut tokens = TokenPartition::default();
    tokens.put_access_token(token(&["User.Read"], Duration::from_secs(10)));
    tokens.put_access_token(token(&["User.Read"], Duration::from_secs(3600)));
    assert_eq!(tokens.access_tokens.len(), 1);
    assert!(tokens.access_tokens[0].expires_at > SystemTime::now() + Duration::from_secs(60));
}

#[test]
fn forgetting_scopes_drops_only_the_tokens_that_cover_them() {
    let mut tokens = TokenPartition::default();
    tokens.put_access_token(token(&["User.Read"], Duration::from_secs(600)));
    tokens.put_access_token(token(&["Mail.Read"], Duration::from_secs(600)));
    tokens.forget_access_tokens(&scope_set(["mail.read"]));
    assert_eq!(tokens.access_tokens.len(), 1);
    assert!(tokens.access_tokens[0].scopes.contains("user.read"));
}

fn versioned(partition: TokenPartition) -> Versioned {
    Versioned { partition, etag: Etag::random(), tier: CacheTier::Local }
}

#[test]
fn partitions_are_separate_and_removed_whole() {
    let cache = MemoryTokenCache::default();
    let adele = PartitionKey::User(HomeAccountId::new("oid-a", "tid"));
    let alex = PartitionKey::User(HomeAccountId::new("oid-b", "tid"));
    let app = PartitionKey::App { tenant_id: "tid".into() };
    for (key, scope) in [(&adele, "User.Read"), (&alex, "Mail.Read"), (&app, ".default")] {
        let mut partition = TokenPartition::default();
        partition.put_access_token(token(&[scope], Duration::from_secs(60)));
        cache.put(key.clone(), versioned(partition));
    }
    assert_eq!(cache.len(), 3);
    assert!(cache.remove_partition(&adele));
    assert!(cache.get(&adele).is_none());
    assert_eq!(cache.get(&alex).unwrap().partition.access_tokens.len(), 1);
}

#[test]
fn the_memory_store_is_bounded() {
    let cache = MemoryTokenCache::new(10, Duration::from_secs(3600));
    for index in 0..100 {
        cache.put(PartitionKey::User(HomeAccountId::new(&format!("oid-{index}"), "tid")), versioned(TokenPartition::default()));
    }
    assert!(cache.len() <= 10, "bounded at 10, holds {}", cache.len());
}

#[tokio::test]
async fn a_write_over_a_version_someone_replaced_is_refused() {
    let cache = MemoryTokenCache::default();
    let key = PartitionKey::User(HomeAccountId::new("oid-a", "tid"));
    let SaveOutcome::Saved(first) = cache.save(&key, &TokenPartition::default(), None).await.unwrap() else { panic!("created") };
    assert_eq!(cache.save(&key, &TokenPartition::default(), None).await.unwrap(), SaveOutcome::Conflict, "it exists now");
    let SaveOutcome::Saved(second) = cache.save(&key, &TokenPartition::default(), Some(first)).await.unwrap() else { panic!("replaced") };
    assert_ne!(first, second);
    assert_eq!(cache.save(&key, &TokenPartition::default(), Some(first)).await.unwrap(), SaveOutcome::Conflict, "stale writer");
    assert_eq!(cache.load(&key).await.unwrap().unwrap().etag, second);
    assert!(cache.remove(&key).await.unwrap());
    assert_eq!(cache.save(&key, &TokenPartition::default(), Some(second)).await.unwrap(), SaveOutcome::Conflict, "removed meanwhile");
}

#[test]
fn storage_names_read_back_to_the_same_partition() {
    for key in [PartitionKey::User(HomeAccountId::new("oid-a", "tid")), PartitionKey::App { tenant_id: "contoso.example".into() }] {
        assert_eq!(PartitionKey::from_storage_name(&key.storage_name()), Some(key));
    }
    assert_eq!(PartitionKey::from_storage_name("x:whatever"), None);
}

#[test]
fn partitions_serialise_for_distributed_stores_and_debug_stays_redacted() {
    let mut partition = TokenPartition::default();
    partition.put_access_token(token(&["User.Read"], Duration::from_secs(60)));
    let json = serde_json::to_string(&partition).unwrap();
    let back: TokenPartition = serde_json::from_str(&json).unwrap();
    assert_eq!(back.access_tokens[0].token.secret(), "token-for-User.Read");
    assert!(!format!("{partition:?}").contains("token-for"));
}

#[test]
fn a_token_from_another_tenant_serves_only_that_tenant() {
    let mut tokens = TokenPartition::default();
    tokens.put_access_token(CachedAccessToken { tenant: Some("fabrikam".into()), ..token(&["User.Read"], Duration::from_secs(600)) });
    let wanted = scope_set(["user.read"]);
    let now = SystemTime::now();
    assert!(tokens.access_token_covering(&wanted, None, now, NO_MARGIN).is_none());
    assert!(tokens.access_token_covering(&wanted, Some("fabrikam"), now, NO_MARGIN).is_some());
    tokens.put_access_token(token(&["User.Read"], Duration::from_secs(600)));
    assert_eq!(tokens.access_tokens.len(), 2, "one per tenant");
}
