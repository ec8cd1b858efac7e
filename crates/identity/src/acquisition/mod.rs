//! Token acquisition: for a signed-in user (cache, then the refresh token,
//! else a typed "interaction required") and for the app itself (client
//! credentials), with one token request per partition in flight at a time.
//!
//! A renewal that fails for an outage does not fail the caller while the
//! cached token still works (FLT-04): the token is served, the partition
//! waits before renewing again (`backoff`), and when most token requests
//! fail the whole endpoint is left alone (`breaker`).

mod backoff;
mod breaker;
mod flights;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use openidconnect::{AccessToken, Nonce, OAuth2TokenResponse, Scope, TokenUrl};

use crate::protocol::token_endpoint::token_url;
use crate::scopes::ScopeNormaliser;
use crate::cache::{
    merge::merge, CachedAccessToken, PartitionKey, SaveOutcome, TokenCacheStore, TokenPartition, TokenSource, Versioned,
};
use crate::credentials::{Credentials, JWT_BEARER};
use crate::error::IdentityError;
use crate::protocol::provider::{Provider, ProviderCache};
use crate::telemetry::{self, error_chain};
use crate::protocol::token_endpoint::{self, Outage, TokenRequest, TokenRequestFailure, TOKEN_TIMEOUT};
use crate::protocol::token_response::{MicrosoftErrorResponse, MicrosoftTokenResponse, Refusal};
use crate::user::SignedInUser;
use breaker::{Admission, Breaker, Outcome, Ticket};
use flights::Flights;

/// Tokens are refreshed this long before they expire, so a call never
/// starts with a token that dies in flight.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// The longest lifetime believed from a token response.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Longest a caller waits for another instance renewing the same user's tokens.
const LOCK_WAIT: Duration = Duration::from_secs(20);
/// Compare-and-set attempts before a write that keeps losing is given up
/// (the tokens are still handed to the caller).
const MAX_WRITE_ATTEMPTS: usize = 4;
/// A token due for renewal that the provider cannot renew is served while
/// it works for longer than this (FLT-04), so a call never starts with a
/// token that dies in flight.
pub const SERVE_PAST_RENEWAL_SAFETY: Duration = Duration::from_secs(30);
/// How long a renewal waits for the token endpoint when the caller holds a
/// token that still works: a slow provider costs a page this much, not the
/// full [`TOKEN_TIMEOUT`].
const PROACTIVE_RENEWAL_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a sign-in waits out the token endpoint's 429 pause before
/// redeeming its code; a longer pause fails the sign-in at once.
const SIGN_IN_THROTTLE_WAIT: Duration = Duration::from_secs(5);

/// What a caller asks of [`TokenAcquisition::for_user_with`].
#[derive(Debug, Clone, Copy)]
pub struct UserTokenOptions<'a> {
    /// The scopes the token must carry.
    pub scopes: &'a [String],
    /// Skip the cached access token (the refresh token is still used).
    pub force_refresh: bool,
    /// A claims challenge to satisfy (from a downstream API's 401).
    pub claims: Option<&'a str>,
    /// Ask another tenant than the configured one (a guest's resource tenant,
    /// or the user's home tenant for a multi-tenant app).
    pub tenant: Option<&'a str>,
}

impl<'a> UserTokenOptions<'a> {
    /// Just these scopes, from the cache when possible.
    pub fn new(scopes: &'a [String]) -> Self {
        Self { scopes, force_refresh: false, claims: None, tenant: None }
    }
}

/// Acquires access tokens for signed-in users and for the app.
pub struct TokenAcquisition {
    provider: Arc<ProviderCache>,
    store: Arc<dyn TokenCacheStore>,
    http: reqwest::Client,
    credentials: Arc<Credentials>,
    scopes: ScopeNormaliser,
    client_id: String,
    tenant_id: String,
    refresh_margin: Duration,
    instance: String,
    client_capabilities: Vec<String>,
    flights: Flights,
    breaker: Breaker,
}

/// Why a renewal is not tried now (FLT-04).
#[derive(Debug, Clone, Copy)]
enum Hold {
    /// This partition's last renewal failed for an outage.
    Backoff(Duration),
    /// The token endpoint as a whole is left alone.
    Endpoint(breaker::Held, Duration),
}

impl Hold {
    fn label(self) -> &'static str {
        match self {
            Self::Backoff(_) => "backoff",
            Self::Endpoint(why, _) => why.label(),
        }
    }

    /// What a caller with no working token is told.
    fn into_error(self) -> IdentityError {
        let (why, wait) = match self {
            Self::Backoff(wait) => ("this user's last renewal failed", wait),
            Self::Endpoint(breaker::Held::Breaker, wait) => ("most recent token requests failed", wait),
            Self::Endpoint(breaker::Held::Throttled, wait) => ("the token endpoint is throttling this app", wait),
        };
        IdentityError::ProviderUnavailable(format!("renewals wait: {why}; next try in about {} s", wait.as_secs().max(1)))
    }
}

impl TokenAcquisition {
    /// Acquisition over `store`, talking to `provider` through `http`,
    /// authenticating with `credentials`.
    pub(crate) fn new(
        provider: Arc<ProviderCache>,
        store: Arc<dyn TokenCacheStore>,
        http: reqwest::Client,
        credentials: Arc<Credentials>,
        config: &crate::config::IdentityConfig,
    ) -> Self {
        Self {
            provider,
            store,
            http,
            credentials,
            scopes: ScopeNormaliser::for_graph(&config.graph),
            client_id: config.azure_ad.client_id.clone(),
            tenant_id: config.azure_ad.tenant_id.clone(),
            refresh_margin: config.token_cache.refresh_margin,
            client_capabilities: config.azure_ad.client_capabilities.clone(),
            instance: config.azure_ad.instance.to_string(),
            flights: Flights::default(),
            breaker: Breaker::default(),
        }
    }

    /// An access token for `user` covering `scopes`.
    pub async fn for_user(&self, user: &SignedInUser, scopes: &[String]) -> Result<AccessToken, IdentityError> {
        self.for_user_with(user, UserTokenOptions::new(scopes)).await
    }

    /// An access token for `user`: from the cache when a fresh one covers the
    /// scopes (and no refresh or claims were asked), else by redeeming the
    /// refresh token; concurrent callers for one user share one token
    /// request, in this process and (with a shared store) across instances.
    pub async fn for_user_with(&self, user: &SignedInUser, options: UserTokenOptions<'_>) -> Result<AccessToken, IdentityError> {
        let key = PartitionKey::User(user.home_account_id.clone());
        let wanted = self.scopes.normalise(options.scopes.iter().map(String::as_str));
        let use_cache = !options.force_refresh && options.claims.is_none();
        if let Some(tenant) = options.tenant {
            check_tenant(tenant)?;
        }
        if use_cache {
            let stored = self.store.load(&key).await?;
            if let Some(token) = self.covering(stored.as_ref(), &wanted, options.tenant) {
                return Ok(token);
            }
            // FLT-04: due for renewal while renewals wait; no store round trip, no request.
            if let Some(hold) = self.hold(&key, stored.as_ref()) {
                return self.past_renewal(stored.as_ref(), &wanted, options.tenant, hold);
            }
        }
        let waiting_since = Instant::now();
        let outcome = match self.flights.join(&key).await {
            // Waited too long for another renewal of this user's tokens: as an outage.
            Err(error) => Err(error),
            // FLT-01: the flight this caller waited for failed for a reason that holds
            // for everyone (the provider is down, refuses the app): the same answer,
            // not one more token request per waiter.
            Ok(flight) => match flight.failure_since(waiting_since) {
                Some(shared) => Err(shared),
                None => {
                    let outcome = self.renew(user, &key, &wanted, options, use_cache).await;
                    if let Err(error) = &outcome {
                        flight.record_failure(error);
                    }
                    outcome
                }
            },
        };
        match outcome {
            Err(IdentityError::ProviderUnavailable(why)) if use_cache => self.through_outage(&key, &wanted, options.tenant, why).await,
            outcome => outcome,
        }
    }

    /// The part of [`Self::for_user_with`] inside the flight: the cache again,
    /// then the cross-instance lock, then the refresh token.
    async fn renew(
        &self,
        user: &SignedInUser,
        key: &PartitionKey,
        wanted: &BTreeSet<String>,
        options: UserTokenOptions<'_>,
        use_cache: bool,
    ) -> Result<AccessToken, IdentityError> {
        // Whoever held the flight before us may have fetched what we need.
        let mut current = self.store.load_latest(key).await?;
        if use_cache {
            if let Some(token) = self.covering(current.as_ref(), wanted, options.tenant) {
                return Ok(token);
            }
        }
        if current.as_ref().is_none_or(|stored| stored.partition.refresh_token.is_none()) {
            return Err(no_refresh_token(options));
        }
        // Across instances: one of them renews, the others use what it stored.
        // Read again after the lock (held, or waited for in vain): another
        // instance may have renewed, and rotated the refresh token, meanwhile.
        let _lock = self.store.lock(key, LOCK_WAIT).await?;
        let before = current.as_ref().map(|stored| stored.etag);
        current = self.store.load_latest(key).await?;
        let renewed_meanwhile = current.as_ref().map(|stored| stored.etag) != before;
        if options.claims.is_none() && (use_cache || renewed_meanwhile) {
            if let Some(token) = self.covering(current.as_ref(), wanted, options.tenant) {
                return Ok(token);
            }
        }
        let Some(refresh_token) = current.as_ref().and_then(|stored| stored.partition.refresh_token.clone()) else {
            return Err(no_refresh_token(options));
        };
        // Another instance may have found the provider down meanwhile.
        let ticket = self.admit(current.as_ref())?;
        // A caller that skips the cache cannot be served the token it holds: it waits the full time.
        let timeout = if use_cache { renewal_timeout(current.as_ref(), wanted, options.tenant) } else { TOKEN_TIMEOUT };
        let provider = self.provider.get().await?;
        // A tenant override asks that tenant's token endpoint with the same client.
        let tenant_client = match options.tenant {
            Some(tenant) => Some(provider.client.clone().set_token_uri(
                TokenUrl::new(self.tenant_token_endpoint(tenant))
                    .map_err(|error| IdentityError::InvalidRequest(format!("bad token endpoint for tenant {tenant}: {error}")))?,
            )),
            None => None,
        };
        let token_endpoint = match &tenant_client {
            Some(client) => client.token_uri().as_str().to_owned(),
            None => token_url(&provider.client),
        };
        let claims = crate::protocol::claims::claims_request(options.claims, &self.client_capabilities);
        let build = || {
            let request = match &tenant_client {
                Some(client) => client.exchange_refresh_token(&refresh_token),
                None => provider
                    .client
                    .exchange_refresh_token(&refresh_token)
                    .map_err(|error| IdentityError::Misconfigured(format!("token endpoint not configured: {error}")))?,
            };
            let request = request.add_scopes(options.scopes.iter().cloned().map(Scope::new));
            Ok(match &claims {
                Some(claims) => request.add_extra_param("claims", claims.clone()),
                None => request,
            })
        };
        let response = match self.send_admitted(ticket, build, &token_endpoint, "refresh_token", timeout).await {
            Ok(response) => response,
            Err(TokenRequestFailure::NotSent(error)) => return Err(error),
            Err(TokenRequestFailure::Refused(refused)) => return Err(self.refused(key, current, wanted, options, &refused).await),
            Err(TokenRequestFailure::Unavailable(outage)) => {
                self.remember_outage(key, current, &outage).await;
                return Err(IdentityError::ProviderUnavailable(format!("refresh: {outage}")));
            }
            // The provider's answer, not the user's input, is at fault: an outage of the provider.
            Err(TokenRequestFailure::Malformed(why)) => {
                return Err(IdentityError::ProviderUnavailable(format!("refresh: the token endpoint's answer is malformed: {why}")))
            }
        };
        // A tenant override's ID token comes from another issuer and describes the
        // user's account there; idweb keeps only the home tenant's identity.
        if options.tenant.is_none() {
            if let Err(refused) = self.check_refreshed_identity(user, &response, &provider).await {
                return Err(self.refreshed_identity_refused(key, options, refused).await);
            }
        }
        self.store_in(key, current, &response, wanted, options.tenant, TokenSource::Refresh, Grant::Rotated).await
    }

    /// An app token (client credentials) for `scopes` (`{resource}/.default`),
    /// cached per tenant and scopes.
    pub async fn for_app(&self, scopes: &[String]) -> Result<AccessToken, IdentityError> {
        let key = PartitionKey::App { tenant_id: self.tenant_id.clone() };
        let wanted = self.scopes.normalise(scopes.iter().map(String::as_str));
        let stored = self.store.load(&key).await?;
        if let Some(token) = self.covering(stored.as_ref(), &wanted, None) {
            return Ok(token);
        }
        if let Some(hold) = self.hold(&key, stored.as_ref()) {
            return self.past_renewal(stored.as_ref(), &wanted, None, hold);
        }
        match self.app_token(&key, &wanted, scopes).await {
            Err(IdentityError::ProviderUnavailable(why)) => self.through_outage(&key, &wanted, None, why).await,
            outcome => outcome,
        }
    }

    /// The part of [`Self::for_app`] inside the flight.
    async fn app_token(&self, key: &PartitionKey, wanted: &BTreeSet<String>, scopes: &[String]) -> Result<AccessToken, IdentityError> {
        let _flight = self.flights.join(key).await?;
        let mut current = self.store.load_latest(key).await?;
        if let Some(token) = self.covering(current.as_ref(), wanted, None) {
            return Ok(token);
        }
        let _lock = self.store.lock(key, LOCK_WAIT).await?;
        current = self.store.load_latest(key).await?;
        if let Some(token) = self.covering(current.as_ref(), wanted, None) {
            return Ok(token);
        }
        let ticket = self.admit(current.as_ref())?;
        let timeout = renewal_timeout(current.as_ref(), wanted, None);
        let provider = self.provider.get().await?;
        let build = || {
            Ok(provider
                .client
                .exchange_client_credentials()
                .map_err(|error| IdentityError::Misconfigured(format!("token endpoint not configured: {error}")))?
                .add_scopes(scopes.iter().cloned().map(Scope::new)))
        };
        let response = match self.send_admitted(ticket, build, &token_url(&provider.client), "client_credentials", timeout).await {
            Ok(response) => response,
            Err(TokenRequestFailure::NotSent(error)) => return Err(error),
            Err(TokenRequestFailure::Refused(refused)) => {
                telemetry::provider_error(&refused.error);
                return Err(refused.into_error("the app token request"));
            }
            Err(TokenRequestFailure::Unavailable(outage)) => {
                self.remember_outage(key, current, &outage).await;
                return Err(IdentityError::ProviderUnavailable(format!("app token request: {outage}")));
            }
            Err(TokenRequestFailure::Malformed(why)) => return Err(IdentityError::ProviderUnavailable(format!("app token request: {why}"))),
        };
        self.store_in(key, current, &response, wanted, None, TokenSource::ClientCredentials, Grant::Rotated).await
    }

    /// Drops `user`'s cached access tokens for `scopes` (a downstream API
    /// said they no longer satisfy it); the refresh token stays.
    pub(crate) async fn forget_access_tokens(&self, user: &SignedInUser, scopes: &[String]) -> Result<(), IdentityError> {
        let key = PartitionKey::User(user.home_account_id.clone());
        let scopes = self.scopes.normalise(scopes.iter().map(String::as_str));
        self.drop_access_tokens(&key, |cached| !cached.scopes.is_disjoint(&scopes)).await.map(|_| ())
    }

    /// Drops `token` from the cache of `user` (`None`: the app's own
    /// tokens) because an API refused it (FLT-05); a token another request
    /// has put in its place meanwhile stays. Whether it was still cached.
    pub(crate) async fn forget_refused(&self, user: Option<&SignedInUser>, token: &AccessToken) -> Result<bool, IdentityError> {
        let key = match user {
            Some(user) => PartitionKey::User(user.home_account_id.clone()),
            None => PartitionKey::App { tenant_id: self.tenant_id.clone() },
        };
        self.drop_access_tokens(&key, |cached| cached.token.secret() == token.secret()).await
    }

    /// Drops the access tokens of `key`'s partition that `dropped` picks, inside
    /// the flight (a renewal finishing now cannot write them back); whether any
    /// was. An unchanged partition costs no store write.
    async fn drop_access_tokens(&self, key: &PartitionKey, dropped: impl Fn(&CachedAccessToken) -> bool) -> Result<bool, IdentityError> {
        let _flight = self.flights.join(key).await?;
        let current = self.store.load_latest(key).await?;
        let Some(stored) = &current else { return Ok(false) };
        let mut partition = stored.partition.clone();
        partition.access_tokens.retain(|cached| !dropped(cached));
        if partition.access_tokens.len() == stored.partition.access_tokens.len() {
            return Ok(false);
        }
        self.update(key, current, partition).await?;
        Ok(true)
    }

    /// Which grant `user`'s tokens come from (`None`: the app, always 0):
    /// one more with each sign-in, the same across refreshes.
    pub(crate) async fn grant_generation(&self, user: Option<&SignedInUser>) -> Result<u64, IdentityError> {
        let Some(user) = user else { return Ok(0) };
        let stored = self.store.load(&PartitionKey::User(user.home_account_id.clone())).await?;
        Ok(stored.map_or(0, |stored| stored.partition.grant_generation))
    }

    /// Removes everything cached for `user` (sign-out, OUT-01).
    pub async fn remove_user(&self, user: &SignedInUser) -> Result<bool, IdentityError> {
        self.remove_account(&user.home_account_id).await
    }

    /// Removes everything cached for the account (a logout from the provider, OUT-02/03).
    pub(crate) async fn remove_account(&self, account: &crate::user::HomeAccountId) -> Result<bool, IdentityError> {
        let key = PartitionKey::User(account.clone());
        // Inside the flight: a refresh finishing now must not save the partition back.
        let _flight = self.flights.join(&key).await?;
        Ok(self.store.remove(&key).await?)
    }

    /// What is cached for `user` (diagnostics: scopes and expiry, never shown as token values).
    pub async fn partition(&self, user: &SignedInUser) -> Result<Option<TokenPartition>, IdentityError> {
        let stored = self.store.load(&PartitionKey::User(user.home_account_id.clone())).await?;
        Ok(stored.map(|stored| stored.partition))
    }

    /// How scopes are compared (the configured Graph's resource prefix dropped).
    pub fn scopes(&self) -> &ScopeNormaliser {
        &self.scopes
    }

    /// The token cache store.
    pub(crate) fn store(&self) -> &Arc<dyn TokenCacheStore> {
        &self.store
    }

    /// Sends the token request `build` makes, authenticated with the app's
    /// credential (a client assertion for `token_endpoint` when it uses one).
    /// When the token endpoint refuses the credential as unknown or expired
    /// (a rotated certificate), the credential is loaded again and the
    /// request sent once more; a second refusal is the answer.
    async fn send_authenticated<R: TokenRequest>(
        &self,
        build: impl Fn() -> Result<R, IdentityError>,
        token_endpoint: &str,
        grant: &'static str,
        timeout: Duration,
    ) -> Result<MicrosoftTokenResponse, TokenRequestFailure> {
        let mut credential = self.credentials.current();
        let mut reloaded = false;
        loop {
            let request = build().map_err(TokenRequestFailure::NotSent)?;
            let request = match credential.client_assertion(&self.client_id, token_endpoint).await {
                Ok(Some(assertion)) => request.extra("client_assertion_type", JWT_BEARER.to_owned()).extra("client_assertion", assertion),
                Ok(None) => request,
                Err(error) => return Err(TokenRequestFailure::NotSent(error.into())),
            };
            match token_endpoint::send(request, &self.http, grant, timeout).await {
                Err(TokenRequestFailure::Refused(refused)) if !reloaded && refused.rejects_client_credential() => {
                    tracing::warn!(error = %refused, "the token endpoint refused the app's credential; loading it again");
                    match self.credentials.reload(&credential).await {
                        Some(fresh) => {
                            credential = fresh;
                            reloaded = true;
                        }
                        None => return Err(TokenRequestFailure::Refused(refused)),
                    }
                }
                outcome => return outcome,
            }
        }
    }

    /// [`Self::send_authenticated`] on a breaker's ticket, which learns how it went.
    async fn send_admitted<R: TokenRequest>(
        &self,
        ticket: Ticket,
        build: impl Fn() -> Result<R, IdentityError>,
        token_endpoint: &str,
        grant: &'static str,
        timeout: Duration,
    ) -> Result<MicrosoftTokenResponse, TokenRequestFailure> {
        let outcome = self.send_authenticated(build, token_endpoint, grant, timeout).await;
        match &outcome {
            Ok(_) | Err(TokenRequestFailure::Refused(_) | TokenRequestFailure::Malformed(_)) => ticket.report(Outcome::Answered),
            Err(TokenRequestFailure::Unavailable(outage)) => {
                let throttled_for = if outage.throttled { outage.retry_after } else { None };
                ticket.report(Outcome::Outage { throttled_for })
            }
            // Nothing reached the endpoint: nothing learnt about it.
            Err(TokenRequestFailure::NotSent(_)) => drop(ticket),
        }
        outcome
    }

    /// Redeems an authorization code (sign-in). A person is waiting: an
    /// open breaker does not hold it, and a 429's pause holds it only for
    /// a few seconds (FLT-04).
    pub(crate) async fn redeem_code<R: TokenRequest>(
        &self,
        build: impl Fn() -> Result<R, IdentityError>,
        token_endpoint: &str,
    ) -> Result<MicrosoftTokenResponse, TokenRequestFailure> {
        let ticket = match self.breaker.admit_sign_in(SIGN_IN_THROTTLE_WAIT).await {
            Ok(ticket) => ticket,
            Err(wait) => {
                telemetry::renewal_deferred(breaker::Held::Throttled.label());
                let why = format!("the token endpoint asked this app to wait {} s", wait.as_secs());
                return Err(TokenRequestFailure::Unavailable(Outage { why, retry_after: Some(wait), throttled: true }));
            }
        };
        self.send_admitted(ticket, build, token_endpoint, "authorization_code", TOKEN_TIMEOUT).await
    }

    /// Why renewing `stored` waits now, if it does: its own back-off, or the
    /// endpoint's breaker (looked at, no probe taken). A partition with no
    /// refresh token never waits: there is nothing to renew with.
    fn hold(&self, key: &PartitionKey, stored: Option<&Versioned>) -> Option<Hold> {
        let partition = &stored?.partition;
        if matches!(key, PartitionKey::User(_)) && partition.refresh_token.is_none() {
            return None;
        }
        backoff_hold(stored).or_else(|| self.breaker.holding().map(|(why, wait)| Hold::Endpoint(why, wait)))
    }

    /// The breaker's ticket to renew `current`, unless its back-off or the
    /// breaker holds the renewal (then a `ProviderUnavailable` the caller
    /// answers by serving a working token, FLT-04).
    fn admit(&self, current: Option<&Versioned>) -> Result<Ticket, IdentityError> {
        let hold = match backoff_hold(current) {
            Some(hold) => hold,
            None => match self.breaker.admit_renewal() {
                Admission::Go(ticket) => return Ok(ticket),
                Admission::Wait { why, retry_in } => Hold::Endpoint(why, retry_in),
            },
        };
        telemetry::renewal_deferred(hold.label());
        Err(hold.into_error())
    }

    /// What a caller whose renewal is held gets: the token due for renewal
    /// while it still works, else the reason.
    fn past_renewal(&self, stored: Option<&Versioned>, wanted: &BTreeSet<String>, tenant: Option<&str>, hold: Hold) -> Result<AccessToken, IdentityError> {
        telemetry::renewal_deferred(hold.label());
        match self.usable(stored, wanted, tenant) {
            Some(token) => Ok(token),
            None => Err(hold.into_error()),
        }
    }

    /// A renewal failed for an outage (`why`): the token due for renewal if
    /// it still works, else the outage.
    async fn through_outage(&self, key: &PartitionKey, wanted: &BTreeSet<String>, tenant: Option<&str>, why: String) -> Result<AccessToken, IdentityError> {
        let stored = match self.store.load(key).await {
            Ok(stored) => stored,
            Err(_) => return Err(IdentityError::ProviderUnavailable(why)),
        };
        self.usable(stored.as_ref(), wanted, tenant).ok_or(IdentityError::ProviderUnavailable(why))
    }

    /// A token past its renewal time that still works, counted as served so.
    fn usable(&self, stored: Option<&Versioned>, wanted: &BTreeSet<String>, tenant: Option<&str>) -> Option<AccessToken> {
        let usable = stored?.partition.access_token_usable(wanted, tenant, SystemTime::now(), SERVE_PAST_RENEWAL_SAFETY)?;
        telemetry::served_past_renewal();
        tracing::debug!("the provider cannot renew a token now; serving it until it expires");
        Some(usable.token.clone())
    }

    /// Remembers in the partition that its renewal failed for `outage`, so
    /// that neither this instance nor another renews it before its back-off
    /// ends (FLT-04). A failed write is logged: the breaker still bounds
    /// the requests.
    async fn remember_outage(&self, key: &PartitionKey, current: Option<Versioned>, outage: &Outage) {
        let Some(stored) = current.as_ref() else { return };
        let mut partition = stored.partition.clone();
        let backoff = backoff::after_failure(partition.renewal_backoff, outage.retry_after, SystemTime::now());
        partition.renewal_backoff = Some(backoff);
        let wait = backoff.not_before.duration_since(SystemTime::now()).unwrap_or_default();
        tracing::info!(failures = backoff.failures, wait_s = wait.as_secs(), error = %outage, "a token renewal failed for an outage; this partition waits");
        if let Err(error) = self.update(key, current, partition).await {
            tracing::debug!(error = %error_chain(&error), "could not record the renewal back-off");
        }
    }

    /// Publishes the token endpoint breaker's state (for a metrics scrape).
    pub(crate) fn record_gauges(&self) {
        self.breaker.record_gauge();
    }

    /// Caches the tokens of a code redemption for `user` (sign-in) and returns the access token.
    pub(crate) async fn store_response(
        &self,
        user: &SignedInUser,
        response: &MicrosoftTokenResponse,
        requested: &BTreeSet<String>,
    ) -> Result<AccessToken, IdentityError> {
        let key = PartitionKey::User(user.home_account_id.clone());
        let _flight = self.flights.join(&key).await?;
        let current = match self.store.load_latest(&key).await {
            Ok(current) => current,
            // A new grant replaces an entry this instance cannot read (sealed with a
            // key it lacks, or written by another version): the user just signed in here.
            Err(error) => match error.unreadable_entry() {
                Some(etag) => {
                    tracing::warn!(error = %error_chain(&error), "replacing an unreadable token cache entry with a new sign-in");
                    Some(Versioned { partition: TokenPartition::default(), etag, tier: crate::cache::CacheTier::Shared })
                }
                None => return Err(error.into()),
            },
        };
        self.store_in(&key, current, response, requested, None, TokenSource::AuthorizationCode, Grant::New).await
    }

    fn tenant_token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.instance.trim_end_matches('/'))
    }

    fn covering(&self, stored: Option<&Versioned>, wanted: &BTreeSet<String>, tenant: Option<&str>) -> Option<AccessToken> {
        let stored = stored?;
        let hit = stored.partition.access_token_covering(wanted, tenant, SystemTime::now(), self.refresh_margin)?;
        telemetry::token_served(stored.tier.label());
        Some(hit.token.clone())
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_in(
        &self,
        key: &PartitionKey,
        current: Option<Versioned>,
        response: &MicrosoftTokenResponse,
        requested: &BTreeSet<String>,
        tenant: Option<&str>,
        source: TokenSource,
        grant: Grant,
    ) -> Result<AccessToken, IdentityError> {
        let mut partition = current.as_ref().map(|stored| stored.partition.clone()).unwrap_or_default();
        // Microsoft returns the granted scopes; fall back to what was asked.
        let granted = response
            .scopes()
            .map(|scopes| self.scopes.normalise(scopes.iter().map(|scope| scope.as_str())))
            .filter(|granted| !granted.is_empty())
            .unwrap_or_else(|| requested.clone());
        let now = SystemTime::now();
        // Provider numbers are bounded before any arithmetic: a day is longer than any access token lives.
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600)).min(MAX_TOKEN_LIFETIME);
        let refresh_in = response.extra_fields().extra_fields().refresh_in.map(|secs| Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME));
        let access_token = response.access_token().clone();
        partition.put_access_token(CachedAccessToken {
            scopes: granted,
            token: access_token.clone(),
            expires_at: now + lifetime,
            refresh_on: refresh_in.map(|after| now + after),
            tenant: tenant.map(str::to_owned),
        });
        if let Some(rotated) = response.refresh_token() {
            partition.refresh_token = Some(rotated.clone());
            if grant == Grant::New {
                partition.grant_generation += 1;
            }
        }
        partition.last_source = Some(source);
        // A renewal that worked ends any wait an earlier outage set.
        partition.renewal_backoff = None;
        self.update(key, current, partition).await?;
        telemetry::token_served(source.metric_label());
        tracing::info!(source = ?source, "tokens cached");
        Ok(access_token)
    }

    /// Writes `ours`, computed from `base`; when another writer got there
    /// first, folds our changes into what it wrote and tries again.
    async fn update(&self, key: &PartitionKey, mut base: Option<Versioned>, mut ours: TokenPartition) -> Result<(), IdentityError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let expected = base.as_ref().map(|stored| stored.etag);
            if let SaveOutcome::Saved(_) = self.store.save(key, &ours, expected).await? {
                return Ok(());
            }
            let latest = self.store.load_latest(key).await?;
            let base_partition = base.as_ref().map(|stored| &stored.partition);
            match merge(base_partition, &ours, latest.as_ref().map(|stored| &stored.partition)) {
                Some(merged) => ours = merged,
                None => {
                    tracing::info!("the partition was removed while tokens were being renewed; not stored again");
                    return Ok(());
                }
            }
            base = latest;
        }
        tracing::warn!("the token cache partition kept changing under this write; it was not stored");
        Ok(())
    }

    /// RT-03: what a refused refresh removes, and the error the caller gets.
    async fn refused(
        &self,
        key: &PartitionKey,
        current: Option<Versioned>,
        wanted: &BTreeSet<String>,
        options: UserTokenOptions<'_>,
        refused: &MicrosoftErrorResponse,
    ) -> IdentityError {
        let refusal = refused.refusal();
        telemetry::provider_error(&refused.error);
        tracing::warn!(error = %refused, ?refusal, "silent token request refused");
        // A refusal from another tenant, or one that asks for claims, says nothing
        // about the home grant: only a plain refusal at home kills the refresh token.
        let home_grant_dead = refusal == Refusal::GrantDead && options.tenant.is_none() && refused.claims.is_none();
        let mut partition = current.as_ref().map(|stored| stored.partition.clone()).unwrap_or_default();
        match refusal {
            Refusal::GrantDead if home_grant_dead => {
                partition.refresh_token = None;
                partition.forget_access_tokens(wanted);
            }
            Refusal::GrantDead => partition.forget_access_tokens(wanted),
            Refusal::ScopesNeedUser => partition.forget_access_tokens(wanted),
            Refusal::Other => return refused.into_error("the refresh"),
        }
        if let Err(error) = self.update(key, current, partition).await {
            tracing::warn!(error = %error_chain(&error), "could not evict refused tokens");
        }
        IdentityError::InteractionRequired {
            scopes: options.scopes.to_vec(),
            claims: refused.claims.clone().or_else(|| options.claims.map(str::to_owned)),
            reason: format!("the provider refused the refresh ({refused})"),
        }
    }

    /// RT-02: the refresh token just gave an ID token that fails its checks
    /// (another user, a bad signature): the grant is no longer trusted. The
    /// user's partition goes, refresh token and all, and the user signs in
    /// again; nothing of this response is stored.
    async fn refreshed_identity_refused(&self, key: &PartitionKey, options: UserTokenOptions<'_>, refused: IdentityError) -> IdentityError {
        if let Err(error) = self.store.remove(key).await {
            tracing::error!(error = %error_chain(&error), "could not drop the tokens of a refused refresh; they stay until the user signs in again");
        }
        IdentityError::InteractionRequired {
            scopes: options.scopes.to_vec(),
            claims: None,
            reason: format!("the refreshed ID token was refused ({refused}); the cached tokens were dropped"),
        }
    }

    /// A refreshed ID token must describe the same user (RT-02); refreshed
    /// ID tokens carry no nonce, so none is required.
    async fn check_refreshed_identity(&self, user: &SignedInUser, response: &MicrosoftTokenResponse, provider: &Arc<Provider>) -> Result<(), IdentityError> {
        let Some(id_token) = response.extra_fields().id_token() else { return Ok(()) };
        let no_nonce = |_: Option<&Nonce>| Ok(());
        let claims = self.provider.verify_token_response(provider, id_token, no_nonce, response.access_token()).await?;
        let same_user = provider.profile.same_user(&claims, user);
        if same_user {
            Ok(())
        } else {
            tracing::warn!(target: "idweb::security", "refreshed ID token names another user; nothing stored");
            Err(IdentityError::IdTokenRejected("refreshed ID token is for a different user".into()))
        }
    }
}

/// Whether a token response starts a new grant (code redemption) or continues one (refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    New,
    Rotated,
}

/// How long a renewal waits for the token endpoint: not long when the
/// partition holds a token that still works (it is served if the renewal
/// fails), the full time otherwise.
fn renewal_timeout(current: Option<&Versioned>, wanted: &BTreeSet<String>, tenant: Option<&str>) -> Duration {
    let holds_working_token = current
        .is_some_and(|stored| stored.partition.access_token_usable(wanted, tenant, SystemTime::now(), SERVE_PAST_RENEWAL_SAFETY).is_some());
    if holds_working_token {
        PROACTIVE_RENEWAL_TIMEOUT
    } else {
        TOKEN_TIMEOUT
    }
}

/// The wait `stored`'s own back-off still asks for, if any.
fn backoff_hold(stored: Option<&Versioned>) -> Option<Hold> {
    let now = SystemTime::now();
    let backoff = stored?.partition.renewal_backoff.filter(|backoff| backoff.holds_at(now))?;
    Some(Hold::Backoff(backoff.not_before.duration_since(now).unwrap_or_default()))
}

fn no_refresh_token(options: UserTokenOptions<'_>) -> IdentityError {
    IdentityError::InteractionRequired {
        scopes: options.scopes.to_vec(),
        claims: options.claims.map(str::to_owned),
        reason: "no refresh token is cached for this user".into(),
    }
}

/// A tenant named in a tenant override: a GUID or domain, nothing that could bend a URL.
fn check_tenant(tenant: &str) -> Result<(), IdentityError> {
    let label = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let acceptable = tenant.len() <= 100 && tenant.split('.').all(label);
    if acceptable {
        Ok(())
    } else {
        Err(IdentityError::InvalidRequest(format!("{tenant:?} is not a tenant id or domain")))
    }
}

