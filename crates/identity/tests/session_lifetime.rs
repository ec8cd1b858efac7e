//! SES-02 (absolute lifetime): a signed-in session older than
//! `Session:AbsoluteTimeoutMinutes` since sign-in is ended on the server the
//! next time it is read, however active it was.

mod support;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use idweb_identity::{Identity, IdentityConfig};
use tower_sessions::{MemoryStore, Session};

async fn identity() -> Arc<Identity> {
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
        "Session": { "SecureCookie": false, "AbsoluteTimeoutMinutes": 60 },
    });
    Identity::builder(IdentityConfig::from_json(&settings).unwrap()).build().await.unwrap()
}

fn minutes_ago(minutes: u64) -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - minutes * 60
}

#[tokio::test]
async fn ses_02_a_session_past_its_absolute_lifetime_ends_and_a_younger_one_does_not() {
    let identity = identity().await;
    let session = Session::new(None, Arc::new(MemoryStore::default()), None);
    let mut adele = support::signed_in(support::ADELE, "tenant");

    adele.signed_in_at = minutes_ago(59);
    session.insert("idweb.user", &adele).await.unwrap();
    assert_eq!(identity.user(&session).await.unwrap().map(|user| user.name), Some(support::ADELE.to_owned()));

    adele.signed_in_at = minutes_ago(61);
    session.insert("idweb.user", &adele).await.unwrap();
    assert!(identity.user(&session).await.unwrap().is_none(), "past the absolute lifetime: signed out");
    assert!(session.is_empty().await, "and the session is ended, not just hidden");
}
