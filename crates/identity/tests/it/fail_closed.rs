//! Revocation and sign-in fail closed: a sign-in whose session the sign-out
//! index cannot record issues no session (a provider logout could never end
//! it), and sign-out ends the session first, whatever then happens to the
//! user's tokens.

use crate::support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use idweb_identity::cache::{Etag, PartitionLock, RecordName, SaveOutcome, TokenPartition, Versioned};
use idweb_identity::{StoreError, MemoryTokenCache, PartitionKey, TokenCacheStore};
use reqwest::StatusCode;
use support::{location, TestApp, ADELE};

/// The memory token cache, with faults the test switches on.
struct FaultyStore {
    inner: MemoryTokenCache,
    /// Every record write loses its compare-and-set (others keep writing).
    records_contended: AtomicBool,
    /// Record writes fail as if the store were down.
    records_unavailable: AtomicBool,
    /// Removing a partition fails as if the store were down.
    removal_fails: AtomicBool,
}

fn down() -> StoreError {
    StoreError::TimedOut { store: "test", timeout: Duration::from_millis(1) }
}

#[async_trait::async_trait]
impl TokenCacheStore for FaultyStore {
    async fn load(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError> {
        self.inner.load(key).await
    }

    async fn save(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<SaveOutcome, StoreError> {
        self.inner.save(key, partition, expected).await
    }

    async fn remove(&self, key: &PartitionKey) -> Result<bool, StoreError> {
        if self.removal_fails.load(Ordering::SeqCst) {
            return Err(down());
        }
        self.inner.remove(key).await
    }

    async fn lock(&self, key: &PartitionKey, wait: Duration) -> Result<Option<PartitionLock>, StoreError> {
        self.inner.lock(key, wait).await
    }

    async fn partition_count(&self) -> Result<u64, StoreError> {
        self.inner.partition_count().await
    }

    async fn load_record(&self, name: &RecordName, ttl: Duration) -> Result<Option<(Vec<u8>, Etag)>, StoreError> {
        self.inner.load_record(name, ttl).await
    }

    async fn save_record(&self, name: &RecordName, bytes: &[u8], expected: Option<Etag>, ttl: Duration) -> Result<bool, StoreError> {
        if self.records_unavailable.load(Ordering::SeqCst) {
            return Err(down());
        }
        if self.records_contended.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.inner.save_record(name, bytes, expected, ttl).await
    }

    async fn remove_record(&self, name: &RecordName) -> Result<bool, StoreError> {
        self.inner.remove_record(name).await
    }
}

async fn app_with_faulty_store() -> (TestApp, Arc<FaultyStore>) {
    let store = Arc::new(FaultyStore {
        inner: MemoryTokenCache::new(1000, Duration::from_secs(3600)),
        records_contended: AtomicBool::new(false),
        records_unavailable: AtomicBool::new(false),
        removal_fails: AtomicBool::new(false),
    });
    let app = TestApp::start_with_store(|_, _| {}, Some(store.clone())).await;
    (app, store)
}

/// Signs Adele in while the index cannot be written: refused, no session.
async fn sign_in_is_refused_without_a_session(app: &TestApp) {
    let browser = app.browser();
    let answer = browser.sign_in(ADELE).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert!(location(&answer).starts_with("/auth/error?reason="), "the error page, not the app: {}", location(&answer));
    assert_eq!(browser.whoami().await, "nobody", "no session was issued");
}

#[tokio::test]
async fn out_02_a_sign_in_the_sign_out_index_cannot_record_issues_no_session() {
    let (app, store) = app_with_faulty_store().await;
    store.records_unavailable.store(true, Ordering::SeqCst);
    sign_in_is_refused_without_a_session(&app).await;

    store.records_unavailable.store(false, Ordering::SeqCst);
    store.records_contended.store(true, Ordering::SeqCst);
    // The compare-and-set does not give up silently either.
    sign_in_is_refused_without_a_session(&app).await;

    store.records_contended.store(false, Ordering::SeqCst);
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    assert_eq!(browser.whoami().await, ADELE, "with the index back, sign-in works");
}

#[tokio::test]
async fn out_01_sign_out_ends_the_session_even_when_the_tokens_cannot_be_removed() {
    let (app, store) = app_with_faulty_store().await;
    let browser = app.browser();
    browser.sign_in(ADELE).await;
    assert_eq!(browser.whoami().await, ADELE);
    store.removal_fails.store(true, Ordering::SeqCst);
    let signed_out = browser.client.post(app.url.join("/auth/sign-out").unwrap()).send().await.unwrap();
    assert!(signed_out.status().is_redirection(), "on to the provider's end-session endpoint: {}", signed_out.status());
    assert!(location(&signed_out).contains("/oauth2/v2.0/logout"), "{}", location(&signed_out));
    assert_eq!(browser.whoami().await, "nobody", "the session ended first");
}
