//! What server functions pull from the request: the session, the identity
//! engine and the signed-in user, and how their failures reach the page.
//!
//! Every server function that acts for a user runs through [`for_user`], so
//! each gets the user one way and each failure gets the same treatment: a
//! claims challenge kept in the session (AUTHZ-05) and an HTTP status that
//! says what happened (401 not signed in, 403 interaction required, 503 an
//! outage, 502 a downstream API, 500 only a defect).
//!
//! The futures of [`maybe_user`] and [`for_user`] are boxed: a server
//! function's future is moved by the server-function machinery and into a
//! page's render future, and unboxed these futures hold every state of the
//! engine's calls below them (session store, token acquisition, Graph),
//! kilobytes copied on each move.

use std::future::Future;
use std::sync::Arc;

use axum::http::request::Parts;
use idweb_identity::{Identity, IdentityError, SignedInUser};
use tokio::sync::OnceCell;
use tower_sessions::Session;

use crate::error::{AppError, Service};

/// The signed-in user, looked up at most once while a page renders: the
/// header and the page's own server functions all ask for it. Kept by
/// `server::pages` in the extensions of the page's own request, never in
/// reactive context, which another request could inherit (ISO-02); a
/// server function called on its own has none and looks the user up itself.
/// A failed look-up is kept too: during a store outage a page asks the
/// store once, not once per part that needs the user.
#[derive(Clone, Default)]
pub struct PageUser(Arc<OnceCell<Result<Option<SignedInUser>, AppError>>>);

impl PageUser {
    /// The look-up, if this render made it already (`Ok(None)`: nobody is signed in).
    pub fn known(&self) -> Option<&Result<Option<SignedInUser>, AppError>> {
        self.0.get()
    }
}

/// The session's user, from this page render's [`PageUser`] when there is
/// one; a failure as the page shows it.
async fn signed_in_user(identity: &Identity, session: &Session) -> Result<Option<SignedInUser>, AppError> {
    let look_up = || async { identity.user(session).await.map_err(AppError::from) };
    match from_request::<PageUser>() {
        Some(PageUser(user)) => user.get_or_init(look_up).await.clone(),
        None => look_up().await,
    }
}

/// A value the request carries in its extensions (its session, its page
/// render's user), read from the request's own parts: the nearest `Parts`
/// in context, which both the page render and leptos_axum provide for each
/// request in that request's own owner.
fn from_request<T: Clone + Send + Sync + 'static>() -> Option<T> {
    leptos::prelude::with_context::<Parts, _>(|parts| parts.extensions.get::<T>().cloned()).flatten()
}

/// The request's session (the session layer always provides one).
pub async fn session() -> Result<Session, AppError> {
    from_request::<Session>().ok_or_else(|| {
        tracing::error!("a server function ran without the session layer");
        refuse(AppError::Internal)
    })
}

/// The identity engine, provided as context by the router.
pub fn identity() -> Result<Arc<Identity>, AppError> {
    leptos::prelude::use_context::<Arc<Identity>>().ok_or_else(|| {
        tracing::error!("a server function ran without the identity engine in context");
        refuse(AppError::Internal)
    })
}

/// The signed-in user of this session, if any (the optional form).
pub async fn maybe_user() -> Result<Option<SignedInUser>, AppError> {
    Box::pin(async {
        let identity = identity()?;
        let session = session().await?;
        signed_in_user(&identity, &session).await.map_err(refuse)
    })
    .await
}

/// Runs `work` for the signed-in user (the required form): `NotSignedIn`
/// (401) when there is none; `work`'s errors become what the page shows.
pub async fn for_user<T, Work, Fut>(work: Work) -> Result<T, AppError>
where
    Work: FnOnce(Arc<Identity>, SignedInUser) -> Fut,
    Fut: Future<Output = Result<T, IdentityError>>,
{
    for_user_of(Service::UNNAMED, work).await
}

/// [`for_user`] for `work` that reads `service`: its failures name it.
pub async fn for_user_of<T, Work, Fut>(service: Service, work: Work) -> Result<T, AppError>
where
    Work: FnOnce(Arc<Identity>, SignedInUser) -> Fut,
    Fut: Future<Output = Result<T, IdentityError>>,
{
    Box::pin(async {
        let identity = identity()?;
        let session = session().await?;
        let outcome = match signed_in_user(&identity, &session).await.map_err(refuse)? {
            Some(user) => work(identity.clone(), user).await,
            None => Err(IdentityError::NotSignedIn),
        };
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => Err(failure(&identity, &session, error, service).await),
        }
    })
    .await
}

/// An error the server function (or this module) decided on itself, with
/// its status set.
pub fn refuse(error: AppError) -> AppError {
    set_status(&error);
    error
}

/// What the page gets for `error`: a claims challenge is kept in the
/// session and named by id; the response status is set.
async fn failure(identity: &Identity, session: &Session, error: IdentityError, service: Service) -> AppError {
    let app_error = match error {
        IdentityError::InteractionRequired { scopes, claims: Some(claims), .. } => {
            match identity.sign_in_request(session, "/", &scopes, Some(&claims)).await {
                Ok(request) => AppError::InteractionRequired { scopes, challenge: request.challenge },
                Err(error) => AppError::from(error),
            }
        }
        other => AppError::from_identity(other, service),
    };
    set_status(&app_error);
    app_error
}

fn set_status(error: &AppError) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use leptos::prelude::provide_context;
    use leptos::reactive::owner::Owner;
    use leptos::reactive::computed::ScopedFuture;
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::{self, SessionStore};
    use tower_sessions::Session;

    use super::{for_user, maybe_user, PageUser};
    use crate::error::AppError;

    /// A session store that is down: every load fails, and is counted.
    #[derive(Debug, Default)]
    struct DownStore {
        loads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl SessionStore for DownStore {
        async fn save(&self, _: &Record) -> session_store::Result<()> {
            Err(session_store::Error::Backend("down".into()))
        }
        async fn load(&self, _: &Id) -> session_store::Result<Option<Record>> {
            self.loads.fetch_add(1, Ordering::Relaxed);
            Err(session_store::Error::Backend("down".into()))
        }
        async fn delete(&self, _: &Id) -> session_store::Result<()> {
            Err(session_store::Error::Backend("down".into()))
        }
    }

    #[tokio::test]
    async fn flt_03_a_page_looks_its_user_up_once_even_when_the_store_is_down() {
        let settings = serde_json::json!({
            "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
            "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
            "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
            "Session": { "SecureCookie": false },
        });
        let identity = idweb_identity::Identity::builder(idweb_identity::IdentityConfig::from_json(&settings).unwrap()).build().await.unwrap();
        let store = Arc::new(DownStore::default());
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.extensions.insert(Session::new(Some(Id::default()), store.clone(), None));
        parts.extensions.insert(PageUser::default());
        let owner = Owner::new_root(None);
        owner.with(|| {
            provide_context(parts);
            provide_context(identity);
        });
        // The header and two of the page's server functions ask for the user.
        let (header, first, second) = owner
            .with(|| ScopedFuture::new(async { (maybe_user().await, for_user(|_, _| async { Ok(()) }).await, maybe_user().await) }))
            .await;
        for answer in [header.map(|_| ()), first, second.map(|_| ())] {
            assert!(matches!(answer, Err(AppError::Unavailable(_))), "{answer:?}");
        }
        assert_eq!(store.loads.load(Ordering::Relaxed), 1, "one store round trip for the whole page");
    }
}
