//! The session policy: who is signed in, and when a session ends (SES-02).

use std::time::Duration;

use tower_sessions::Session;

use super::signin;
use super::Identity;
use crate::clock::unix_seconds;
use crate::error::IdentityError;
use crate::user::SignedInUser;

/// Session key of the signed-in user.
pub(crate) const USER_KEY: &str = "idweb.user";
/// Session key of the last recorded activity (seconds since the epoch).
pub(crate) const ACTIVITY_KEY: &str = "idweb.active_at";
/// How stale the recorded activity may get before a request writes it:
/// the idle timeout slides in steps this long, with one session write per
/// step instead of one per request.
pub const ACTIVITY_GRANULARITY: Duration = Duration::from_secs(60);

impl Identity {
    /// The signed-in user of this session, if any (SES-02, both enforced here,
    /// on the server):
    /// - a session idle longer than `Session:IdleTimeoutMinutes` is ended;
    ///   every authenticated request counts as activity and slides the idle
    ///   timeout (the session is written, and its cookie renewed, at most once
    ///   per [`ACTIVITY_GRANULARITY`], not on every request);
    /// - a session older than `Session:AbsoluteTimeoutMinutes` since sign-in
    ///   is ended however active it was.
    pub async fn user(&self, session: &Session) -> Result<Option<SignedInUser>, IdentityError> {
        let Some(user) = session.get::<SignedInUser>(USER_KEY).await? else {
            return Ok(None);
        };
        if user.signed_in_for() > self.config().session.absolute_timeout {
            session.flush().await?;
            tracing::info!("session ended: absolute lifetime reached");
            return Ok(None);
        }
        let now = unix_seconds();
        let active_at = session.get::<u64>(ACTIVITY_KEY).await?.unwrap_or(user.signed_in_at);
        let idle = now.saturating_sub(active_at);
        if idle > u64::from(self.config().session.idle_timeout_minutes) * 60 {
            session.flush().await?;
            tracing::info!("session ended: idle timeout reached");
            return Ok(None);
        }
        if idle >= ACTIVITY_GRANULARITY.as_secs() {
            // Modifying the session makes the session layer save it with a new
            // expiry and send the cookie again with a fresh Max-Age.
            session.insert(ACTIVITY_KEY, now).await?;
        }
        Ok(Some(user))
    }

    /// Where to send the user so the provider grants `scopes` and answers
    /// `claims` (a challenge this server received), returning to `return_to`:
    /// the claims are kept in `session` and the link names them by id (AUTHZ-05).
    pub async fn sign_in_request(
        &self,
        session: &Session,
        return_to: &str,
        scopes: &[String],
        claims: Option<&str>,
    ) -> Result<signin::SignInRequest, IdentityError> {
        let challenge = match claims {
            Some(claims) => Some(signin::challenges::remember(session, claims).await?),
            None => None,
        };
        Ok(signin::SignInRequest { return_to: signin::safe_return_path(Some(return_to)), scopes: scopes.to_vec(), challenge, interactive: false })
    }
}
