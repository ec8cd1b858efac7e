//! One token request in flight per partition, in this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::PartitionKey;
use crate::error::IdentityError;

/// One token request in flight per partition: callers for the same user
/// wait for it (at most [`FLIGHT_WAIT`]) and then find its result in the
/// cache, or share its failure; other users never wait.
#[derive(Default)]
pub(super) struct Flights {
    slots: Mutex<HashMap<PartitionKey, Arc<FlightSlot>>>,
}

/// A partition's flight: the right to send its token request, and how the
/// last one failed.
#[derive(Default)]
struct FlightSlot {
    turn: Arc<tokio::sync::Mutex<()>>,
    last_failure: Mutex<Option<(Instant, SharedFailure)>>,
}

/// Longest a caller waits for another request renewing the same user's
/// tokens (a token request, the cross-instance lock and a store write fit).
const FLIGHT_WAIT: Duration = Duration::from_secs(40);

/// A failure that is the same for every caller of a partition (the provider
/// is down, or refuses the app), kept for those who waited for it.
#[derive(Clone)]
enum SharedFailure {
    ProviderUnavailable(String),
    AppRequestRefused(String),
}

impl SharedFailure {
    fn of(error: &IdentityError) -> Option<Self> {
        match error {
            IdentityError::ProviderUnavailable(why) => Some(Self::ProviderUnavailable(why.clone())),
            IdentityError::AppRequestRefused(why) => Some(Self::AppRequestRefused(why.clone())),
            _ => None,
        }
    }

    fn into_error(self) -> IdentityError {
        match self {
            Self::ProviderUnavailable(why) => IdentityError::ProviderUnavailable(why),
            Self::AppRequestRefused(why) => IdentityError::AppRequestRefused(why),
        }
    }
}

/// Held while a caller owns a partition's flight; releasing it lets the next one in.
pub(super) struct FlightGuard<'a> {
    flights: &'a Flights,
    key: PartitionKey,
    slot: Arc<FlightSlot>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl Flights {
    pub(super) async fn join(&self, key: &PartitionKey) -> Result<FlightGuard<'_>, IdentityError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };
        let turn = match tokio::time::timeout(FLIGHT_WAIT, slot.turn.clone().lock_owned()).await {
            Ok(turn) => turn,
            Err(_) => {
                // Leaves the slot to the others (dropping our reference below).
                self.release(key, &slot);
                return Err(IdentityError::ProviderUnavailable("another request is still renewing this user's tokens".into()));
            }
        };
        Ok(FlightGuard { flights: self, key: key.clone(), slot, _turn: turn })
    }

    /// Forgets `key`'s slot when nobody else holds it.
    fn release(&self, key: &PartitionKey, slot: &Arc<FlightSlot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The map's reference and the caller's: nobody waits, so the entry can go.
        if slots.get(key).is_some_and(|held| Arc::ptr_eq(held, slot)) && Arc::strong_count(slot) <= 2 {
            slots.remove(key);
        }
    }
}

impl FlightGuard<'_> {
    /// The failure of a flight that ended after `since` (while this caller waited), as this caller's.
    pub(super) fn failure_since(&self, since: Instant) -> Option<IdentityError> {
        let last = self.slot.last_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        last.as_ref().filter(|(at, _)| *at >= since).map(|(_, failure)| failure.clone().into_error())
    }

    /// Keeps `error` for the callers waiting now, if it holds for them too.
    pub(super) fn record_failure(&self, error: &IdentityError) {
        if let Some(failure) = SharedFailure::of(error) {
            *self.slot.last_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), failure));
        }
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.flights.release(&self.key, &self.slot);
    }
}
