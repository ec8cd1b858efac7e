//! SES-02: a signed-in session older than `Session:AbsoluteTimeoutMinutes`
//! since sign-in is ended on the server the next time it is read, however
//! active it was; the idle timeout slides with every authenticated request
//! and is enforced on the server too.

use crate::support;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use idweb_identity::{Identity, IdentityConfig};
use tower_sessions::{MemoryStore, Session};

async fn identity() -> Arc<Identity> {
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
        "Session": { "SecureCookie": false, "AbsoluteTimeoutMinutes": 60, "IdleTimeoutMinutes": 20 },
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
    session.insert("idweb.active_at", minutes_ago(0)).await.unwrap();
    assert_eq!(identity.user(&session).await.unwrap().map(|user| user.name), Some(support::ADELE.to_owned()));

    adele.signed_in_at = minutes_ago(61);
    session.insert("idweb.user", &adele).await.unwrap();
    assert!(identity.user(&session).await.unwrap().is_none(), "past the absolute lifetime: signed out");
    assert!(session.is_empty().await, "and the session is ended, not just hidden");
}

#[tokio::test]
async fn ses_02_an_authenticated_request_slides_the_idle_timeout_without_a_write_per_request() {
    let identity = identity().await;
    let store = Arc::new(MemoryStore::default());
    let idle = tower_sessions::Expiry::OnInactivity(tower_sessions::cookie::time::Duration::minutes(20));
    let mut adele = support::signed_in(support::ADELE, "tenant");
    adele.signed_in_at = minutes_ago(30);

    // Last active 5 minutes ago: this request is activity, so the session is written with a new expiry.
    let session = Session::new(None, store.clone(), Some(idle));
    session.insert("idweb.user", &adele).await.unwrap();
    session.insert("idweb.active_at", minutes_ago(5)).await.unwrap();
    session.save().await.unwrap();
    let session = Session::new(session.id(), store.clone(), Some(idle));
    assert!(identity.user(&session).await.unwrap().is_some());
    assert!(session.is_modified(), "the layer saves it: new expiry in the store, cookie sent again");
    let recorded: u64 = session.get("idweb.active_at").await.unwrap().unwrap();
    assert!(recorded >= minutes_ago(0) - 1, "activity recorded now");
    session.save().await.unwrap();

    // Right after: nothing to write.
    let session = Session::new(session.id(), store.clone(), Some(idle));
    assert!(identity.user(&session).await.unwrap().is_some());
    assert!(!session.is_modified(), "one write per minute of activity, not one per request");
}

#[tokio::test]
async fn ses_02_a_session_idle_past_the_timeout_ends_on_the_server() {
    let identity = identity().await;
    let session = Session::new(None, Arc::new(MemoryStore::default()), None);
    let mut adele = support::signed_in(support::ADELE, "tenant");
    adele.signed_in_at = minutes_ago(50);
    session.insert("idweb.user", &adele).await.unwrap();
    session.insert("idweb.active_at", minutes_ago(19)).await.unwrap();
    assert!(identity.user(&session).await.unwrap().is_some(), "idle 19 of 20 minutes");
    session.insert("idweb.active_at", minutes_ago(21)).await.unwrap();
    assert!(identity.user(&session).await.unwrap().is_none(), "idle 21 of 20 minutes: signed out");
    assert!(session.is_empty().await);
}
